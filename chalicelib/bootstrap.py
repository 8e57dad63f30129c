"""Builds the process's Hub: settings (fail fast), registry with the bundled contrib modules, stores."""

from __future__ import annotations

from functools import lru_cache

from .config import load_settings
from .contrib import notifications, pricing, stock
from .domain.registry import registry
from .observability import register_metrics
from .services.hub import Hub, build_hub

pricing.register(registry)
notifications.register(registry)
stock.register(registry)
register_metrics(registry)


@lru_cache(maxsize=1)
def hub() -> Hub:
    settings = load_settings()
    notifications.register_webhook(registry, settings.webhook_secret)
    built = build_hub(settings, registry)
    pricing.register_catalog(registry, built.inventory.store)
    return built
