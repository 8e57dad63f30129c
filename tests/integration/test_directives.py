"""Directives: outbox, SQS worker (partial batches, idempotent handlers, dead letters), relay."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from chalicelib.services.directives import relay_outbox
from tests.conftest import STAGE


def sqs_event(*records):
    return {"Records": list(records)}


def record(directive_id=None, receive_count=1, body=None, queue="directives", topic=None):
    """An SQS record as the event source mapping delivers it; `topic` as the product's messages carry it."""
    if body is None:
        body = json.dumps({"directive_id": directive_id, **({"topic": topic} if topic else {})})
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0",
                       "SenderId": "test", "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:omniman-{STAGE}-{queue}",
        "awsRegion": "us-east-1",
    }


def invoke(api, event, function="directive_worker"):
    return api.client.lambda_.invoke(function, event).payload


@pytest.fixture
def flaky(api, registry):
    """A channel whose post-commit directive fails until told otherwise, counting real executions."""
    state = {"fail": True, "runs": 0}

    @registry.register_handler("test.flaky")
    def handler(directive, ctx):
        state["runs"] += 1
        if state["fail"]:
            raise RuntimeError("downstream is down")
        return {"ok": True, "order_ref": directive.payload["order_ref"]}

    registry.track("handler", "test.flaky")
    api.channel("flaky", pricing_policy="external", config={"post_commit_directives": ["test.flaky"]})
    return state


