"""Order use cases: read, list, events, and the only change an order allows, a status transition."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.access import SYSTEM, Principal
from ..domain.clock import now_iso
from ..domain.ids import new_id
from ..domain.models import Order, OrderEvent
from ..domain.reactions import reaction_directives
from ..domain.status_flow import check_transition, flow_for
from ..storage.db import ConditionFailed, Page
from .hub import Hub
from .retry import optimistic
from .validation import parse


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


def transition(hub: Hub, ref: str, body: Any, actor: str, caller: Principal = SYSTEM) -> tuple[Order, OrderEvent]:
    caller.require_command(hub.orders.get(ref).channel_code)  # before the body: a stranger learns nothing more
    req = parse(TransitionBody, body)
    for _ in optimistic(10):
        order = hub.orders.get(ref)
        channel = hub.channels.get(order.channel_code)
        check_transition(flow_for(channel), order.status, req.status)
        now = now_iso()
        after = order.model_copy(deep=True)
        after.status = req.status
        after.event_seq = order.event_seq + 1
        after.updated_at = now
        # The first entry into a status sets its timestamp; a later re-entry never moves it (I8).
        after.status_timestamps.setdefault(req.status, now)
        event = OrderEvent(ref=ref, seq=after.event_seq, type="status_changed", actor=actor,
                           from_status=order.status, to_status=req.status, reason=req.reason, at=now)
        # e.g. stock.release on a cancel: written with the transition, so it cannot be lost
        requests = hub.registry.reactions("order.status_changed", after, channel, {"from": order.status})
        directives = reaction_directives(requests, [new_id("D") for _ in requests], now,
                                         channel_code=order.channel_code, session_key=order.session_key,
                                         order_ref=order.ref)
        try:
            hub.db.transact([*hub.orders.transition_requests(order, after, event),
                             *hub.directives.create_requests(directives)])
        except ConditionFailed:
            continue  # moved meanwhile: re-check the flow against its new status
        hub.queue.dispatch(directives)
        hub.registry.fire("order.status_changed", after, order.status, after.status, actor)
        return after, event
    raise AssertionError("unreachable")
