"""The order lifecycle of the event-driven OMS seed: commands, money, provider webhooks, event handlers."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest

from chalicelib.contrib import webhooks
from tests.integration.test_directives import invoke, record, sqs_event

SEED_FLOW = {
    "initial_status": "pending",
    "transitions": {"pending": ["paid", "cancelled", "failed"], "paid": ["processing", "cancelled"],
                    "processing": ["shipped"], "shipped": ["delivered"]},
    "terminal_statuses": ["delivered", "cancelled", "failed"],
}
SECRET = {"payment": "test-payment-simulator-secret", "shipping": "test-shipping-simulator-secret"}
_n = itertools.count()


@pytest.fixture
def till(api):
    """Cash at a till: the manual payment backend."""
    api.channel("till", pricing_policy="external", config={"order_flow": SEED_FLOW})
    return api


@pytest.fixture
def online(api):
    """A web shop with simulated providers and the seed's payment and shipping handlers."""
    api.channel("online", pricing_policy="external", config={
        "order_flow": SEED_FLOW, "event_handlers": ["payment", "shipping"],
        "payment": {"backend": "simulator", "simulate_delay_seconds": 0},
        "shipping": {"backend": "simulator", "simulate_delay_seconds": 0}})
    return api


def order(api, channel="till", price=1000) -> str:
    key = f"L{next(_n)}"
    api.session(channel, key)
    assert api.modify(channel, key, {"op": "add_line", "sku": "BOOK", "qty": 1, "unit_price_q": price}).status == 200
    return api.commit(channel, key, f"c-{key}").json["order_ref"]


def command(api, ref, name, body=None, key="auto"):
    headers = {"Idempotency-Key": f"{name}-{ref}-{next(_n)}"} if key == "auto" else (
        {"Idempotency-Key": key} if key else {})
    return api.post(f"/v1/orders/{ref}/{name}", body if body is not None else {}, headers=headers)


SHIP = {"carrier": "post", "tracking_number": "T1"}
BODIES = {"ship": SHIP}
PATHS = {"pending": [], "paid": ["pay"], "processing": ["pay", ("processing",)], "shipped": ["pay", ("processing",),
         "ship"], "delivered": ["pay", ("processing",), "ship", "deliver"], "cancelled": ["cancel"],
         "failed": [("failed",)]}
# (status, command) -> the status after it, or the error code refusing it (the seed's table)
TABLE = {
    ("pending", "pay"): "paid", ("pending", "cancel"): "cancelled", ("pending", "ship"): "invalid_transition",
    ("pending", "deliver"): "invalid_transition", ("pending", "refund"): "nothing_to_refund",
    ("paid", "pay"): "invalid_transition", ("paid", "cancel"): "cancelled", ("paid", "ship"): "invalid_transition",
    ("paid", "deliver"): "invalid_transition", ("paid", "refund"): "paid",
    ("processing", "pay"): "invalid_transition", ("processing", "cancel"): "invalid_transition",
    ("processing", "ship"): "shipped", ("processing", "deliver"): "invalid_transition", ("processing", "refund"):
    "processing",
    ("shipped", "pay"): "invalid_transition", ("shipped", "cancel"): "invalid_transition",
    ("shipped", "ship"): "invalid_transition", ("shipped", "deliver"): "delivered", ("shipped", "refund"): "shipped",
    ("delivered", "pay"): "invalid_transition", ("delivered", "cancel"): "invalid_transition",
    ("delivered", "ship"): "invalid_transition", ("delivered", "deliver"): "invalid_transition",
    ("delivered", "refund"): "delivered",
    ("cancelled", "pay"): "invalid_transition", ("cancelled", "cancel"): "invalid_transition",
    ("cancelled", "ship"): "invalid_transition", ("cancelled", "deliver"): "invalid_transition",
    ("cancelled", "refund"): "nothing_to_refund",
    ("failed", "pay"): "invalid_transition", ("failed", "cancel"): "invalid_transition",
    ("failed", "ship"): "invalid_transition", ("failed", "deliver"): "invalid_transition",
    ("failed", "refund"): "nothing_to_refund",
}


