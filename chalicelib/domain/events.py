"""Domain events: the seed's envelope, one append-only stream per order. Pure.

`{"event_id", "event_type", "aggregate_id", "aggregate_type": "Order", "payload", "metadata": {"actor",
"timestamp", "version"}, "idempotency_key", "occurred_at"}`; `version` is the order's per-event sequence.
"""

# No `from __future__ import annotations`: pydantic would turn every field's annotation back from a string (a
# compile and an eval each) when the class is made, at every cold start.

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .models import ANSWERED

ORDER_CREATED = "OrderCreated"
ORDER_PAID = "OrderPaid"
ORDER_CANCELLED = "OrderCancelled"
ORDER_SHIPPED = "OrderShipped"
ORDER_DELIVERED = "OrderDelivered"
ORDER_REFUNDED = "OrderRefunded"
ORDER_STATUS_CHANGED = "OrderStatusChanged"
PAYMENT_FAILED = "PaymentFailed"
PAYMENT_REQUESTED = "PaymentRequested"
PAYMENT_CAPTURED = "PaymentCaptured"
SHIPMENT_REQUESTED = "ShipmentRequested"
PRICE_OVERRIDDEN = "PriceOverridden"

# The seed's event for entering a status; any other status change is an OrderStatusChanged.
STATUS_EVENTS = {"paid": ORDER_PAID, "cancelled": ORDER_CANCELLED, "shipped": ORDER_SHIPPED,
                 "delivered": ORDER_DELIVERED, "failed": PAYMENT_FAILED}
# Before the envelope, events were stored with a short type; they read back under these names.
_LEGACY_TYPES = {"created": ORDER_CREATED, "status_changed": ORDER_STATUS_CHANGED,
                 "price_overridden": PRICE_OVERRIDDEN}


def status_event_type(to_status: str) -> str:
    return STATUS_EVENTS.get(to_status, ORDER_STATUS_CHANGED)


class EventMetadata(BaseModel):
    # Built on first use: every function imports every model and uses a few of them (docs/benchmarks.md).
    model_config = ConfigDict(extra="allow", defer_build=True, **ANSWERED)

    actor: str
    timestamp: str
    version: int


class OrderEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, **ANSWERED)  # as EventMetadata

    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_type: Literal["Order"] = "Order"
    payload: dict[str, Any] = Field(default_factory=dict)
    metadata: EventMetadata
    idempotency_key: str | None = None
    occurred_at: str

    @property
    def ref(self) -> str:
        return self.aggregate_id

    @property
    def version(self) -> int:
        return self.metadata.version

    @property
    def transition(self) -> tuple[str | None, str | None]:
        return self.payload.get("from"), self.payload.get("to")

    @model_validator(mode="before")
    @classmethod
    def _from_legacy(cls, raw: Any) -> Any:
        """Events stored before the envelope (ref, seq, type, actor, from, to, reason, at, details) stay readable."""
        if not isinstance(raw, dict) or "event_id" in raw or "seq" not in raw:
            return raw
        payload = {**raw.get("details", {}), "from": raw.get("from"), "to": raw.get("to")}
        if raw.get("reason") is not None:
            payload["reason"] = raw["reason"]
        return {
            "event_id": f"{raw['ref']}:{raw['seq']}", "event_type": _LEGACY_TYPES.get(raw["type"], raw["type"]),
            "aggregate_id": raw["ref"], "payload": payload, "occurred_at": raw["at"],
            "metadata": {"actor": raw["actor"], "timestamp": raw["at"], "version": raw["seq"]},
        }


def order_event(ref: str, version: int, event_type: str, actor: str, at: str, *, payload: dict[str, Any] | None = None,
                idempotency_key: str | None = None) -> OrderEvent:
    # The id is the order and its version: an event can never be appended twice, and its id says where it is.
    return OrderEvent(event_id=f"{ref}:{version}", event_type=event_type, aggregate_id=ref, payload=payload or {},
                      metadata=EventMetadata(actor=actor, timestamp=at, version=version),
                      idempotency_key=idempotency_key, occurred_at=at)


def history_entry(event: OrderEvent) -> dict[str, Any] | None:
    """The state history (from, to, at, actor, reason) is the status-changing events, read from the one stream."""
    before, after = event.transition
    if after is None:
        return None
    return {"from": before, "to": after, "at": event.occurred_at, "actor": event.metadata.actor,
            "reason": event.payload.get("reason"), "event_id": event.event_id}
