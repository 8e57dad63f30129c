"""Provider webhooks (payment, shipping): verified, deduplicated, logged, applied out of order safely.

`Omniman-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with the provider's secret
(`<kind>-webhook-secret-<provider>`), within 5 minutes: anything else is 401 and nothing is stored. Each
delivery is deduplicated by the provider's event id: the log record (the seed's WebhookLog) is written in
the same transaction as its effect on the order, so a replay finds it and changes nothing. A payment that
succeeds after its order was cancelled or failed never resurrects the order: it is recorded and refunded.
An event for an unknown order is logged and answered 202 `ignored`, so the provider stops retrying.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..contrib import webhooks
from ..contrib.payments import webhook_secret_name
from ..domain import lifecycle
from ..domain.clock import now_iso
from ..domain.errors import InvalidInput, NotFound, Unauthenticated
from ..domain.models import Channel, Order
from ..domain.status_flow import flow_for
from ..storage import keys
from ..storage.db import ConditionFailed, Page
from . import commands, order_changes
from .hub import Hub
from .validation import parse

Kind = Literal["payment", "shipping"]
TYPES: dict[str, tuple[str, ...]] = {
    "payment": ("payment.succeeded", "payment.failed", "refund.succeeded"),
    "shipping": ("shipment.shipped", "shipment.delivered"),
}
Outcome = Literal["applied", "refunded", "duplicate", "ignored"]
ACTOR = "webhook"
MAX_LOGGED_BODY = 8_000
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]


class WebhookData(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="allow", defer_build=True)

    payment_id: Ident | None = None
    refund_id: Ident | None = None
    amount_q: Annotated[StrictInt, Field(gt=0, le=10**15)] | None = None
    provider_ref: Annotated[str, Field(max_length=200)] | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None
    carrier: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    tracking_number: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class WebhookEvent(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="allow", defer_build=True)

    id: Ident
    type: str
    order_ref: Ident
    data: WebhookData = Field(default_factory=WebhookData)


def receive(hub: Hub, kind: Kind, provider: str, raw: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
    secret = hub.secrets.get(webhook_secret_name(kind, provider)) if provider.isidentifier() else None
    if secret is None:
        raise Unauthenticated(f"no {kind} provider {provider!r} is configured", code="unknown_provider")
    if not signature or not webhooks.verify(secret, signature, raw):
        raise Unauthenticated("the webhook signature is missing, wrong or older than 5 minutes",
                              code="invalid_signature")
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the webhook body is not JSON", code="invalid_json") from None
    event = parse(WebhookEvent, body)
    if event.type not in TYPES[kind]:
        raise InvalidInput(f"unknown {kind} event type {event.type!r}", code="unknown_event_type",
                           details={"types": list(TYPES[kind])})
    log = _log_item(kind, provider, event, raw)
    if hub.db.get(keys.webhook(kind, provider, event.id)) is not None:
        return 200, {"outcome": "duplicate", "event_id": event.id}
    try:
        hub.orders.get(event.order_ref)
    except NotFound:
        _log_alone(hub, log, "ignored", "unknown order")
        return 202, {"outcome": "ignored", "event_id": event.id, "reason": "unknown order"}
    outcome: dict[str, Outcome] = {}

    def decide(order: Order, channel: Channel, now: str) -> lifecycle.Change:
        if hub.db.get(keys.webhook(kind, provider, event.id)) is not None:
            outcome["value"] = "duplicate"
            return lifecycle.begin(order, now)
        change, result = _apply(hub, event, order, channel, now)
        outcome["value"] = result
        change.writes.append(_log_put(hub, {**log, "outcome": result}))
        return change

    order_changes.apply(hub, event.order_ref, decide)
    status = 200 if outcome["value"] in ("applied", "refunded", "duplicate") else 202
    return status, {"outcome": outcome["value"], "event_id": event.id}


def _apply(hub: Hub, event: WebhookEvent, order: Order, channel: Channel,
           now: str) -> tuple[lifecycle.Change, Outcome]:
    data, flow = event.data, flow_for(channel)
    if event.type == "payment.succeeded":
        return _payment_succeeded(hub, event, order, channel, now)
    if event.type == "payment.failed":
        if order.status != flow.initial_status:
            return lifecycle.begin(order, now), "ignored"
        change = lifecycle.begin(order, now)
        lifecycle.move(change, flow, "failed", ACTOR, now, reason=data.reason or "payment failed",
                       payload={"payment_id": data.payment_id, "event_id": event.id})
        existing = _record(hub, order.ref, "payment", data.payment_id)
        if existing is not None:
            lifecycle.update_record(change, existing, now, status="failed", reason=data.reason)
        return change, "applied"
    if event.type == "refund.succeeded":
        existing = _record(hub, order.ref, "payment", data.refund_id)
        change = lifecycle.begin(order, now)
        if existing is None or existing["status"] == "refunded":
            return change, "ignored"
        lifecycle.update_record(change, existing, now, status="refunded", provider_ref=data.provider_ref)
        return change, "applied"
    if event.type == "shipment.shipped":
        if order.status != "processing" or not (data.carrier and data.tracking_number):
            return lifecycle.begin(order, now), "ignored"
        return commands.shipped(hub, order, channel, now, carrier=data.carrier, tracking_number=data.tracking_number,
                                actor=ACTOR, key=None), "applied"
    # shipment.delivered; it may overtake its shipment.shipped, which then changes nothing when it comes
    if order.status == "processing" and data.carrier and data.tracking_number:
        change = commands.shipped(hub, order, channel, now, carrier=data.carrier, tracking_number=data.tracking_number,
                                  actor=ACTOR, key=None)
        return commands.delivered(hub, change.after, channel, now, actor=ACTOR, key=None, into=change), "applied"
    if order.status != "shipped":
        return lifecycle.begin(order, now), "ignored"
    return commands.delivered(hub, order, channel, now, actor=ACTOR, key=None), "applied"


def _payment_succeeded(hub: Hub, event: WebhookEvent, order: Order, channel: Channel,
                       now: str) -> tuple[lifecycle.Change, Outcome]:
    data = event.data
    existing = _record(hub, order.ref, "payment", data.payment_id)
    amount = data.amount_q or (existing["amount_q"] if existing else order.total_q - order.captured_q)
    payment_id = data.payment_id or lifecycle.derived_id("P", order.ref, event.id)
    payable = order.status == flow_for(channel).initial_status and amount <= order.total_q - order.captured_q
    if payable:
        change = commands.take_payment(order, channel, now, amount=amount, backend=existing["backend"] if existing
                                       else "provider", actor=ACTOR, key=None, payment_id=payment_id,
                                       provider_ref=data.provider_ref, existing=existing)
        return change, "applied"
    # Too late (cancelled, failed) or more than is due: the money is recorded and goes straight back.
    change = lifecycle.begin(order, now)
    if existing is not None:
        lifecycle.update_record(change, existing, now, status="captured_late", provider_ref=data.provider_ref)
    else:
        lifecycle.payment_record(change, payment_id, type_="capture", amount_q=amount, status="captured_late",
                                 backend="provider", now=now, provider_ref=data.provider_ref)
    commands.give_back(change, channel, now, amount=amount, actor=ACTOR, key=event.id, reason="late_payment",
                       late_payment_id=payment_id)
    return change, "refunded"


def _record(hub: Hub, ref: str, kind: str, record_id: str | None) -> dict[str, Any] | None:
    if record_id is None:
        return None
    return next((r for r in hub.orders.records(ref, kind) if r["id"] == record_id), None)


def _log_item(kind: str, provider: str, event: WebhookEvent, raw: bytes) -> dict[str, Any]:
    at = now_iso()
    return {**keys.webhook(kind, provider, event.id), **keys.webhook_indexes(event.order_ref, at, event.id),
            "kind": kind, "provider": provider, "event_id": event.id, "event_type": event.type,
            "order_ref": event.order_ref, "received_at": at, "body": raw[:MAX_LOGGED_BODY].decode(errors="replace")}


def _log_put(hub: Hub, item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": hub.db.put_request(item, condition="attribute_not_exists(pk)")}


def _log_alone(hub: Hub, item: dict[str, Any], outcome: str, reason: str) -> None:
    with contextlib.suppress(ConditionFailed):
        hub.db.put({**item, "outcome": outcome, "reason": reason}, condition="attribute_not_exists(pk)")


def deliveries(hub: Hub, ref: str, limit: int, cursor: str | None) -> Page:
    """Every webhook delivery logged for an order, oldest first."""
    page = hub.db.query("gsi1pk", f"WH#ORD#{ref}", index="gsi1", limit=limit, cursor=cursor)
    return page
