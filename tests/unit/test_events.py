"""The domain event envelope, and events stored before it stay readable."""

from __future__ import annotations

from chalicelib.domain.events import OrderEvent, history_entry, order_event, status_event_type


def test_status_events_carry_the_seeds_names():
    assert [status_event_type(s) for s in ("paid", "cancelled", "shipped", "delivered", "failed", "confirmed")] == [
        "OrderPaid", "OrderCancelled", "OrderShipped", "OrderDelivered", "PaymentFailed", "OrderStatusChanged"]


def test_the_envelope_and_its_history_entry():
    event = order_event("O-1", 3, "OrderPaid", "till-1", "2026-12-02T10:00:00.000Z",
                        payload={"from": "pending", "to": "paid"}, idempotency_key="k")
    dumped = event.model_dump(mode="json")
    assert set(dumped) == {"event_id", "event_type", "aggregate_id", "aggregate_type", "payload", "metadata",
                           "idempotency_key", "occurred_at"}
    assert dumped["metadata"] == {"actor": "till-1", "timestamp": "2026-12-02T10:00:00.000Z", "version": 3}
    assert (dumped["event_id"], dumped["aggregate_type"]) == ("O-1:3", "Order")
    assert history_entry(event) == {"from": "pending", "to": "paid", "at": "2026-12-02T10:00:00.000Z",
                                    "actor": "till-1", "reason": None, "event_id": "O-1:3"}
    assert history_entry(order_event("O-1", 4, "OrderRefunded", "a", "t", payload={"amount_q": 1})) is None


def test_an_event_stored_before_the_envelope_reads_as_one():
    legacy = {"ref": "O-9", "seq": 2, "type": "status_changed", "actor": "api", "from": "new", "to": "confirmed",
              "reason": "paid at counter", "at": "2026-11-01T09:00:00.000Z", "details": {}}
    event = OrderEvent.model_validate(legacy)
    assert (event.event_type, event.version, event.aggregate_id, event.event_id) == (
        "OrderStatusChanged", 2, "O-9", "O-9:2")
    assert event.payload == {"from": "new", "to": "confirmed", "reason": "paid at counter"}
    assert OrderEvent.model_validate({**legacy, "seq": 1, "type": "created", "from": None, "to": "new"}
                                     ).event_type == "OrderCreated"
