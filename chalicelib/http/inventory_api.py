"""Inventory route adapters: request -> service call -> response. No catalog or stock rules live here."""

from __future__ import annotations

from chalice.app import Request, Response

from ..inventory import service
from ..inventory.models import Product, StockLevel
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint


def _page(request: Request) -> tuple[int, str | None]:
    return clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor")


# --- stores -------------------------------------------------------------------


@endpoint
def create_store(request: Request, hub: Hub) -> Response:
    return wire.respond(service.create_store(hub, wire.body(request)).model_dump(mode="json"), 201)


@endpoint
def get_store(request: Request, hub: Hub, code: str) -> Response:
    return wire.respond(service.get_store(hub, code).model_dump(mode="json"))


@endpoint
def list_stores(request: Request, hub: Hub) -> Response:
    result = service.list_stores(hub, *_page(request))
    return wire.page(result.items, result.next_cursor)


# --- categories ---------------------------------------------------------------


@endpoint
def create_category(request: Request, hub: Hub) -> Response:
    return wire.respond(service.create_category(hub, wire.body(request)).model_dump(mode="json"), 201)


@endpoint
def get_category(request: Request, hub: Hub, category_id: str) -> Response:
    return wire.respond(service.get_category(hub, category_id).model_dump(mode="json"))


@endpoint
def list_categories(request: Request, hub: Hub) -> Response:
    result = service.list_categories(hub, *_page(request))
    return wire.page(result.items, result.next_cursor)


# --- products -----------------------------------------------------------------


def _product(product: Product, status: int = 200) -> Response:
    # The version as ETag: what a PUT sends back as If-Match.
    return wire.respond(product.model_dump(mode="json"), status, {"ETag": f'"{product.version}"'})


@endpoint
def create_product(request: Request, hub: Hub) -> Response:
    return _product(service.create_product(hub, wire.body(request)), 201)


@endpoint
def get_product(request: Request, hub: Hub, sku: str) -> Response:
    return _product(service.get_product(hub, sku))


@endpoint
def put_product(request: Request, hub: Hub, sku: str) -> Response:
    return _product(service.replace_product(hub, sku, wire.body(request), wire.if_match(request)))


@endpoint
def list_products(request: Request, hub: Hub) -> Response:
    result = service.list_products(hub, wire.query(request, "category"), wire.query(request, "min_price_q"),
                                   wire.query(request, "max_price_q"), *_page(request))
    return wire.page(result.items, result.next_cursor)


# --- stock --------------------------------------------------------------------


@endpoint
def put_stock(request: Request, hub: Hub, store_code: str, sku: str) -> Response:
    return _stock(service.set_on_hand(hub, store_code, sku, wire.body(request)))


@endpoint
def get_stock(request: Request, hub: Hub, store_code: str, sku: str) -> Response:
    return _stock(service.get_stock(hub, store_code, sku))


@endpoint
def post_stock(request: Request, hub: Hub) -> Response:
    row, created = service.set_stock(hub, wire.body(request))
    return wire.respond(row.model_dump(mode="json"), 201 if created else 200)


@endpoint
def list_stock(request: Request, hub: Hub) -> Response:
    result = service.list_stock(hub, wire.query(request, "store"), wire.query(request, "sku"),
                                wire.query(request, "low_stock"), *_page(request))
    return wire.page(result.items, result.next_cursor)


def _stock(level: StockLevel) -> Response:
    # Quantities go out as decimal strings, like every quantity of the API (never through a float).
    return wire.respond(level.model_dump(mode="json"))


# --- the catalog import -------------------------------------------------------


@endpoint
def import_catalog(request: Request, hub: Hub) -> Response:
    return wire.respond(service.import_catalog(hub, wire.body(request)))
