"""Order commands (the seed's OrderService): pay, cancel, ship, deliver, refund, each a checked state change.

Each goes through order_changes.apply: checked against the channel's status flow and the money rules, written
conditionally with its events, records and directives. Provider calls are directives (`payment.request`,
`payment.refund`, `shipping.create`) whose id is the provider's idempotency key; the `manual` payment backend
(cash at a till) needs no call, so its payments and refunds are recorded at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain import lifecycle
from ..domain.access import SYSTEM, Principal
from ..domain.events import ORDER_REFUNDED, PAYMENT_CAPTURED, PAYMENT_REQUESTED, SHIPMENT_REQUESTED
from ..domain.models import Channel, Directive, MoneyQ, Order
from ..domain.status_flow import check_transition, flow_for
from . import order_changes
from .hub import Hub
from .orders import for_command
from .validation import parse

MANUAL = "manual"
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Body(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PayBody(Body):
    amount_q: MoneyQ | None = None  # default: what is still to pay
    method: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # cash, card, ... (recorded)


class CancelBody(Body):
    reason: Annotated[str, Field(max_length=1000)] | None = None


class ShipBody(Body):
    carrier: Text
    tracking_number: Text


class DeliverBody(Body):
    reason: Annotated[str, Field(max_length=1000)] | None = None


class RefundBody(Body):
    amount_q: MoneyQ | None = None  # default: all that is refundable
    reason: Annotated[str, Field(max_length=1000)] | None = None


def backend_name(channel: Channel, kind: str) -> str:
    """`config.payment.backend` / `config.shipping.backend`; manual when the channel names none."""
    config: Any = getattr(channel.config, kind, None)
    name = config.get("backend") if isinstance(config, dict) else None
    return name if isinstance(name, str) and name else MANUAL


def provider_directive(change: lifecycle.Change, topic: str, record_id: str, now: str,
                       payload: dict[str, Any]) -> Directive:
    order = change.after
    directive = Directive(id=lifecycle.derived_id("D", topic, order.ref, record_id), topic=topic,
                          payload={"order_ref": order.ref, "record_id": record_id, **payload},
                          channel_code=order.channel_code, session_key=order.session_key, order_ref=order.ref,
                          created_at=now, updated_at=now)
    change.directives.append(directive)
    return directive


# --- pay --------------------------------------------------------------------------------------------------------

def pay(hub: Hub, ref: str, body: Any, *, actor: str, key: str, caller: Principal = SYSTEM) -> lifecycle.Change:
    first = for_command(hub, ref, caller)
    req = parse(PayBody, body if body is not None else {})

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        check_transition(flow_for(channel), order.status, "paid")  # only a payable order takes money
        backend = backend_name(channel, "payment")
        amount = req.amount_q if req.amount_q is not None else order.total_q - order.captured_q
        if backend == MANUAL:
            return take_payment(order, channel, now, amount=amount, backend=MANUAL, actor=actor, key=key,
                                payment_id=lifecycle.derived_id("P", ref, key), method=req.method)
        return request_payment(order, channel, now, amount=amount, backend=backend, actor=actor, key=key)

    return order_changes.apply(hub, ref, decide, first=first)


def take_payment(order: Order, channel: Channel, now: str, *, amount: int, backend: str, actor: str,
                 key: str | None, payment_id: str, provider_ref: str | None = None,
                 method: str | None = None, existing: dict[str, Any] | None = None) -> lifecycle.Change:
    """Money captured: recorded, and the order is paid once it is all there (pending -> paid)."""
    flow = flow_for(channel)
    change = lifecycle.begin(order, now)
    lifecycle.capture(change.after, amount)
    if existing is not None:
        lifecycle.update_record(change, existing, now, status="captured", amount_q=amount, provider_ref=provider_ref)
    else:
        lifecycle.payment_record(change, payment_id, type_="capture", amount_q=amount, status="captured",
                                 backend=backend, now=now, provider_ref=provider_ref, method=method)
    details = {"payment_id": payment_id, "amount_q": amount, "captured_q": change.after.captured_q,
               "backend": backend, **({"method": method} if method else {})}
    if change.after.captured_q == change.after.total_q:
        lifecycle.move(change, flow, "paid", actor, now, payload=details, idempotency_key=key)
    else:
        lifecycle.append(change, PAYMENT_CAPTURED, actor, now, details, key)
    change.result = {"payment_id": payment_id, "status": "captured"}
    return change


def request_payment(order: Order, channel: Channel, now: str, *, amount: int, backend: str, actor: str,
                    key: str) -> lifecycle.Change:
    """A provider payment: requested now, captured when the provider's webhook says so."""
    check_transition(flow_for(channel), order.status, "paid")
    change = lifecycle.begin(order, now)
    lifecycle.capture(change.after.model_copy(), amount)  # the same bounds as a capture, checked up front
    payment_id = lifecycle.derived_id("P", order.ref, key)
    lifecycle.payment_record(change, payment_id, type_="capture", amount_q=amount, status="requested",
                             backend=backend, now=now)
    directive = provider_directive(change, "payment.request", payment_id, now,
                                   {"amount_q": amount, "backend": backend})
    lifecycle.append(change, PAYMENT_REQUESTED, actor, now,
                     {"payment_id": payment_id, "amount_q": amount, "backend": backend, "directive_id": directive.id},
                     key)
    change.result = {"payment_id": payment_id, "status": "requested"}
    return change


