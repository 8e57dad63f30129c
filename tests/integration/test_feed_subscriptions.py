"""The change feed's push side: a channel's subscriptions get its changes POSTed, signed, in order per order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.contrib import webhooks
from tests.integration.test_directives import directive, invoke, record, sqs_event

SECRET = "a-test-secret-for-subscriptions"


@pytest.fixture
def pushed(api, receiver, monkeypatch):
    monkeypatch.setenv("OMNIMAN_WEBHOOK_SECRET", SECRET)
    api.channel("pos", pricing_policy="external", config={"subscriptions": [{"id": "erp", "url": receiver.url}]})
    return receiver


def place(api: Any, key: str = "T1") -> str:
    api.session("pos", key)
    api.modify("pos", key, {"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 500})
    return api.commit("pos", key, f"idem-{key}").json["order_ref"]


def deliveries(api: Any, ref: str) -> list[dict[str, Any]]:
    """The order's push directives, oldest first."""
    items = api.get(f"/v1/directives?order_ref={ref}&topic=feed.deliver&limit=200").json["items"]
    return sorted(items, key=lambda d: (d["created_at"], d["payload"]["change"]["id"]))


def run(api: Any, directive_id: str, receive_count: int = 1) -> dict[str, Any]:
    return invoke(api, sqs_event(record(directive_id, receive_count=receive_count)))


def received(receiver: Any) -> list[tuple[str, str]]:
    return [(json.loads(body)["type"], json.loads(body)["id"]) for _, body in receiver.requests]


def test_each_change_is_pushed_signed_with_its_id_as_idempotency_key(api, pushed):
    ref = place(api)
    pushes = deliveries(api, ref)
    assert [d["payload"]["change"]["type"] for d in pushes] == ["OrderCreated", "SessionCommitted"]
    for d in pushes:
        assert run(api, d["id"]) == {"batchItemFailures": []}
    assert received(pushed) == [("OrderCreated", f"{ref}:1"), ("SessionCommitted", "pos:T1:SessionCommitted")]
    headers, body = pushed.requests[0]
    assert webhooks.verify(SECRET, headers["Omniman-Signature"], body)
    assert headers["Idempotency-Key"] == f"erp:{ref}:1"
    sent = json.loads(body)
    assert sent["subscription"] == "erp"
    feed_item = api.get("/v1/changes?channel=pos").json["items"][0]
    assert {k: sent[k] for k in ("type", "order_ref", "event", "occurred_at")} == {
        k: feed_item[k] for k in ("type", "order_ref", "event", "occurred_at")}


def test_a_later_delivery_that_runs_first_sends_the_earlier_events_first(api, pushed):
    ref = place(api)
    for status in ("confirmed", "processing"):
        api.post(f"/v1/orders/{ref}/transition", {"status": status})
    order_pushes = [d for d in deliveries(api, ref) if d["payload"]["change"]["type"] != "SessionCommitted"]
    assert len(order_pushes) == 3
    for d in reversed(order_pushes):  # SQS keeps no order: the last event's delivery arrives first
        assert run(api, d["id"]) == {"batchItemFailures": []}
    assert [i for _, i in received(pushed)] == [f"{ref}:1", f"{ref}:2", f"{ref}:3"]
    assert directive(api, order_pushes[0]["id"])["result"] == {"delivered": [], "already_delivered": True}
    # A duplicate delivery sends nothing again.
    assert run(api, order_pushes[-1]["id"]) == {"batchItemFailures": []}
    assert len(pushed.requests) == 3


def test_a_receiver_that_is_down_gets_every_event_in_order_once_back(api, pushed):
    ref = place(api)
    api.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"})
    first, second = [d for d in deliveries(api, ref) if d["payload"]["change"]["type"] != "SessionCommitted"]
    pushed.statuses = [503, 503]
    assert run(api, first["id"])["batchItemFailures"]
    assert run(api, second["id"])["batchItemFailures"]  # it tries the first event first: still down
    assert directive(api, second["id"])["status"] == "failed"
    assert run(api, second["id"], receive_count=2) == {"batchItemFailures": []}
    assert [i for _, i in received(pushed)][-2:] == [f"{ref}:1", f"{ref}:2"]
    assert run(api, first["id"], receive_count=2) == {"batchItemFailures": []}
    assert directive(api, first["id"])["status"] == "done"
    assert len(pushed.requests) == 4  # two refused attempts, then each event once


