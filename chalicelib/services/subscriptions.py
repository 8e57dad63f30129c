"""Pushes the change feed to the webhook URLs a channel subscribes (`config.subscriptions`): signed, retried,
dead-lettered like any directive, and in order per order.

Every (change, subscription) is one `feed.deliver` directive, written with the change. Order is kept by a position
per (subscription, order): the delivery holding its lease sends every event of the order from the position up to
its own, in version order, then moves the position. A later event's delivery that runs first sends the earlier ones
on its way, and the earlier one's delivery then finds nothing left to send; so a receiver never gets an order's
events out of order, and a receiver that was down gets them in order once it is back. An event the receiver refuses
(a 4xx) is passed over by the later ones and kills its own delivery, for an operator to see and retry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..contrib import webhooks
from ..directives.contract import DirectiveContext, PermanentFailure
from ..domain.clock import now_iso
from ..domain.feed import DELIVERY_TOPIC, SESSION_TYPES, Change, order_changes
from ..domain.ids import new_id
from ..domain.models import Directive, Subscription
from ..domain.registry import Registry
from ..secrets import WEBHOOK
from ..storage.db import ConditionFailed
from .hub import Hub

LEASE_SECONDS = 60
TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 8  # 5 s, 10 s, ... 5 min apart: a receiver may be down for about ten minutes before this goes dead


class DeliveryBusy(Exception):
    """Another delivery of the same order is sending; this one is retried after it."""


def register(registry: Registry) -> None:
    @registry.register_handler(DELIVERY_TOPIC, max_attempts=MAX_ATTEMPTS)
    def deliver(directive: Directive, ctx: DirectiveContext) -> dict[str, Any]:
        return _deliver(ctx.hub, directive)


def _deliver(hub: Hub, directive: Directive) -> dict[str, Any]:
    change = Change.model_validate(directive.payload["change"])
    channel = hub.channels.get(change.channel)
    sub = next((s for s in channel.config.subscriptions if s.id == directive.payload["subscription"]), None)
    if sub is None:
        return {"skipped": "the channel no longer has this subscription"}
    secret = hub.secrets.get(WEBHOOK)
    if not secret:
        raise PermanentFailure("the webhook secret is not configured: changes are never pushed unsigned")
    if change.type in SESSION_TYPES or change.order_ref is None:
        _post(sub, change, secret)
        return {"delivered": [change.id]}
    return _deliver_in_order(hub, sub, change, secret)


def _deliver_in_order(hub: Hub, sub: Subscription, change: Change, secret: str) -> dict[str, Any]:
    ref, version = str(change.order_ref), int(change.event["metadata"]["version"])
    owner, now = new_id("L"), datetime.now(UTC)
    until = (now + timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    try:
        position = hub.feed.claim_position(change.channel, sub.id, ref, owner, now_iso(), until)
    except ConditionFailed:
        raise DeliveryBusy(f"another delivery of order {ref} to {sub.id!r} is under way") from None
    delivered, refused = position["delivered"], position["refused"]
    sent: list[str] = []
    if version <= delivered:
        # Sent on its way by a later event's delivery; only a refused one is tried again (an operator's retry).
        retried = change.id in refused
        try:
            if retried:
                _post(sub, change, secret)
                refused.remove(change.id)
        finally:
            hub.feed.advance_position(change.channel, sub.id, ref, owner, delivered, refused, release=True)
        return {"delivered": [change.id] if retried else [], "already_delivered": not retried}
    events = hub.orders.events_between(ref, delivered + 1, version)
    for pending in order_changes(change.channel, change.session_key, events):
        number = int(pending.event["metadata"]["version"])
        if not sub.types or pending.type in sub.types:
            try:
                _post(sub, pending, secret)
                sent.append(pending.id)
            except PermanentFailure:
                refused.append(pending.id)
            except Exception:
                hub.feed.advance_position(change.channel, sub.id, ref, owner, number - 1, refused, release=True)
                raise
        delivered = number
    hub.feed.advance_position(change.channel, sub.id, ref, owner, delivered, refused, release=True)
    if change.id in refused:
        raise PermanentFailure(f"{sub.url} refused change {change.id}")
    return {"delivered": sent}


def _post(sub: Subscription, change: Change, secret: str) -> int:
    return webhooks.post(sub.url, {"subscription": sub.id, **change.model_dump(mode="json")}, secret,
                         idempotency_key=f"{sub.id}:{change.id}", timeout_seconds=TIMEOUT_SECONDS)