# --- cancel, ship, deliver ------------------------------------------------------------------------------------------

def cancel(hub: Hub, ref: str, body: Any, *, actor: str, key: str | None, caller: Principal = SYSTEM
           ) -> lifecycle.Change:
    first = for_command(hub, ref, caller)
    req = parse(CancelBody, body if body is not None else {})

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        change = lifecycle.begin(order, now)
        lifecycle.move(change, flow_for(channel), "cancelled", actor, now, reason=req.reason, idempotency_key=key)
        if change.after.refundable_q > 0:
            # What was captured goes back; stock is released by the stock contrib's reaction to the cancel.
            give_back(change, channel, now, amount=None, actor=actor, key=key, reason="cancelled")
        return change

    return order_changes.apply(hub, ref, decide, first=first)


def ship(hub: Hub, ref: str, body: Any, *, actor: str, key: str | None, caller: Principal = SYSTEM
         ) -> lifecycle.Change:
    first = for_command(hub, ref, caller)
    req = parse(ShipBody, body)

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        return shipped(hub, order, channel, now, carrier=req.carrier, tracking_number=req.tracking_number,
                       actor=actor, key=key)

    return order_changes.apply(hub, ref, decide, first=first)


def shipped(hub: Hub, order: Order, channel: Channel, now: str, *, carrier: str, tracking_number: str, actor: str,
            key: str | None) -> lifecycle.Change:
    change = lifecycle.begin(order, now)
    shipments = hub.orders.records(order.ref, "shipment")
    shipment_id = shipments[-1]["id"] if shipments else lifecycle.derived_id("S", order.ref)
    lifecycle.move(change, flow_for(channel), "shipped", actor, now, idempotency_key=key,
                   payload={"shipment_id": shipment_id, "carrier": carrier, "tracking_number": tracking_number})
    if shipments:
        lifecycle.update_record(change, shipments[-1], now, status="shipped", carrier=carrier,
                                tracking_number=tracking_number)
    else:
        lifecycle.shipment_record(change, shipment_id, status="shipped", backend=MANUAL, now=now, carrier=carrier,
                                  tracking_number=tracking_number)
    change.result = {"shipment_id": shipment_id}
    return change


