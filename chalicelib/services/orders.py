"""Order use cases: read, list, events, history, and the generic status transition."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain import lifecycle
from ..domain.access import SYSTEM, Principal
from ..domain.events import OrderEvent
from ..domain.models import Channel, Order
from ..domain.status_flow import flow_for
from ..storage.db import Page
from . import order_changes
from .hub import Hub
from .validation import parse


class TransitionBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(max_length=1000)] | None = None


def get(hub: Hub, ref: str, caller: Principal) -> Order:
    order = hub.orders.get(ref)
    caller.require_read(order.channel_code)
    return order


def list_orders(hub: Hub, channel: str | None, status: str | None, limit: int, cursor: str | None,
                caller: Principal) -> Page:
    """Only what the key may see: a channel filter it may read, or the channels its scopes name."""
    if channel is not None:
        caller.require_read(channel)
        return hub.orders.list(channel, status, limit, cursor)
    visible = caller.visible_channels()
    if visible is not None and len(visible) == 1:
        return hub.orders.list(next(iter(visible)), status, limit, cursor)
    return hub.orders.list(None, status, limit, cursor, only_channels=visible)


def events(hub: Hub, ref: str, limit: int, cursor: str | None, caller: Principal) -> Page:
    get(hub, ref, caller)
    return hub.orders.events(ref, limit, cursor)


def history(hub: Hub, ref: str, caller: Principal) -> list[dict[str, Any]]:
    get(hub, ref, caller)
    return hub.orders.history(ref)


def records(hub: Hub, ref: str, kind: str, caller: Principal) -> list[dict[str, Any]]:
    get(hub, ref, caller)
    return hub.orders.records(ref, kind)


def for_command(hub: Hub, ref: str, caller: Principal) -> Order:
    """The order a command acts on, once the caller may command it: checked before the body, so a stranger
    learns nothing more from a 400."""
    order = hub.orders.get(ref)
    caller.require_command(order.channel_code)
    return order


def transition(hub: Hub, ref: str, body: Any, actor: str, caller: Principal = SYSTEM,
               idempotency_key: str | None = None) -> tuple[Order, OrderEvent]:
    first = for_command(hub, ref, caller)
    req = parse(TransitionBody, body)

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        change = lifecycle.begin(order, now)
        lifecycle.move(change, flow_for(channel), req.status, actor, now, reason=req.reason,
                       idempotency_key=idempotency_key)
        return change

    change = order_changes.apply(hub, ref, decide, first=first)
    return change.after, change.events[-1]
