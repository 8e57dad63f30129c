"""Order lifecycle route adapters: commands (each once per Idempotency-Key), history, payments, shipments,
provider webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from ..domain.lifecycle import Change
from ..services import commands, orders, provider_webhooks
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint
from .guard import principal
from .replay import once


def _answer(change: Change, status: int = 200) -> tuple[int, dict[str, Any]]:
    return status, {"order": change.after.model_dump(mode="json", by_alias=True),
                    "events": [e.model_dump(mode="json") for e in change.events], **change.result}


def _actor(request: Request) -> str:
    return wire.actor(request, principal(request).name)


def order_command(request: Request, hub: Hub, ref: str, name: str, run: Callable[..., Change],
                  provider_call: bool = False, target: dict[str, str] | None = None) -> Response:
    """One order command, once per Idempotency-Key; a money move left to a provider answers 202. `target` adds what
    else the command acts on, so the same key cannot be replayed for another one."""
    actor, caller = _actor(request), principal(request)

    def first(body: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        change = run(hub, ref, body, actor=actor, key=key, caller=caller)
        return _answer(change, 202 if provider_call and change.result.get("status") == "requested" else 200)

    return once(request, hub, name, {"order_ref": ref, **(target or {})}, first)


@endpoint
def pay(request: Request, hub: Hub, ref: str) -> Response:
    return order_command(request, hub, ref, "pay", commands.pay, provider_call=True)


@endpoint
def cancel(request: Request, hub: Hub, ref: str) -> Response:
    return order_command(request, hub, ref, "cancel", commands.cancel)


@endpoint
def ship(request: Request, hub: Hub, ref: str) -> Response:
    return order_command(request, hub, ref, "ship", commands.ship)


@endpoint
def deliver(request: Request, hub: Hub, ref: str) -> Response:
    return order_command(request, hub, ref, "deliver", commands.deliver)


@endpoint
def refund(request: Request, hub: Hub, ref: str) -> Response:
    return order_command(request, hub, ref, "refund", commands.refund, provider_call=True)


@endpoint
def history(request: Request, hub: Hub, ref: str) -> Response:
    return wire.page(orders.history(hub, ref, principal(request)), None)


@endpoint
def payments(request: Request, hub: Hub, ref: str) -> Response:
    return wire.page(orders.records(hub, ref, "payment", principal(request)), None)


@endpoint
def shipments(request: Request, hub: Hub, ref: str) -> Response:
    return wire.page(orders.records(hub, ref, "shipment", principal(request)), None)


@endpoint
def webhook_log(request: Request, hub: Hub, ref: str) -> Response:
    orders.get(hub, ref, principal(request))
    result = provider_webhooks.deliveries(hub, ref, clamp_limit(wire.query(request, "limit")),
                                          wire.query(request, "cursor"))
    return wire.page(result.items, result.next_cursor)


@endpoint
def receive_webhook(request: Request, hub: Hub, kind: provider_webhooks.Kind) -> Response:
    raw = request.raw_body or b""
    if len(raw) > wire.MAX_BODY_BYTES:
        return wire.error(413, "payload_too_large", f"the request body is larger than {wire.MAX_BODY_BYTES} bytes")
    status, answer = provider_webhooks.receive(hub, kind, wire.query(request, "provider") or "simulator",
                                               raw if isinstance(raw, bytes) else raw.encode(),
                                               wire.header(request, "omniman-signature"))
    return wire.respond(answer, status)