def test_a_refused_event_kills_its_own_delivery_and_not_the_next(api, pushed):
    ref = place(api)
    api.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"})
    first, second = [d for d in deliveries(api, ref) if d["payload"]["change"]["type"] != "SessionCommitted"]
    pushed.statuses = [422, 204, 422]
    assert run(api, second["id"]) == {"batchItemFailures": []}  # refuses event 1, sends event 2
    assert directive(api, second["id"])["status"] == "done"
    assert run(api, first["id"]) == {"batchItemFailures": []}  # tried once more, refused again: dead
    dead = directive(api, first["id"])
    assert dead["status"] == "dead"
    assert dead["last_error"] == f"PermanentFailure: {pushed.url} refused the webhook with 422"
    # An operator fixes the receiver and retries: the refused event alone is sent again.
    assert api.post(f"/v1/directives/{first['id']}/retry", {}).status == 202
    assert run(api, first["id"]) == {"batchItemFailures": []}
    assert [i for _, i in received(pushed)] == [f"{ref}:1", f"{ref}:2", f"{ref}:1", f"{ref}:1"]
    assert directive(api, first["id"])["status"] == "done"


def test_a_delivery_waits_while_another_sends_the_same_order(api, pushed, hub):
    ref = place(api)
    first = deliveries(api, ref)[0]
    # Another delivery of this order holds the lease (it is sending): this one backs off and is retried.
    hub.feed.claim_position("pos", "erp", ref, "L-OTHER", "2026-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z")
    assert run(api, first["id"])["batchItemFailures"]
    failed = directive(api, first["id"])
    assert failed["status"] == "failed" and "DeliveryBusy" in failed["last_error"]
    assert pushed.requests == []


def test_types_narrow_a_subscription_and_abandons_are_pushed(api, receiver, monkeypatch):
    monkeypatch.setenv("OMNIMAN_WEBHOOK_SECRET", SECRET)
    api.channel("web", pricing_policy="external", config={"subscriptions": [
        {"id": "kitchen", "url": receiver.url, "types": ["OrderCreated", "SessionAbandoned"]}]})
    api.session("web", "CART")
    api.modify("web", "CART", {"op": "add_line", "sku": "TEA", "qty": 1, "unit_price_q": 400})
    ref = api.commit("web", "CART", "idem-web").json["order_ref"]
    api.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"})
    assert [d["payload"]["change"]["type"] for d in deliveries(api, ref)] == ["OrderCreated"]
    api.session("web", "GONE")
    api.post("/v1/channels/web/sessions/GONE/abandon", {})
    [abandon] = api.get("/v1/directives?topic=feed.deliver&limit=200").json["items"][:1]
    assert abandon["payload"]["change"]["type"] == "SessionAbandoned"
    assert run(api, abandon["id"]) == {"batchItemFailures": []}
    assert received(receiver) == [("SessionAbandoned", "web:GONE:SessionAbandoned")]


@pytest.mark.parametrize("subscriptions", [
    [{"id": "a", "url": "http://x/1"}, {"id": "a", "url": "http://x/2"}],
    [{"id": "a", "url": "ftp://x"}],
    [{"id": "a", "url": "http://x", "types": ["not a type"]}],
    [{"id": f"s{i}", "url": "http://x"} for i in range(6)],
    [{"id": "a", "url": "http://x", "secret": "inline secrets are not accepted"}],
])
def test_bad_subscriptions_are_refused(api, subscriptions):
    resp = api.post("/v1/channels", {"code": "bad", "name": "Bad", "config": {"subscriptions": subscriptions}})
    assert resp.status in (400, 422), resp.json
    assert api.get("/v1/channels/bad").status == 404


def test_without_a_secret_nothing_is_pushed_unsigned(api, receiver, monkeypatch):
    monkeypatch.delenv("OMNIMAN_WEBHOOK_SECRET", raising=False)
    api.channel("pos", pricing_policy="external", config={"subscriptions": [{"id": "erp", "url": receiver.url}]})
    ref = place(api)
    first = deliveries(api, ref)[0]
    assert run(api, first["id"]) == {"batchItemFailures": []}
    assert directive(api, first["id"])["status"] == "dead"
    assert receiver.requests == []
