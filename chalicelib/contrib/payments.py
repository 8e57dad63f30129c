"""Payments and shipping: backends per channel (the seed's strategies), their directives and event handlers.

- `config.payment.backend` / `config.shipping.backend` name a registered backend: `manual` (cash at a till;
  a shipment recorded by hand) or `simulator` (the seed's external-service simulator: it answers every call
  with signed webhooks back to the API after `config.payment.simulate_delay_seconds`, default 2).
- Provider calls run as directives (`payment.request`, `payment.refund`, `shipping.create`); the directive id
  is the provider's idempotency key, so a call repeated after a crash is recognised by the provider.
- Event handlers (the seed's observers, turned on per channel in `config.event_handlers`): `payment` on
  OrderCreated requests the payment (PaymentRequested); `shipping` on OrderPaid moves the order to processing
  and requests the shipment (ShipmentRequested).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any, Protocol

from ..directives.contract import DirectiveContext, PermanentFailure
from ..domain import lifecycle
from ..domain.events import ORDER_CREATED, ORDER_PAID, OrderEvent
from ..domain.models import Channel, Directive, Order
from ..domain.registry import Registry
from ..domain.status_flow import flow_for
from ..lazy import deferred
from ..services import order_changes
from ..storage import keys
from ..storage.db import ConditionFailed
from . import webhooks

# Only the directive worker's handlers below use the order commands: the API loads them for its lifecycle routes, not
# for this module.
commands = deferred("chalicelib.services.commands")

SIMULATOR = "simulator"
DEFAULT_DELAY_SECONDS = 2


class PaymentBackend(Protocol):
    """A payment provider. `idempotency_key` is the directive id of the call."""

    def create_intent(self, ctx: DirectiveContext, *, order_ref: str, payment_id: str, amount_q: int,
                      idempotency_key: str) -> dict[str, Any]: ...

    def capture(self, ctx: DirectiveContext, *, provider_ref: str, amount_q: int,
                idempotency_key: str) -> dict[str, Any]: ...

    def refund(self, ctx: DirectiveContext, *, order_ref: str, refund_id: str, amount_q: int,
               idempotency_key: str) -> dict[str, Any]: ...

    def status(self, ctx: DirectiveContext, provider_ref: str) -> str: ...


class ShippingBackend(Protocol):
    def create_shipment(self, ctx: DirectiveContext, *, order_ref: str, shipment_id: str,
                        idempotency_key: str) -> dict[str, Any]: ...

    def status(self, ctx: DirectiveContext, provider_ref: str) -> str: ...


# --- the simulator ------------------------------------------------------------------------------------------------

def _delay(ctx: DirectiveContext, order_ref: str, kind: str) -> int:
    order = ctx.hub.orders.get(order_ref)
    config: Any = getattr(ctx.hub.channels.get(order.channel_code).config, kind, None) or {}
    raw = config.get("simulate_delay_seconds", DEFAULT_DELAY_SECONDS) if isinstance(config, dict) else None
    return raw if isinstance(raw, int) and 0 <= raw <= 900 else DEFAULT_DELAY_SECONDS


def _outcome(ctx: DirectiveContext, order_ref: str) -> str:
    order = ctx.hub.orders.get(order_ref)
    config: Any = getattr(ctx.hub.channels.get(order.channel_code).config, "payment", None) or {}
    return "failed" if isinstance(config, dict) and config.get("simulate") == "failed" else "succeeded"


def schedule_webhook(ctx: DirectiveContext, kind: str, event_type: str, order_ref: str, data: dict[str, Any],
                     *, delay_seconds: int, cause: str) -> None:
    """A signed webhook the simulator will send back to the API, as a delayed directive: it survives a crash
    of this worker, and its id (from the call that caused it) makes a repeated call schedule it only once."""
    event_id = lifecycle.derived_id("evt", cause, event_type)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    directive = Directive(id=lifecycle.derived_id("D", "sim", event_id), topic="simulator.webhook",
                          payload={"kind": kind, "body": {"id": event_id, "type": event_type, "order_ref": order_ref,
                                                          "data": data}},
                          order_ref=order_ref, delay_seconds=delay_seconds, created_at=now, updated_at=now)
    try:
        ctx.hub.db.transact(ctx.hub.directives.create_requests([directive]))
    except ConditionFailed:
        return  # scheduled by an earlier attempt of the same call
    ctx.hub.queue.dispatch([directive])


class SimulatedPayments:
    def create_intent(self, ctx: DirectiveContext, *, order_ref: str, payment_id: str, amount_q: int,
                      idempotency_key: str) -> dict[str, Any]:
        provider_ref = lifecycle.derived_id("sim_pi", idempotency_key)
        outcome = _outcome(ctx, order_ref)
        schedule_webhook(ctx, "payment", f"payment.{outcome}", order_ref,
                         {"payment_id": payment_id, "amount_q": amount_q, "provider_ref": provider_ref,
                          **({"reason": "card_declined"} if outcome == "failed" else {})},
                         delay_seconds=_delay(ctx, order_ref, "payment"), cause=idempotency_key)
        return {"provider_ref": provider_ref, "status": "pending"}

    def capture(self, ctx: DirectiveContext, *, provider_ref: str, amount_q: int,
                idempotency_key: str) -> dict[str, Any]:
        return {"provider_ref": provider_ref, "status": "captured"}

    def refund(self, ctx: DirectiveContext, *, order_ref: str, refund_id: str, amount_q: int,
               idempotency_key: str) -> dict[str, Any]:
        schedule_webhook(ctx, "payment", "refund.succeeded", order_ref, {"refund_id": refund_id, "amount_q": amount_q},
                         delay_seconds=_delay(ctx, order_ref, "payment"), cause=idempotency_key)
        return {"provider_ref": lifecycle.derived_id("sim_re", idempotency_key), "status": "pending"}

    def status(self, ctx: DirectiveContext, provider_ref: str) -> str:
        return "pending"


class SimulatedShipping:
    def create_shipment(self, ctx: DirectiveContext, *, order_ref: str, shipment_id: str,
                        idempotency_key: str) -> dict[str, Any]:
        tracking = lifecycle.derived_id("SIM", idempotency_key)
        delay = _delay(ctx, order_ref, "shipping")
        data = {"shipment_id": shipment_id, "carrier": "simulated-post", "tracking_number": tracking}
        schedule_webhook(ctx, "shipping", "shipment.shipped", order_ref, data, delay_seconds=delay,
                         cause=idempotency_key)
        schedule_webhook(ctx, "shipping", "shipment.delivered", order_ref, data, delay_seconds=2 * delay,
                         cause=idempotency_key)
        return {"provider_ref": tracking, "status": "requested", **data}

    def status(self, ctx: DirectiveContext, provider_ref: str) -> str:
        return "requested"


def send_simulated_webhook(directive: Directive, ctx: DirectiveContext) -> dict[str, Any]:
    """POSTs the webhook, signed with the simulator's secret, to the API (OMNIMAN_PUBLIC_API_URL)."""
    kind = directive.payload["kind"]
    base = os.environ.get("OMNIMAN_PUBLIC_API_URL")
    secret = ctx.hub.secrets.get(webhook_secret_name(kind, SIMULATOR))
    if not base or not secret:
        raise PermanentFailure("the simulator needs OMNIMAN_PUBLIC_API_URL and its webhook secret")
    body = json.dumps({**directive.payload["body"], "created": int(time.time())}, separators=(",", ":"))
    status = webhooks.post_raw(f"{base.rstrip('/')}/v1/webhooks/{kind}?provider={SIMULATOR}", body.encode(), secret,
                               idempotency_key=directive.id, timeout_seconds=10)
    return {"sent": True, "status": status}