def deliver(hub: Hub, ref: str, body: Any, *, actor: str, key: str | None, caller: Principal = SYSTEM
            ) -> lifecycle.Change:
    first = for_command(hub, ref, caller)
    req = parse(DeliverBody, body if body is not None else {})

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        return delivered(hub, order, channel, now, actor=actor, key=key, reason=req.reason)

    return order_changes.apply(hub, ref, decide, first=first)


def delivered(hub: Hub, order: Order, channel: Channel, now: str, *, actor: str, key: str | None,
              reason: str | None = None, into: lifecycle.Change | None = None) -> lifecycle.Change:
    """shipped -> delivered; `into` continues a change that just shipped the order (a delivery that overtook)."""
    change = into or lifecycle.begin(order, now)
    lifecycle.move(change, flow_for(channel), "delivered", actor, now, reason=reason, idempotency_key=key)
    shipments = [r for r in change.records if r["kind"] == "shipment"] or hub.orders.records(order.ref, "shipment")
    for shipment in shipments[-1:]:
        if shipment in change.records:
            shipment["status"] = "delivered"
        else:
            lifecycle.update_record(change, shipment, now, status="delivered")
    return change


# --- refund ---------------------------------------------------------------------------------------------------------

def refund(hub: Hub, ref: str, body: Any, *, actor: str, key: str, caller: Principal = SYSTEM) -> lifecycle.Change:
    first = for_command(hub, ref, caller)
    req = parse(RefundBody, body if body is not None else {})

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        change = lifecycle.begin(order, now)
        give_back(change, channel, now, amount=req.amount_q, actor=actor, key=key, reason=req.reason)
        return change

    return order_changes.apply(hub, ref, decide, first=first)


def give_back(change: lifecycle.Change, channel: Channel, now: str, *, amount: int | None, actor: str,
              key: str | None, reason: str | None, late_payment_id: str | None = None) -> int:
    """Refunds `amount` (default: all refundable): at once for the manual backend, else through the provider."""
    backend = backend_name(channel, "payment")
    if late_payment_id is None:
        amount = lifecycle.refund(change.after, amount)
    assert amount is not None
    refund_id = lifecycle.derived_id("R", change.after.ref, str(change.after.event_seq), key or "")
    status = "refunded" if backend == MANUAL else "requested"
    lifecycle.payment_record(change, refund_id, type_="refund", amount_q=amount, status=status, backend=backend,
                             now=now, reason=reason, refunds=late_payment_id)
    details: dict[str, Any] = {"refund_id": refund_id, "amount_q": amount, "refunded_q": change.after.refunded_q,
                               "status": status, **({"reason": reason} if reason else {})}
    if late_payment_id is not None:
        details["late_payment_id"] = late_payment_id
    if backend != MANUAL:
        details["directive_id"] = provider_directive(change, "payment.refund", refund_id, now,
                                                     {"amount_q": amount, "backend": backend}).id
    lifecycle.append(change, ORDER_REFUNDED, actor, now, details, key)
    change.result = {"refund_id": refund_id, "status": status, "amount_q": amount}
    return amount


def request_shipment(order: Order, channel: Channel, now: str, *, actor: str, key: str) -> lifecycle.Change:
    """The seed's ShippingHandler: a paid order goes into processing and its shipment is asked of the carrier."""
    change = lifecycle.begin(order, now)
    lifecycle.move(change, flow_for(channel), "processing", actor, now, idempotency_key=key)
    backend = backend_name(channel, "shipping")
    shipment_id = lifecycle.derived_id("S", order.ref)
    lifecycle.shipment_record(change, shipment_id, status="requested", backend=backend, now=now)
    payload: dict[str, Any] = {"shipment_id": shipment_id, "backend": backend}
    if backend != MANUAL:
        payload["directive_id"] = provider_directive(change, "shipping.create", shipment_id, now,
                                                     {"backend": backend}).id
    lifecycle.append(change, SHIPMENT_REQUESTED, actor, now, payload, key)
    return change
