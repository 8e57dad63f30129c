"""The order's life after commit: status moves, money in and out, as pure changes of the order aggregate.

Every change appends at least one event, so the order's `event_seq` moves with each of them and the store can
make every change conditional on the `event_seq` it read: two concurrent refunds cannot both pass the check
below on the same captured amount. Money stays conserved: captured_q <= total_q and refunded_q <= captured_q.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .errors import Conflict, Unprocessable
from .events import OrderEvent, order_event, status_event_type
from .models import Directive, Order, OrderFlow
from .registry import EVENT_TOPIC_PREFIX, Registry
from .status_flow import check_transition


@dataclass
class Change:
    """What one command or webhook does to an order: its next state, its events, and what goes with them."""

    after: Order
    events: list[OrderEvent] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # payment / shipment records to write with it
    writes: list[dict[str, Any]] = field(default_factory=list)  # other items of the same transaction (webhook log)
    result: dict[str, Any] = field(default_factory=dict)


def begin(order: Order, now: str) -> Change:
    after = order.model_copy(deep=True)
    after.updated_at = now
    return Change(after=after)


def append(change: Change, event_type: str, actor: str, now: str, payload: dict[str, Any],
           idempotency_key: str | None = None) -> OrderEvent:
    change.after.event_seq += 1
    event = order_event(change.after.ref, change.after.event_seq, event_type, actor, now, payload=payload,
                        idempotency_key=idempotency_key)
    change.events.append(event)
    return event


def move(change: Change, flow: OrderFlow, to: str, actor: str, now: str, *, reason: str | None = None,
         payload: dict[str, Any] | None = None, idempotency_key: str | None = None) -> OrderEvent:
    before = change.after.status
    check_transition(flow, before, to)
    change.after.status = to
    # The first entry into a status sets its timestamp; a later re-entry never moves it (I8).
    change.after.status_timestamps.setdefault(to, now)
    body = {"from": before, "to": to, **({"reason": reason} if reason else {}), **(payload or {})}
    return append(change, status_event_type(to), actor, now, body, idempotency_key)


def capture(order: Order, amount_q: int) -> None:
    if amount_q <= 0:
        raise Unprocessable("a payment must be more than 0", code="invalid_amount")
    outstanding = order.total_q - order.captured_q
    if amount_q > outstanding:
        raise Unprocessable(f"only {outstanding} of the order's {order.total_q} is still to pay",
                            code="overpayment", details={"outstanding_q": outstanding, "amount_q": amount_q})
    order.captured_q += amount_q


def refund(order: Order, amount_q: int | None) -> int:
    """Takes `amount_q` (default: all that is refundable) off the captured money; returns the amount."""
    if order.refundable_q <= 0:
        raise Conflict("nothing has been captured that is not refunded already", code="nothing_to_refund",
                       details={"captured_q": order.captured_q, "refunded_q": order.refunded_q})
    amount = order.refundable_q if amount_q is None else amount_q
    if amount <= 0:
        raise Unprocessable("a refund must be more than 0", code="invalid_amount")
    if amount > order.refundable_q:
        raise Unprocessable(f"at most {order.refundable_q} can be refunded", code="refund_exceeds_captured",
                            details={"refundable_q": order.refundable_q, "amount_q": amount})
    order.refunded_q += amount
    return amount


def payment_record(change: Change, payment_id: str, *, type_: str, amount_q: int, status: str, backend: str,
                   now: str, provider_ref: str | None = None, new: bool = True, **extra: Any) -> dict[str, Any]:
    record = {"id": payment_id, "kind": "payment", "type": type_, "order_ref": change.after.ref,
              "amount_q": amount_q, "status": status, "backend": backend, "provider_ref": provider_ref,
              "updated_at": now, **extra}
    if new:
        record.update(_new=True, created_at=now)
    change.records.append(record)
    return record


def shipment_record(change: Change, shipment_id: str, *, status: str, backend: str, now: str,
                    new: bool = True, **extra: Any) -> dict[str, Any]:
    record = {"id": shipment_id, "kind": "shipment", "order_ref": change.after.ref, "status": status,
              "backend": backend, "updated_at": now, **extra}
    if new:
        record.update(_new=True, created_at=now)
    change.records.append(record)
    return record


def update_record(change: Change, existing: dict[str, Any], now: str, **changes: Any) -> dict[str, Any]:
    record = {**existing, **changes, "updated_at": now}
    change.records.append(record)
    return record


def derived_id(prefix: str, *parts: str) -> str:
    """An id that the same inputs always give: a retried handler writes the same record, never a second one."""
    return f"{prefix}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:20].upper()}"


def handler_directives(events: list[OrderEvent], enabled: list[str], registry: Registry, *, channel_code: str,
                       session_key: str, now: str) -> list[Directive]:
    """One directive per (event, handler the channel runs): the handler's idempotency key is its id, derived
    from the event id and the handler name."""
    wanted = set(enabled)
    return [
        Directive(id=derived_id("E", event.event_id, name), topic=EVENT_TOPIC_PREFIX + name,
                  payload={"event": event.model_dump(mode="json"), "handler": name},
                  channel_code=channel_code, session_key=session_key, order_ref=event.aggregate_id,
                  created_at=now, updated_at=now)
        for event in events for name in registry.event_handlers(event.event_type) if name in wanted
    ]