def reach(api, status: str) -> str:
    ref = order(api)
    for step in PATHS[status]:
        if isinstance(step, tuple):
            r = api.post(f"/v1/orders/{ref}/transition", {"status": step[0]})
        else:
            r = command(api, ref, step, BODIES.get(step))
        assert r.status == 200, r.json
    assert api.get(f"/v1/orders/{ref}").json["status"] == status
    return ref


@pytest.mark.parametrize("status", list(PATHS))
def test_every_command_of_the_seeds_table(till, status):
    for name in ("pay", "cancel", "ship", "deliver", "refund"):
        ref = reach(till, status)
        before = till.get(f"/v1/orders/{ref}").json
        r = command(till, ref, name, BODIES.get(name))
        expected = TABLE[(status, name)]
        if expected in ("invalid_transition", "nothing_to_refund"):
            assert (r.status, r.error_code()) == (409, expected), (status, name, r.json)
            assert till.get(f"/v1/orders/{ref}").json == before  # refused: nothing changed
            if expected == "invalid_transition":
                assert "allowed" in r.json["error"]["details"]
        else:
            assert r.status == 200, (status, name, r.json)
            assert r.json["order"]["status"] == expected


def test_a_cancel_after_shipping_names_the_allowed_statuses(till):
    ref = reach(till, "shipped")
    r = command(till, ref, "cancel", {"reason": "too late"})
    assert (r.status, r.json["error"]["details"]) == (409, {"from": "shipped", "to": "cancelled",
                                                             "allowed": ["delivered"]})


def test_cash_payment_partial_refund_and_cancel_conserve_money(till):
    ref = order(till, price=1000)
    r = command(till, ref, "pay", {"amount_q": 400, "method": "cash"})
    assert (r.status, r.json["order"]["status"], r.json["order"]["captured_q"]) == (200, "pending", 400)
    assert [e["event_type"] for e in r.json["events"]] == ["PaymentCaptured"]
    r = command(till, ref, "pay", {"amount_q": 700})
    assert (r.status, r.error_code()) == (422, "overpayment")
    r = command(till, ref, "pay")  # the rest
    assert (r.json["order"]["status"], r.json["order"]["captured_q"]) == ("paid", 1000)
    assert r.json["events"][-1]["event_type"] == "OrderPaid"
    r = command(till, ref, "refund", {"amount_q": 300, "reason": "damaged"})
    assert (r.status, r.json["order"]["refunded_q"], r.json["status"]) == (200, 300, "refunded")
    assert command(till, ref, "refund", {"amount_q": 701}).error_code() == "refund_exceeds_captured"
    r = command(till, ref, "cancel", {"reason": "customer left"})
    assert (r.json["order"]["status"], r.json["order"]["refunded_q"]) == ("cancelled", 1000)
    assert [e["event_type"] for e in r.json["events"]] == ["OrderCancelled", "OrderRefunded"]
    payments = till.get(f"/v1/orders/{ref}/payments").json["items"]
    assert sorted((p["type"], p["amount_q"], p["status"]) for p in payments) == [
        ("capture", 400, "captured"), ("capture", 600, "captured"), ("refund", 300, "refunded"),
        ("refund", 700, "refunded")]
    history = till.get(f"/v1/orders/{ref}/history").json["items"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "pending"), ("pending", "paid"), ("paid", "cancelled")]
    assert history[-1]["reason"] == "customer left" and history[-1]["actor"] == "test-admin"


def test_each_command_is_replayed_for_its_key_and_refused_commands_free_the_key(till):
    ref = reach(till, "processing")
    r = command(till, ref, "ship", {"carrier": "post"}, key="ship-1")
    assert (r.status, r.error_code()) == (400, "validation_error")
    first = command(till, ref, "ship", SHIP, key="ship-1")  # the refused attempt left the key free
    assert first.status == 200, first.json
    again = command(till, ref, "ship", SHIP, key="ship-1")
    assert (again.status, again.body, again.headers["idempotent-replayed"]) == (200, first.body, "true")
    r = command(till, ref, "ship", {**SHIP, "tracking_number": "T2"}, key="ship-1")
    assert (r.status, r.error_code()) == (422, "idempotency_key_reused")
    r = command(till, ref, "deliver", {}, key="ship-1")  # one namespace: another command is another request
    assert (r.status, r.error_code()) == (422, "idempotency_key_reused")
    assert len(till.get(f"/v1/orders/{ref}/shipments").json["items"]) == 1
    for name in ("pay", "refund"):
        r = command(till, ref, name, key=None)
        assert (r.status, r.error_code()) == (400, "missing_idempotency_key"), name


