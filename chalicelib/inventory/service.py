"""Inventory use cases: stores, products, counted stock, and the hold sweeper."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..domain.clock import now_iso
from ..domain.errors import NotFound
from ..domain.models import Code
from ..services.hub import Hub
from ..services.validation import parse
from .backend import When
from .models import SKU_PATTERN, OnHandBody, Product, ProductBody, StockLevel, Store, StoreBody

SWEEP_BATCH = 500
_CODE = TypeAdapter(Code)


def create_store(hub: Hub, body: Any) -> Store:
    req = parse(StoreBody, body)
    store = Store(code=req.code, name=req.name, location=req.location, created_at=now_iso())
    hub.inventory.store.create_store(store)
    return store


def get_store(hub: Hub, code: str) -> Store:
    store = hub.inventory.store.get_store(code) if _is_code(code) else None
    if store is None:
        raise NotFound(f"store {code!r} does not exist", code="store_not_found")
    return store


def create_product(hub: Hub, body: Any) -> Product:
    req = parse(ProductBody, body)
    product = Product(sku=req.sku, name=req.name, price_q=req.price_q, category=req.category,
                      created_at=now_iso())
    hub.inventory.store.create_product(product)
    return product


def get_product(hub: Hub, sku: str) -> Product:
    product = hub.inventory.store.get_product(sku) if SKU_PATTERN.fullmatch(sku) else None
    if product is None:
        raise NotFound(f"product {sku!r} does not exist", code="product_not_found")
    return product


def set_on_hand(hub: Hub, store_code: str, sku: str, body: Any) -> StockLevel:
    req = parse(OnHandBody, body)
    get_store(hub, store_code)
    get_product(hub, sku)
    return hub.inventory.stock.set_on_hand(store_code, sku, req.on_hand)


def get_stock(hub: Hub, store_code: str, sku: str) -> StockLevel:
    if not (_is_code(store_code) and SKU_PATTERN.fullmatch(sku)):
        raise NotFound(f"store {store_code!r} has no stock of {sku!r}", code="stock_not_found")
    return hub.inventory.stock.get_stock(store_code, sku)


def sweep_expired_holds(hub: Hub, now: When = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Gives expired holds' stock back. Reads never wait for it (an expired hold already counts as released);
    it keeps `reserved` honest and the live-hold indexes small."""
    return {"released": hub.inventory.stock.release_expired(now, limit)}


def _is_code(value: str) -> bool:
    try:
        _CODE.validate_python(value)
    except ValidationError:
        return False
    return True
