"""Builds the process's Hub: settings (fail fast), registry with the bundled contrib modules, stores."""

from __future__ import annotations

from functools import lru_cache

from .startup import collector_paused

# These imports and hub() are most of a cold start: both run without the collector (chalicelib/startup.py says why).
with collector_paused():
    from .config import load_settings
    from .contrib import notifications, payments, pricing, stock
    from .domain.registry import registry
    from .observability import register_metrics
    from .secrets import WEBHOOK
    from .services import search, subscriptions
    from .services.hub import Hub, build_hub

    pricing.register(registry)
    notifications.register(registry)
    stock.register(registry)
    payments.register(registry)
    search.register(registry)
    subscriptions.register(registry)
    register_metrics(registry)


@lru_cache(maxsize=1)
def hub() -> Hub:
    with collector_paused():
        built = build_hub(load_settings(), registry)
        notifications.register_webhook(registry, lambda: built.secrets.get(WEBHOOK))
        pricing.register_catalog(registry, built.inventory.store)
    return built