def test_transition_abandon_resolve_and_retry_accept_a_key(till):
    ref = order(till)
    moved = till.post(f"/v1/orders/{ref}/transition", {"status": "paid"}, headers={"Idempotency-Key": "t1"})
    again = till.post(f"/v1/orders/{ref}/transition", {"status": "paid"}, headers={"Idempotency-Key": "t1"})
    assert (moved.status, again.status, again.headers["idempotent-replayed"]) == (200, 200, "true")
    assert again.json == moved.json and len(till.get(f"/v1/orders/{ref}/events").json["items"]) == 2
    till.session("till", "AB")
    first = till.post("/v1/channels/till/sessions/AB/abandon", headers={"Idempotency-Key": "ab"})
    replay = till.post("/v1/channels/till/sessions/AB/abandon", headers={"Idempotency-Key": "ab"})
    assert (first.status, replay.status, replay.headers["etag"]) == (200, 200, first.headers["etag"])
    assert replay.headers["idempotent-replayed"] == "true"
    plain = till.post("/v1/channels/till/sessions/AB/abandon")
    assert (plain.status, plain.error_code()) == (409, "already_abandoned")


def test_concurrent_payments_and_refunds_never_exceed_what_is_due(till):
    ref = order(till, price=1000)
    results: list[int] = []
    lock = threading.Lock()

    def race(name: str, amount: int) -> None:
        r = command(till, ref, name, {"amount_q": amount})
        with lock:
            results.append(r.status)

    def burst(name: str, amount: int, n: int) -> list[int]:
        results.clear()
        threads = [threading.Thread(target=race, args=(name, amount)) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(results)

    assert burst("pay", 300, 8) == [200] * 3 + [422] * 5  # 900 of 1000: a 4th 300 would overpay
    assert till.get(f"/v1/orders/{ref}").json["captured_q"] == 900
    assert burst("refund", 250, 8) == [200] * 3 + [422] * 5  # 750 of 900
    final = till.get(f"/v1/orders/{ref}").json
    assert (final["captured_q"], final["refunded_q"]) == (900, 750)
    payments = till.get(f"/v1/orders/{ref}/payments").json["items"]
    assert sum(p["amount_q"] for p in payments if p["type"] == "capture") == 900
    assert sum(p["amount_q"] for p in payments if p["type"] == "refund") == 750


# --- providers: webhooks and the seed's event flow -----------------------------------------------------------------

def signed(kind: str, body: dict, *, at: float | None = None, secret: str | None = None) -> tuple[str, dict]:
    raw = json.dumps(body)
    return raw, {"Omniman-Signature": webhooks.sign(secret or SECRET[kind], raw.encode(), int(at or time.time()))}


def post_webhook(api, kind: str, body: dict, **kw):
    raw, headers = signed(kind, body, **kw)
    return api.as_key(None).request("POST", f"/v1/webhooks/{kind}?provider=simulator", raw=raw, headers=headers)


def run(api, topic: str, receive_count: int = 1) -> list[dict]:
    """Runs the queued directives of `topic` through the worker, as SQS would deliver them."""
    ran = []
    for d in reversed(api.get(f"/v1/directives?topic={topic}&status=queued").json["items"]):
        invoke(api, sqs_event(record(d["id"], receive_count=receive_count, queue=d["queue"])), "directive_worker")
        ran.append(api.get(f"/v1/directives/{d['id']}").json)
    return ran


def deliver_simulated(api) -> list[dict]:
    """What the simulator's delayed directives would POST, delivered through the API with its signature."""
    answers = []
    queued = api.get("/v1/directives?topic=simulator.webhook&status=queued").json["items"]
    for d in sorted(queued, key=lambda d: (d["delay_seconds"], d["created_at"])):  # as SQS would release them
        r = post_webhook(api, d["payload"]["kind"], d["payload"]["body"])
        answers.append((r.status, r.json))
    return answers


def event_types(api, ref):
    return [e["event_type"] for e in api.get(f"/v1/orders/{ref}/events").json["items"]]


def test_the_seeds_event_flow_with_simulated_providers(online):
    ref = order(online, "online")
    assert [d["status"] for d in run(online, "event.payment")] == ["done"]  # OrderCreated -> PaymentHandler
    assert [d["status"] for d in run(online, "payment.request")] == ["done"]
    assert deliver_simulated(online) == [(200, {"outcome": "applied", "event_id": online.get(
        f"/v1/orders/{ref}/webhooks").json["items"][0]["event_id"]})]
    assert online.get(f"/v1/orders/{ref}").json["status"] == "paid"
    assert [d["status"] for d in run(online, "event.shipping")] == ["done"]  # OrderPaid -> ShippingHandler
    assert online.get(f"/v1/orders/{ref}").json["status"] == "processing"
    run(online, "shipping.create")
    deliver_simulated(online)
    order_now = online.get(f"/v1/orders/{ref}").json
    assert order_now["status"] == "delivered" and order_now["captured_q"] == 1000
    assert event_types(online, ref) == ["OrderCreated", "PaymentRequested", "OrderPaid", "OrderStatusChanged",
                                        "ShipmentRequested", "OrderShipped", "OrderDelivered"]
    [shipment] = online.get(f"/v1/orders/{ref}/shipments").json["items"]
    assert (shipment["status"], shipment["carrier"]) == ("delivered", "simulated-post")
    assert len(online.get(f"/v1/orders/{ref}/webhooks").json["items"]) == 3
    # Handlers are idempotent: a repeated delivery of a done directive changes nothing.
    assert run(online, "event.payment") == []


def test_duplicate_forged_stale_and_unknown_webhooks(online):
    ref = order(online, "online")
    body = {"id": "evt-1", "type": "payment.succeeded", "order_ref": ref, "data": {"amount_q": 1000}}
    before = online.get(f"/v1/orders/{ref}").json
    for kw in ({"secret": "not-the-secret"}, {"at": time.time() - 600}):
        r = post_webhook(online, "payment", body, **kw)
        assert (r.status, r.error_code()) == (401, "invalid_signature")
    unsigned = online.as_key(None).request("POST", "/v1/webhooks/payment", raw=json.dumps(body))
    assert unsigned.status == 401
    assert online.get(f"/v1/orders/{ref}/webhooks").json["items"] == []  # nothing stored
    assert online.get(f"/v1/orders/{ref}").json == before
    first = post_webhook(online, "payment", body)
    assert (first.status, first.json["outcome"]) == (200, "applied")
    paid = online.get(f"/v1/orders/{ref}").json
    assert paid["status"] == "paid"
    replay = post_webhook(online, "payment", body)
    assert (replay.status, replay.json["outcome"]) == (200, "duplicate")
    assert online.get(f"/v1/orders/{ref}").json == paid
    unknown = post_webhook(online, "payment", {**body, "id": "evt-2", "order_ref": "O-NOPE"})
    assert (unknown.status, unknown.json["outcome"]) == (202, "ignored")
    assert online.get("/v1/orders/O-NOPE/webhooks").status == 404  # logged, but no order to list it under
    wrong = post_webhook(online, "payment", {**body, "id": "evt-3", "type": "shipment.shipped"})
    assert (wrong.status, wrong.error_code()) == (400, "unknown_event_type")


def test_a_payment_after_the_cancel_is_recorded_and_refunded_never_resurrecting_the_order(online):
    ref = order(online, "online")
    assert command(online, ref, "cancel", {"reason": "changed my mind"}).status == 200
    r = post_webhook(online, "payment", {"id": "evt-late", "type": "payment.succeeded", "order_ref": ref,
                                         "data": {"amount_q": 1000, "provider_ref": "pi_1"}})
    assert (r.status, r.json["outcome"]) == (200, "refunded")
    late = online.get(f"/v1/orders/{ref}").json
    assert (late["status"], late["captured_q"], late["refunded_q"]) == ("cancelled", 0, 0)
    assert event_types(online, ref)[-1] == "OrderRefunded"
    [refund_directive] = online.get(f"/v1/directives?order_ref={ref}&topic=payment.refund").json["items"]
    assert refund_directive["payload"]["amount_q"] == 1000
    statuses = {(p["type"], p["status"]) for p in online.get(f"/v1/orders/{ref}/payments").json["items"]}
    assert statuses == {("capture", "captured_late"), ("refund", "requested")}
    run(online, "payment.refund")
    deliver_simulated(online)  # refund.succeeded
    statuses = {(p["type"], p["status"]) for p in online.get(f"/v1/orders/{ref}/payments").json["items"]}
    assert statuses == {("capture", "captured_late"), ("refund", "refunded")}


def test_a_failed_payment_fails_the_order(online):
    ref = order(online, "online")
    r = post_webhook(online, "payment", {"id": "evt-f", "type": "payment.failed", "order_ref": ref,
                                         "data": {"reason": "card_declined"}})
    assert r.json["outcome"] == "applied"
    assert online.get(f"/v1/orders/{ref}").json["status"] == "failed"
    assert event_types(online, ref)[-1] == "PaymentFailed"
    late = post_webhook(online, "shipping", {"id": "evt-s", "type": "shipment.shipped", "order_ref": ref,
                                             "data": {"carrier": "x", "tracking_number": "y"}})
    assert (late.status, late.json["outcome"]) == (202, "ignored")


def test_an_event_handler_failing_3_times_is_dead_and_retry_completes_it(api, registry):
    state = {"fail": True, "runs": 0}

    @registry.register_event_handler("OrderCreated", name="flaky")
    def flaky(event, ctx):
        state["runs"] += 1
        if state["fail"]:
            raise RuntimeError("the ERP is down")
        return {"synced": event.aggregate_id, "key": ctx.idempotency_key}

    registry.track("event_handler", "flaky")
    api.channel("erp", pricing_policy="external", config={"event_handlers": ["flaky"]})
    ref = order(api, "erp")
    [directive] = api.get(f"/v1/directives?order_ref={ref}&topic=event.flaky").json["items"]
    for attempt in range(1, 5):  # the first try and 3 retries
        invoke(api, sqs_event(record(directive["id"], receive_count=attempt)))
    dead = api.get(f"/v1/directives/{directive['id']}").json
    assert (dead["status"], dead["attempts"], state["runs"]) == ("dead", 4, 4)
    state["fail"] = False
    assert api.post(f"/v1/directives/{directive['id']}/retry").status == 202
    invoke(api, sqs_event(record(directive["id"])))
    done = api.get(f"/v1/directives/{directive['id']}").json
    assert done["status"] == "done" and done["result"] == {"synced": ref, "key": directive["id"]}


def test_unknown_handlers_and_backends_are_refused_on_the_channel(api):
    r = api.post("/v1/channels", {"code": "x1", "name": "X", "config": {"event_handlers": ["nope"]}})
    assert (r.status, r.error_code()) == (422, "unknown_event_handler")
    r = api.post("/v1/channels", {"code": "x2", "name": "X", "config": {"payment": {"backend": "stripe"}}})
    assert (r.status, r.error_code()) == (422, "unknown_backend")


def test_a_delivery_that_overtakes_its_shipment_still_lands(till):
    ref = reach(till, "processing")
    data = {"carrier": "post", "tracking_number": "T9"}
    r = post_webhook(till, "shipping", {"id": "evt-d", "type": "shipment.delivered", "order_ref": ref, "data": data})
    assert r.json["outcome"] == "applied"
    assert till.get(f"/v1/orders/{ref}").json["status"] == "delivered"
    assert event_types(till, ref)[-2:] == ["OrderShipped", "OrderDelivered"]
    [shipment] = till.get(f"/v1/orders/{ref}/shipments").json["items"]
    assert (shipment["status"], shipment["tracking_number"]) == ("delivered", "T9")
    late = post_webhook(till, "shipping", {"id": "evt-s", "type": "shipment.shipped", "order_ref": ref, "data": data})
    assert (late.status, late.json["outcome"]) == (202, "ignored")
