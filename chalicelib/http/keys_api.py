"""API key route adapters. A new key's secret is in the creation answer only; nothing else ever shows it."""

from __future__ import annotations

from chalice.app import Request, Response

from ..services import api_keys
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint
from .guard import principal


@endpoint
def whoami(request: Request, hub: Hub) -> Response:
    caller = principal(request)
    return wire.respond({"key_id": caller.key_id, "name": caller.name, "scopes": sorted(caller.scopes)})


@endpoint
def create_key(request: Request, hub: Hub) -> Response:
    record, secret = api_keys.issue(hub.api_keys, wire.body(request), created_by=principal(request).name)
    return wire.respond({**record, "secret": secret}, 201, {"Cache-Control": "no-store"})


@endpoint
def list_keys(request: Request, hub: Hub) -> Response:
    result = api_keys.list_keys(hub.api_keys, clamp_limit(wire.query(request, "limit")), wire.query(request, "cursor"))
    return wire.page(result.items, result.next_cursor)


@endpoint
def get_key(request: Request, hub: Hub, key_id: str) -> Response:
    return wire.respond(api_keys.get(hub.api_keys, key_id))


@endpoint
def revoke_key(request: Request, hub: Hub, key_id: str) -> Response:
    return wire.respond(hub.authenticator.revoke(key_id))