def commit_order(api, channel):
    api.session(channel, "S")
    api.modify(channel, "S", {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    body = api.commit(channel, "S", f"k-{channel}").json
    return body["order_ref"], body["directives"][0]


def directive(api, directive_id):
    return api.get(f"/v1/directives/{directive_id}").json


def test_worker_runs_the_notification_directive(api, web):
    _, directive_id = commit_order(api, "web")
    result = invoke(api, sqs_event(record(directive_id)))
    assert result == {"batchItemFailures": []}
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"], d["result"]) == ("done", 1, {"sent": True, "via": "log"})


def test_redelivery_does_not_run_the_handler_twice(api, flaky):
    flaky["fail"] = False
    _, directive_id = commit_order(api, "flaky")
    for _ in range(3):
        assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    assert flaky["runs"] == 1
    assert directive(api, directive_id)["status"] == "done"


def test_failure_is_reported_retried_then_succeeds(api, flaky):
    _, directive_id = commit_order(api, "flaky")
    failing = record(directive_id)
    assert invoke(api, sqs_event(failing)) == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"]) == ("failed", 1)
    assert "downstream is down" in d["last_error"]
    flaky["fail"] = False
    assert invoke(api, sqs_event(record(directive_id, receive_count=2))) == {"batchItemFailures": []}
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"]) == ("done", 2)
    assert flaky["runs"] == 2


def test_a_failed_record_comes_back_after_the_retry_backoff(api, flaky, hub, monkeypatch):
    """Not after the queue's 6-minute visibility timeout: the worker sets the record's next attempt."""
    from chalicelib.directives.worker import retry_delay_seconds

    assert [retry_delay_seconds(n, 5) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    monkeypatch.setattr(hub.settings, "directive_retry_base_seconds", 1)
    _, directive_id = commit_order(api, "flaky")
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"omniman-{STAGE}-directives")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    event = sqs_event({**record(directive_id), "messageId": message["MessageId"],
                       "receiptHandle": message["ReceiptHandle"]})
    assert invoke(api, event)["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    [back] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["All"])["Messages"]
    assert (back["MessageId"], back["Attributes"]["ApproximateReceiveCount"]) == (message["MessageId"], "2")


def dead_letters(queue="directives"):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"omniman-{STAGE}-{queue}-dlq")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   VisibilityTimeout=0).get("Messages", [])
    return [(m["Body"], m["MessageAttributes"]["dead_reason"]["StringValue"]) for m in messages]


def test_last_attempt_marks_the_directive_dead_and_moves_it_to_the_dlq(api, flaky):
    _, directive_id = commit_order(api, "flaky")
    last = record(directive_id, receive_count=5)
    # Moved by the worker itself, so the record is settled: SQS must not deliver it again.
    assert invoke(api, sqs_event(last)) == {"batchItemFailures": []}
    d = directive(api, directive_id)
    assert (d["status"], d["last_error"]) == ("dead", "RuntimeError: downstream is down")
    assert [d["id"] for d in api.get("/v1/directives?status=dead").json["items"]] == [directive_id]
    assert dead_letters() == [(last["body"], "RuntimeError: downstream is down")]


def test_partial_batch_reports_only_the_failures(api, web, flaky):
    _, ok_id = commit_order(api, "web")
    _, bad_id = commit_order(api, "flaky")
    ok, bad, malformed, gone = (record(ok_id), record(bad_id), record(body="not json"),
                                record("D-DOES-NOT-EXIST"))
    result = invoke(api, sqs_event(ok, bad, malformed, gone))
    assert result["batchItemFailures"] == [{"itemIdentifier": bad["messageId"]}]
    assert directive(api, ok_id)["status"] == "done"
    # What nothing could ever process goes straight to the dead-letter queue, with the reason.
    assert sorted(dead_letters()) == sorted([
        ("not json", "malformed message: expected a JSON object with a directive_id"),
        (gone["body"], "directive 'D-DOES-NOT-EXIST' does not exist"),
    ])


def test_check_worker_handles_the_checks_queue(api, registry):
    seen = []

    @registry.register_handler("test.check")
    def check(directive, ctx):
        from chalicelib.services.checks import apply_check_result

        seen.append(directive.payload["rev"])
        outcome = apply_check_result(ctx.hub, directive.payload["channel_code"], directive.payload["session_key"],
                                     directive.payload["check_code"], expected_rev=directive.payload["rev"],
                                     payload={"ok": True}, issues=[])
        return {"outcome": outcome}

    registry.track("handler", "test.check")
    api.channel("chk", pricing_policy="external", config={
        "checks": {"stock": {"directive_topic": "test.check"}}, "required_checks_on_commit": ["stock"]})
    api.session("chk", "S")
    api.modify("chk", "S", {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    [d] = api.get("/v1/directives?topic=test.check").json["items"]
    assert invoke(api, sqs_event(record(d["id"], queue="checks")), "check_worker") == {"batchItemFailures": []}
    assert seen == [1]
    assert api.get("/v1/channels/chk/sessions/S").json["checks"]["stock"]["rev"] == 1
    assert api.commit("chk", "S", "k").status == 201


def test_unsent_directives_are_relayed_from_the_outbox(api, web, hub, monkeypatch):
    # SQS is unreachable at commit time: the commit still succeeds, the directive waits in the outbox.
    monkeypatch.setitem(hub.queue._urls, hub.settings.directives_queue, "http://127.0.0.1:9/unreachable")
    _, directive_id = commit_order(api, "web")
    monkeypatch.undo()
    assert directive(api, directive_id)["status"] == "queued"
    assert relay_outbox(hub, grace_seconds=3600) == 0  # still inside the writer's grace period
    assert relay_outbox(hub, grace_seconds=0) == 1
    assert relay_outbox(hub, grace_seconds=0) == 0  # enqueued once: no longer in the outbox
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"omniman-{STAGE}-directives")["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert {"directive_id": directive_id, "topic": "notification.send"} in bodies


def test_scheduled_relay_handler(api, web):
    event = api.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
    assert invoke(api, event, "outbox_relay") == {"relayed": 0}


def test_directive_listing_filters(api, web, flaky):
    ref_web, web_id = commit_order(api, "web")
    _, flaky_id = commit_order(api, "flaky")
    invoke(api, sqs_event(record(web_id)))

    def ids(query):
        return [d["id"] for d in api.get(f"/v1/directives{query}").json["items"]]

    assert ids("") == [flaky_id, web_id]
    assert ids("?topic=test.flaky") == [flaky_id]
    assert ids("?status=done") == [web_id]
    assert ids(f"?order_ref={ref_web}") == [web_id]
    assert ids(f"?order_ref={ref_web}&status=queued") == []
    assert ids("?topic=notification.send&status=done") == [web_id]
    assert api.get("/v1/directives/D-NOPE").status == 404
