"""The one way an order changes after commit: read it, decide the change (pure), write it conditionally.

The order update is conditional on the status and `event_seq` read; its events, the records that go with it
(payments, shipments), the directives it asks for (provider calls, reactions such as stock.release, and one
per event handler the channel runs) land in the same transaction, or nothing does. A lost race re-reads and
decides again, so every rule is checked against the state the write lands on.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain.clock import now_iso
from ..domain.feed import order_changes
from ..domain.ids import new_id
from ..domain.lifecycle import Change, handler_directives
from ..domain.models import Channel, Order
from ..domain.reactions import reaction_directives
from ..storage.db import ConditionFailed
from . import feed
from .hub import Hub
from .retry import optimistic

Decide = Callable[[Order, Channel, str], Change]


def apply(hub: Hub, ref: str, decide: Decide, *, first: Order | None = None) -> Change:
    """`decide(order, channel, now)` returns the change or raises a DomainError to refuse (nothing is written)."""
    for attempt in optimistic(10):
        order = first if first is not None and attempt == 0 else hub.orders.get(ref)
        channel = hub.channels.get(order.channel_code)
        now = now_iso()
        change = decide(order, channel, now)
        if not (change.events or change.records or change.writes):
            return change  # nothing to do (e.g. a handler that already ran)
        moved = change.after.status != order.status
        requests = hub.registry.reactions("order.status_changed", change.after, channel,
                                          {"from": order.status}) if moved else []
        directives = [
            *change.directives,
            *reaction_directives(requests, [new_id("D") for _ in requests], now, channel_code=order.channel_code,
                                 session_key=order.session_key, order_ref=order.ref),
            *handler_directives(change.events, channel.config.event_handlers, hub.registry,
                                channel_code=order.channel_code, session_key=order.session_key, now=now),
        ]
        try:
            sent = feed.write(hub, channel, order_changes(order.channel_code, order.session_key, change.events),
                              [*hub.orders.change_requests(order, change.after, change.events),
                               *hub.orders.record_requests([dict(r) for r in change.records]),
                               *hub.stats.change_requests(order, change.after),
                               *change.writes], directives)
        except ConditionFailed:
            continue  # changed meanwhile: decide again on what is there now
        hub.queue.dispatch(sent)
        if moved and change.events:
            hub.registry.fire("order.status_changed", change.after, order.status, change.after.status,
                              change.events[-1].metadata.actor)
        return change
    raise AssertionError("unreachable")
