"""Inventory route adapters: request -> service call -> response. No stock rules live here."""

from __future__ import annotations

from chalice.app import Request, Response

from ..inventory import service
from ..inventory.models import StockLevel
from ..services.hub import Hub
from . import wire
from .endpoint import endpoint


@endpoint
def create_store(request: Request, hub: Hub) -> Response:
    return wire.respond(service.create_store(hub, wire.body(request)).model_dump(mode="json"), 201)


@endpoint
def get_store(request: Request, hub: Hub, code: str) -> Response:
    return wire.respond(service.get_store(hub, code).model_dump(mode="json"))


@endpoint
def create_product(request: Request, hub: Hub) -> Response:
    return wire.respond(service.create_product(hub, wire.body(request)).model_dump(mode="json"), 201)


@endpoint
def get_product(request: Request, hub: Hub, sku: str) -> Response:
    return wire.respond(service.get_product(hub, sku).model_dump(mode="json"))


@endpoint
def put_stock(request: Request, hub: Hub, store_code: str, sku: str) -> Response:
    return _stock(service.set_on_hand(hub, store_code, sku, wire.body(request)))


@endpoint
def get_stock(request: Request, hub: Hub, store_code: str, sku: str) -> Response:
    return _stock(service.get_stock(hub, store_code, sku))


def _stock(level: StockLevel) -> Response:
    # Quantities go out as decimal strings, like every quantity of the API (never through a float).
    return wire.respond(level.model_dump(mode="json"))