def webhook_secret_name(kind: str, provider: str) -> str:
    """`{kind}-webhook-secret-{provider}`: OMNIMAN_PAYMENT_WEBHOOK_SECRET_SIMULATOR locally, SSM on AWS."""
    return f"{kind}-webhook-secret-{provider}"


# --- provider-call directives -------------------------------------------------------------------------------------

def _record(ctx: DirectiveContext, order_ref: str, kind: str, record_id: str) -> dict[str, Any]:
    found = next((r for r in ctx.hub.orders.records(order_ref, kind) if r["id"] == record_id), None)
    if found is None:
        raise PermanentFailure(f"{kind} {record_id!r} of order {order_ref!r} does not exist")
    return found


def _note(ctx: DirectiveContext, order_ref: str, kind: str, record_id: str, values: dict[str, Any]) -> None:
    """The provider's answer on the record, only while the record still waits for it (a webhook may be first)."""
    with contextlib.suppress(ConditionFailed):
        ctx.hub.db.update(keys.order_record(order_ref, kind, record_id), values, condition="#st = :requested",
                          names={"#st": "status"}, values={":requested": "requested"})


def request_payment(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    _record(ctx, p["order_ref"], "payment", p["record_id"])
    backend: PaymentBackend = _backend(registry, "payment", p["backend"])
    answer = backend.create_intent(ctx, order_ref=p["order_ref"], payment_id=p["record_id"], amount_q=p["amount_q"],
                                   idempotency_key=directive.id)
    _note(ctx, p["order_ref"], "payment", p["record_id"], {"provider_ref": answer.get("provider_ref")})
    return answer


def refund_payment(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    backend: PaymentBackend = _backend(registry, "payment", p["backend"])
    answer = backend.refund(ctx, order_ref=p["order_ref"], refund_id=p["record_id"], amount_q=p["amount_q"],
                            idempotency_key=directive.id)
    _note(ctx, p["order_ref"], "payment", p["record_id"], {"provider_ref": answer.get("provider_ref")})
    return answer


def create_shipment(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    backend: ShippingBackend = _backend(registry, "shipping", p["backend"])
    answer = backend.create_shipment(ctx, order_ref=p["order_ref"], shipment_id=p["record_id"],
                                     idempotency_key=directive.id)
    _note(ctx, p["order_ref"], "shipment", p["record_id"],
          {k: answer[k] for k in ("provider_ref", "carrier", "tracking_number") if k in answer})
    return answer


def _backend(registry: Registry, kind: str, name: str) -> Any:
    try:
        return registry.backend(kind, name)
    except LookupError as exc:
        raise PermanentFailure(str(exc)) from None


# --- event handlers -----------------------------------------------------------------------------------------------

def payment_on_created(event: OrderEvent, ctx: DirectiveContext) -> dict[str, Any]:
    """OrderCreated -> PaymentHandler -> PaymentRequested (a manual channel takes its payments at the till)."""

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        backend = commands.backend_name(channel, "payment")
        payment_id = lifecycle.derived_id("P", order.ref, ctx.idempotency_key)
        done = any(r["id"] == payment_id for r in ctx.hub.orders.records(order.ref, "payment"))
        if backend == commands.MANUAL or done or order.status != flow_for(channel).initial_status:
            return lifecycle.begin(order, now)  # nothing to ask of a provider, or asked already
        return commands.request_payment(order, channel, now, amount=order.total_q - order.captured_q,
                                        backend=backend, actor="payment-handler", key=ctx.idempotency_key)

    change = order_changes.apply(ctx.hub, event.aggregate_id, decide)
    return {"requested": bool(change.events), **change.result}


def shipping_on_paid(event: OrderEvent, ctx: DirectiveContext) -> dict[str, Any]:
    """OrderPaid -> ShippingHandler -> processing, ShipmentRequested."""

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        if order.status != "paid":
            return lifecycle.begin(order, now)  # moved on already (a repeated delivery) or cancelled meanwhile
        return commands.request_shipment(order, channel, now, actor="shipping-handler", key=ctx.idempotency_key)

    change = order_changes.apply(ctx.hub, event.aggregate_id, decide)
    return {"requested": bool(change.events)}


def register(registry: Registry) -> None:
    registry.register_backend("payment", SIMULATOR, SimulatedPayments())
    registry.register_backend("shipping", SIMULATOR, SimulatedShipping())
    registry.register_handler("payment.request")(lambda d, ctx: request_payment(d, ctx, registry))
    registry.register_handler("payment.refund")(lambda d, ctx: refund_payment(d, ctx, registry))
    registry.register_handler("shipping.create")(lambda d, ctx: create_shipment(d, ctx, registry))
    registry.register_handler("simulator.webhook")(send_simulated_webhook)
    registry.register_event_handler(ORDER_CREATED, "payment")(payment_on_created)
    registry.register_event_handler(ORDER_PAID, "shipping")(shipping_on_paid)
