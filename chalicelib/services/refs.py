"""External references on sessions and orders: set, remove, find; claimed with the write they belong to.

A reference is claimed by a conditional write of its `REF#…` item in the same transaction as the session or
order that records it, so two writers can never both hold one value: the loser re-reads, finds it taken and gets
409 `ref_taken` naming the holder. On an order every change is an event (`OrderRefSet`, `OrderRefRemoved`), so
integrations see it in the order's history and the change feed.
"""

from __future__ import annotations

from typing import Any

from ..domain.access import Principal
from ..domain.clock import now_iso
from ..domain.errors import InvalidInput, NotFound
from ..domain.lifecycle import Change, begin
from ..domain.models import Channel, Order, Session
from ..domain.pipeline import ensure_open
from ..domain.refs import (
    RefBody,
    checked,
    ensure_room,
    order_holder,
    public,
    remove_from_order,
    session_holder,
    set_on_order,
)
from ..storage import refs as ref_items
from ..storage.db import ConditionFailed
from . import order_changes, orders
from .hub import Hub
from .retry import optimistic
from .sessions import read_with_channel
from .validation import parse


def find(hub: Hub, namespace: str, value: str, channel: str | None, caller: Principal) -> dict[str, Any]:
    checked(namespace, value)
    if channel is None:
        readable = caller.visible_channels()
        if readable is None or len(readable) != 1:
            raise InvalidInput("name the channel the reference belongs to: `?channel=`", code="channel_required")
        channel = next(iter(readable))
    caller.require_read(channel)
    item = hub.db.get(ref_items.key(channel, namespace, value))
    if item is None:
        raise NotFound(f"no session or order of channel {channel!r} has {namespace} {value!r}", code="ref_not_found")
    return public(item)


# --- orders ------------------------------------------------------------------------------------------------------

def set_order_ref(hub: Hub, ref: str, namespace: str, body: Any, *, actor: str, caller: Principal,
                  key: str | None) -> Change:
    first = orders.for_command(hub, ref, caller)
    checked(namespace)
    value = parse(RefBody, body).value

    def decide(order: Order, channel: Channel, now: str) -> Change:
        change = begin(order, now)
        if order.refs.get(namespace) == value:
            return change  # already so: nothing to write
        holder = order_holder(order)
        hub.refs.ensure_free({namespace: value}, holder)
        previous = set_on_order(change, namespace, value, actor, now, key)
        change.writes.append(hub.refs.claim_request(namespace, value, holder, now))
        if previous is not None:
            change.writes.append(hub.refs.release_request(namespace, previous, holder))
        return change

    return order_changes.apply(hub, ref, decide, first=first)


def remove_order_ref(hub: Hub, ref: str, namespace: str, *, actor: str, caller: Principal,
                     key: str | None) -> Change:
    first = orders.for_command(hub, ref, caller)
    checked(namespace)

    def decide(order: Order, channel: Channel, now: str) -> Change:
        if namespace not in order.refs:
            raise NotFound(f"order {ref} has no {namespace} reference", code="ref_not_found")
        change = begin(order, now)
        value = remove_from_order(change, namespace, actor, now, key)
        change.writes.append(hub.refs.release_request(namespace, value, order_holder(order)))
        return change

    return order_changes.apply(hub, ref, decide, first=first)


# --- sessions ----------------------------------------------------------------------------------------------------

def set_session_ref(hub: Hub, channel_code: str, session_key: str, namespace: str, body: Any) -> Session:
    checked(namespace)
    value = parse(RefBody, body).value
    return _change_session_refs(hub, channel_code, session_key, namespace, value)


def remove_session_ref(hub: Hub, channel_code: str, session_key: str, namespace: str) -> Session:
    checked(namespace)
    return _change_session_refs(hub, channel_code, session_key, namespace, None)


def _change_session_refs(hub: Hub, channel_code: str, session_key: str, namespace: str,
                         value: str | None) -> Session:
    """References are not part of the cart: they change no rev and clear no check, but every write of the session
    is still conditional on the one before (`write_seq`)."""
    _, session, seq = read_with_channel(hub, channel_code, session_key)
    for attempt in optimistic():
        if attempt:
            session, seq = hub.sessions.get_with_seq(channel_code, session_key)
        ensure_open(session)
        previous = session.refs.get(namespace)
        if value is None and previous is None:
            raise NotFound(f"session {session_key} has no {namespace} reference", code="ref_not_found")
        if previous == value:
            return session
        holder, now = session_holder(session), now_iso()
        refs = {k: v for k, v in session.refs.items() if k != namespace}
        writes = []
        if value is not None:
            ensure_room(session.refs, namespace)
            hub.refs.ensure_free({namespace: value}, holder)
            refs[namespace] = value
            writes.append(hub.refs.claim_request(namespace, value, holder, now))
        if previous is not None:
            writes.append(hub.refs.release_request(namespace, previous, holder))
        updated = session.model_copy(update={"refs": refs, "updated_at": now})
        try:
            hub.db.transact([hub.sessions.save_request(updated, session, seq), *writes])
        except ConditionFailed:
            continue  # the session or the reference changed meanwhile: look again
        return updated
    raise AssertionError("unreachable")
