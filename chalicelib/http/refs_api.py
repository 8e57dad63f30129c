"""External references: set and remove on orders and sessions, find by value."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from ..services import refs
from ..services.hub import Hub
from . import wire
from .endpoint import endpoint
from .guard import principal
from .lifecycle_api import order_command
from .replay import once


@endpoint
def set_order_ref(request: Request, hub: Hub, ref: str, namespace: str) -> Response:
    return order_command(request, hub, ref, "ref_set",
                         lambda hub, ref, body, **kw: refs.set_order_ref(hub, ref, namespace, body, **kw),
                         target={"namespace": namespace})


@endpoint
def remove_order_ref(request: Request, hub: Hub, ref: str, namespace: str) -> Response:
    return order_command(request, hub, ref, "ref_remove",
                         lambda hub, ref, body, **kw: refs.remove_order_ref(hub, ref, namespace, **kw),
                         target={"namespace": namespace})


@endpoint
def set_session_ref(request: Request, hub: Hub, code: str, key: str, namespace: str) -> Response:
    def run(body: Any, _: str | None) -> tuple[int, dict[str, Any]]:
        return 200, refs.set_session_ref(hub, code, key, namespace, body).model_dump(mode="json")

    return once(request, hub, "ref_set", _session_target(code, key, namespace), run, _etag)


@endpoint
def remove_session_ref(request: Request, hub: Hub, code: str, key: str, namespace: str) -> Response:
    def run(body: Any, _: str | None) -> tuple[int, dict[str, Any]]:
        return 200, refs.remove_session_ref(hub, code, key, namespace).model_dump(mode="json")

    return once(request, hub, "ref_remove", _session_target(code, key, namespace), run, _etag)


@endpoint
def find(request: Request, hub: Hub, namespace: str, value: str) -> Response:
    return wire.respond(refs.find(hub, namespace, value, wire.query(request, "channel"), principal(request)))


def _session_target(code: str, key: str, namespace: str) -> dict[str, str]:
    return {"channel_code": code, "session_key": key, "namespace": namespace}


def _etag(session_json: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{session_json["rev"]}"'}
