"""Internal pricing: a price backend (I/O, looked up by the modify service) and a pure repricing modifier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from ..domain.models import Channel, MoneyQ, Session
from ..domain.registry import Registry
from ..domain.totals import reprice
from ..inventory.store import InventoryStore

if TYPE_CHECKING:
    from ..domain.ops import OpContext

_price: TypeAdapter[int] = TypeAdapter(MoneyQ, config=ConfigDict(defer_build=True))  # built on first use


def _is_price(value: Any) -> bool:
    # What a line can carry (strict: `true` is no price, nor is a negative or absurd one); anything else is skipped.
    try:
        _price.validate_python(value)
    except ValidationError:
        return False
    return True


class ChannelPriceList:
    """A channel's own `config.pricing.prices` map of sku -> unit_price_q."""

    def prices_for(self, channel: Channel, skus: list[str]) -> dict[str, int]:
        pricing: Any = getattr(channel.config, "pricing", None) or {}
        prices = pricing.get("prices", {}) if isinstance(pricing, dict) else {}
        if not isinstance(prices, dict):  # free-form channel config: a list here names no prices
            return {}
        return {sku: prices[sku] for sku in skus if _is_price(prices.get(sku))}


class CatalogPrices:
    """Default price source: the channel's price list where it names the sku, else the catalog's `price_q`.

    Register another ("pricing", "default") backend (an ERP, a promotions engine) to replace it.
    """

    def __init__(self, catalog: InventoryStore):
        self.catalog = catalog
        self.channel_prices = ChannelPriceList()

    def prices_for(self, channel: Channel, skus: list[str]) -> dict[str, int]:
        prices = self.channel_prices.prices_for(channel, skus)
        rest = [sku for sku in skus if sku not in prices]
        if rest:
            prices |= {sku: product.price_q for sku, product in self.catalog.products(rest).items()}
        return prices


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


def register_catalog(registry: Registry, catalog: InventoryStore) -> None:
    registry.register_backend("pricing", "default", CatalogPrices(catalog))
