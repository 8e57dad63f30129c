"""Internal pricing: a price backend (I/O, looked up by the modify service) and a pure repricing modifier."""

from __future__ import annotations

from typing import Any

from ..domain.models import Channel, Session
from ..domain.ops import OpContext
from ..domain.registry import Registry
from ..domain.totals import reprice


class ChannelPriceList:
    """Default price source: the channel's own `config.pricing.prices` map of sku -> unit_price_q.

    A catalog service registers itself as the ("pricing", "default") backend to replace it.
    """

    def prices_for(self, channel: Channel, skus: list[str]) -> dict[str, int]:
        pricing: Any = getattr(channel.config, "pricing", None) or {}
        prices = pricing.get("prices", {}) if isinstance(pricing, dict) else {}
        return {sku: int(prices[sku]) for sku in skus if isinstance(prices.get(sku), int)}


def internal_pricing(session: Session, channel: Channel, ctx: OpContext) -> None:
    """Keeps internal-channel lines at the current listed price; never touches external channels (I4)
    or lines whose price was overridden (I5)."""
    if channel.pricing_policy != "internal":
        return
    for line in session.items:
        listed = ctx.prices.get(line.sku)
        if not line.price_overridden and listed is not None and listed != line.unit_price_q:
            reprice(line, listed)


def register(registry: Registry) -> None:
    registry.register_backend("pricing", "default", ChannelPriceList())
    registry.register_modifier("pricing.internal", order=10)(internal_pricing)
