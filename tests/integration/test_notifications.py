"""notification.send through the webhook backend: a signed POST to a real local HTTP receiver."""

from __future__ import annotations

import json

import pytest

from chalicelib.contrib import webhooks
from tests.integration.test_directives import commit_order, directive, invoke, record, sqs_event

SECRET = "a-test-secret-of-some-length"


@pytest.fixture
def hooked(api, hub, receiver, monkeypatch):
    from chalicelib.contrib.notifications import WebhookSender
    from chalicelib.domain.registry import registry

    monkeypatch.setitem(registry._backends, ("notification", "webhook"), WebhookSender(lambda: SECRET))
    api.channel("hooked", pricing_policy="external", config={
        "post_commit_directives": ["notification.send"],
        "notifications": {"backend": "webhook", "webhook_url": receiver.url}})
    return receiver


def test_webhook_is_signed_and_carries_the_directive_id(api, hooked):
    ref, directive_id = commit_order(api, "hooked")
    assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    [(headers, body)] = hooked.requests
    assert webhooks.verify(SECRET, headers["Omniman-Signature"], body)
    assert not webhooks.verify("another-secret-entirely", headers["Omniman-Signature"], body)
    assert not webhooks.verify(SECRET, headers["Omniman-Signature"], body + b" ")
    assert headers["Idempotency-Key"] == directive_id
    sent = json.loads(body)
    assert (sent["id"], sent["order_ref"], sent["topic"]) == (directive_id, ref, "notification.send")
    assert directive(api, directive_id)["result"] == {"sent": True, "via": "webhook", "status": 204}


def test_receiver_errors_retry_but_a_refusal_is_final(api, hooked):
    hooked.statuses = [503]
    _, directive_id = commit_order(api, "hooked")
    assert invoke(api, sqs_event(record(directive_id)))["batchItemFailures"]
    assert directive(api, directive_id)["status"] == "failed"
    assert invoke(api, sqs_event(record(directive_id, receive_count=2))) == {"batchItemFailures": []}
    assert directive(api, directive_id)["status"] == "done"

    hooked.statuses = [400]
    api.session("hooked", "S2")
    api.modify("hooked", "S2", {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    refused = api.commit("hooked", "S2", "k-2").json["directives"][0]
    assert invoke(api, sqs_event(record(refused))) == {"batchItemFailures": []}
    d = directive(api, refused)
    assert d["status"] == "dead"
    assert "refused the webhook with 400" in d["last_error"]


def test_unreachable_receiver_is_retried(api, hooked):
    hooked.server.server_close()  # nothing listens there any more
    _, directive_id = commit_order(api, "hooked")
    assert invoke(api, sqs_event(record(directive_id)))["batchItemFailures"]
    assert "unreachable" in directive(api, directive_id)["last_error"]


def test_signature_timestamps_expire():
    body = b"{}"
    header = webhooks.sign(SECRET, body, 1_000_000)
    assert webhooks.verify(SECRET, header, body, now=1_000_100)
    assert not webhooks.verify(SECRET, header, body, now=1_000_400)
    assert not webhooks.verify(SECRET, "garbage", body)


def test_webhook_without_a_url_or_secret_is_dead_not_retried(api, hub, monkeypatch):
    from chalicelib.contrib.notifications import WebhookSender
    from chalicelib.domain.registry import registry

    monkeypatch.setitem(registry._backends, ("notification", "webhook"), WebhookSender(lambda: None))
    api.channel("nohook", pricing_policy="external", config={
        "post_commit_directives": ["notification.send"], "notifications": {"backend": "webhook"}})
    _, directive_id = commit_order(api, "nohook")
    assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    assert directive(api, directive_id)["last_error"] == (
        "PermanentFailure: channel config notifications.webhook_url is not set")
