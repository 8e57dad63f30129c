"""Issue 13, phase 2: each operation makes the fewest requests its guarantees allow, and fewer requests never mean
weaker guarantees. The DynamoDB and SQS requests are observed on the product's own boto3 clients (botocore's event
hooks), the operations run through the services and the worker as in production.

Also the outbox as it works now: a directive stays in the outbox until a delivery claims it, under the time it is
due, and the relay sends only what is still there after its grace period, never a delayed directive early.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.directives import worker
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import new_id
from chalicelib.domain.models import Directive
from chalicelib.services import checks, commit, modify, sessions
from chalicelib.services.directives import RELAY_RESEND_SECONDS, relay_outbox, retry
from chalicelib.storage.db import ConditionFailed
from devstack.lambdas import Function
from devstack.poller import QueuePoller
from tests.integration.test_directives import dead_letters, invoke, record, sqs_event


class Requests:
    """The (operation, parameters) of every request a boto3 client sent, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, params))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@contextmanager
def observed(client: Any) -> Iterator[Requests]:
    requests = Requests()
    service = client.meta.service_model.service_id.hyphenize()
    event = f"before-parameter-build.{service}"
    client.meta.events.register(event, requests)
    try:
        yield requests
    finally:
        client.meta.events.unregister(event, requests)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outbox(hub) -> dict[str, str]:
    """Directive id -> its outbox sort key, read from the sparse index the relay queries."""
    resp = boto3.client("dynamodb").query(
        TableName=hub.settings.table, IndexName="outbox", KeyConditionExpression="outbox_pk = :o",
        ExpressionAttributeValues={":o": {"S": "OUTBOX"}})
    return {item["id"]["S"]: item["outbox_sk"]["S"] for item in resp["Items"]}


def queued_messages(hub, queue: str = "directives") -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=hub.settings.directives_queue if queue == "directives"
                            else hub.settings.checks_queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                   WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def poller(chalice_app, hub, monkeypatch):
    import app as app_module

    monkeypatch.setattr(hub.settings, "directive_retry_base_seconds", 0)
    return QueuePoller(boto3.client("sqs"), hub.settings.directives_queue,
                       Function("directive_worker", app_module.directive_worker), wait_seconds=0)


@pytest.fixture
def quiet(api, registry):
    """A channel whose post-commit directive does no I/O of its own, counting its runs."""
    runs: list[str] = []

    @registry.register_handler("test.quiet")
    def handler(directive, ctx):
        runs.append(directive.id)
        return {"ok": True}

    registry.track("handler", "test.quiet")
    api.channel("quiet", pricing_policy="external", config={"post_commit_directives": ["test.quiet"]})
    return runs


def open_session(hub, channel: str, key: str) -> None:
    sessions.create(hub, channel, {"session_key": key}, "test")
    modify.modify(hub, channel, key, [{"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100}],
                  expected_rev=None, actor="test")


# --- requests per operation -------------------------------------------------------------------------------------

def test_modify_reads_session_and_channel_in_one_consistent_request(api, hub, web):
    open_session(hub, "web", "S")
    with observed(hub.db.client) as dynamodb:
        modify.modify(hub, "web", "S", [{"op": "add_line", "sku": "Y", "qty": 2, "unit_price_q": 50}],
                      expected_rev=1, actor="test")
    assert dynamodb.names == ["BatchGetItem", "PutItem"]
    (read,) = dynamodb.calls[0][1]["RequestItems"].values()
    assert read["ConsistentRead"] is True and len(read["Keys"]) == 2


def test_commit_is_one_read_one_transaction_and_the_idempotency_writes(api, hub, quiet):
    open_session(hub, "quiet", "S")
    with observed(hub.db.client) as dynamodb, observed(hub.queue.sqs) as sqs:
        outcome = commit.commit(hub, "quiet", "S", {}, header_key="k-budget", actor="test")
    assert not outcome.replayed
    # The one read, the feed numbers of its changes (issue 12), the one transaction, between the idempotency writes.
    assert dynamodb.names == ["PutItem", "BatchGetItem", "UpdateItem", "TransactWriteItems", "UpdateItem"]
    assert dynamodb.calls[0][1]["TableName"] == dynamodb.calls[4][1]["TableName"] == hub.settings.idempotency_table
    assert dynamodb.calls[2][1]["UpdateExpression"] == "ADD #seq :n"
    assert dynamodb.calls[2][1]["ExpressionAttributeValues"] == {":n": {"N": "2"}}  # OrderCreated, SessionCommitted
    # Nothing written back after the send (a queue's URL is looked up once per process).
    assert [name for name in sqs.names if name != "GetQueueUrl"] == ["SendMessageBatch"]


def test_abandon_check_result_and_recheck_read_once(api, hub, registry):
    registry.register_handler("test.check")(lambda directive, ctx: {})
    registry.track("handler", "test.check")
    api.channel("chk", pricing_policy="external", config={"checks": {"stock": {"directive_topic": "test.check"}}})
    open_session(hub, "chk", "S")
    with observed(hub.db.client) as dynamodb:
        assert checks.apply_check_result(hub, "chk", "S", "stock", expected_rev=1, payload={}, issues=[]) == "applied"
    assert dynamodb.names == ["BatchGetItem", "PutItem"]
    with observed(hub.db.client) as dynamodb:
        checks.recheck(hub, "chk", "S")
    assert dynamodb.names == ["BatchGetItem", "TransactWriteItems"]
    with observed(hub.db.client) as dynamodb:
        sessions.abandon(hub, "chk", "S")
    # In the feed too: its number, then the session's write with its feed entry.
    assert dynamodb.names == ["BatchGetItem", "UpdateItem", "TransactWriteItems"]


def test_the_one_read_reports_what_is_missing_as_before(api, hub, web, registry):
    api.channel("chk", pricing_policy="external", config={"checks": {"stock": {"directive_topic": "stock.hold"}}})
    ops = [{"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 1}]
    for run in (lambda: modify.modify(hub, "nope", "S", ops, expected_rev=None, actor="t"),
                lambda: sessions.abandon(hub, "nope", "S")):
        with pytest.raises(DomainError) as refused:
            run()
        assert refused.value.code == "channel_not_found"
    for run in (lambda: modify.modify(hub, "web", "NOPE", ops, expected_rev=None, actor="t"),
                lambda: checks.recheck(hub, "web", "NOPE")):
        with pytest.raises(DomainError) as refused:
            run()
        assert refused.value.code == "session_not_found"
    # An unknown check is named before the missing session, as when the channel was read on its own first.
    with pytest.raises(DomainError) as refused:
        checks.apply_check_result(hub, "chk", "NOPE", "fraud", expected_rev=1, payload={}, issues=[])
    assert refused.value.code == "check_not_found"


def test_a_directive_costs_its_claim_and_its_finish(api, hub, quiet):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-run", actor="test").result["directives"]
    with observed(hub.db.client) as dynamodb:
        response = worker.handle_batch(hub, sqs_event(record(directive_id, topic="test.quiet")), None)
    assert response == {"batchItemFailures": []}
    assert dynamodb.names == ["UpdateItem", "UpdateItem"]
    claim = dynamodb.calls[0][1]
    assert (claim["ReturnValues"], claim["ReturnValuesOnConditionCheckFailure"]) == ("ALL_NEW", "ALL_OLD")
    assert quiet == [directive_id]
    stored = hub.directives.get(directive_id)
    assert (stored.status, stored.attempts, stored.result) == ("done", 1, {"ok": True})


# --- the claim without a read ------------------------------------------------------------------------------------

def race(count: int, claim: Any) -> tuple[list[Directive], list[ConditionFailed]]:
    barrier = threading.Barrier(count)
    won: list[Directive] = []
    lost: list[ConditionFailed] = []

    def contender() -> None:
        barrier.wait()
        try:
            won.append(claim())
        except ConditionFailed as exc:
            lost.append(exc)

    threads = [threading.Thread(target=contender) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return won, lost


def test_of_racing_claims_exactly_one_wins_and_the_others_see_why(api, hub, quiet):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-race", actor="test").result["directives"]
    now = datetime.now(UTC)
    won, lost = race(8, lambda: hub.directives.claim(directive_id, iso(now), iso(now + timedelta(minutes=2))))
    assert len(won) == 1 and len(lost) == 7
    assert (won[0].id, won[0].status, won[0].attempts) == (directive_id, "running", 1)
    assert {exc.current["status"] for exc in lost} == {"running"}  # told apart from done, dead and missing
    assert directive_id not in outbox(hub)  # claimed: its message has arrived


def test_of_racing_takeovers_of_an_expired_lease_exactly_one_wins(api, hub, quiet):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-take", actor="test").result["directives"]
    past = iso(datetime.now(UTC) - timedelta(seconds=1))
    hub.directives.claim(directive_id, past, past)  # claimed by a worker that died
    now = datetime.now(UTC)
    won, lost = race(8, lambda: hub.directives.claim(directive_id, iso(now), iso(now + timedelta(minutes=2))))
    assert len(won) == 1 and len(lost) == 7
    assert won[0].attempts == 2


def test_a_claim_tells_missing_done_and_dead_apart(api, hub, quiet):
    now, later = iso(datetime.now(UTC)), iso(datetime.now(UTC) + timedelta(minutes=2))
    with pytest.raises(ConditionFailed) as missing:
        hub.directives.claim("D-NOT-THERE", now, later)
    assert missing.value.current is None
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-told", actor="test").result["directives"]
    claimed = hub.directives.claim(directive_id, now, later)
    hub.directives.finish(claimed, "done", now, result={})
    with pytest.raises(ConditionFailed) as done:
        hub.directives.claim(directive_id, now, later)
    assert done.value.current["status"] == "done"
    assert not [k for k in ("pk", "sk", "gsi3pk") if k in done.value.current]


def test_a_message_without_its_topic_still_ends_dead_when_nobody_handles_it(api, hub, registry):
    registry.register_handler("nobody.listens")(lambda directive, ctx: {})
    api.channel("odd", pricing_policy="external", config={"post_commit_directives": ["nobody.listens"]})
    open_session(hub, "odd", "S")
    [directive_id] = commit.commit(hub, "odd", "S", {}, header_key="k-odd", actor="test").result["directives"]
    registry.unregister("handler", "nobody.listens")
    assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    stored = hub.directives.get(directive_id)
    assert (stored.status, stored.attempts) == ("dead", 1)  # it had to be claimed to learn its topic
    assert dead_letters()[0][1] == "no handler is registered for topic 'nobody.listens'"


def test_a_message_naming_another_topic_runs_the_directive_it_names(api, hub, quiet):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-other", actor="test").result["directives"]
    assert invoke(api, sqs_event(record(directive_id, topic="nobody.listens"))) == {"batchItemFailures": []}
    assert hub.directives.get(directive_id).status == "done"
    assert quiet == [directive_id]


# --- the outbox ----------------------------------------------------------------------------------------------------

def test_a_sent_directive_leaves_the_outbox_when_it_is_claimed(api, hub, quiet, poller):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-out", actor="test").result["directives"]
    created = hub.directives.get(directive_id).created_at
    assert outbox(hub) == {directive_id: f"{created}#{directive_id}"}  # sent, and still there
    assert relay_outbox(hub) == 0  # inside its grace period
    assert poller.poll_once() == 1
    assert quiet == [directive_id]
    assert outbox(hub) == {}
    assert relay_outbox(hub, grace_seconds=0) == 0


def test_the_relay_sends_what_waits_past_its_grace_once_then_leaves_it_alone(api, hub, quiet, poller):
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-wait", actor="test").result["directives"]
    started = datetime.now(UTC)
    # Still unclaimed after its grace period (say, the queue is behind): sent once more, then postponed.
    assert relay_outbox(hub, grace_seconds=0) == 1
    moved_to = outbox(hub)[directive_id].split("#", 1)[0]
    assert moved_to >= iso(started + timedelta(seconds=RELAY_RESEND_SECONDS))
    assert relay_outbox(hub, grace_seconds=0) == 0
    # Two messages, one run: the second delivery finds it done.
    assert poller.poll_once() == 2
    assert quiet == [directive_id]
    assert outbox(hub) == {}


def test_a_delayed_directive_is_not_relayed_before_it_is_due(api, hub):
    now = datetime.now(UTC)

    def written(delay: int, created: datetime) -> Directive:
        directive = Directive(id=new_id("D"), topic="notification.send", delay_seconds=delay,
                              created_at=iso(created), updated_at=iso(created))
        hub.db.transact(hub.directives.create_requests([directive]))  # its writer died before the send
        return directive

    waiting = written(600, now - timedelta(seconds=120))  # due in 8 minutes
    overdue = written(600, now - timedelta(seconds=700))  # due 100 s ago
    assert outbox(hub)[waiting.id].startswith(iso(now - timedelta(seconds=120) + timedelta(seconds=600)))
    assert relay_outbox(hub, grace_seconds=0) == 1
    # The overdue one goes without any delay left: visible at once.
    assert [m["directive_id"] for m in queued_messages(hub)] == [overdue.id]
    assert waiting.id in outbox(hub)


def test_a_retried_delayed_directive_is_sent_without_waiting_again(api, hub):
    then = datetime.now(UTC) - timedelta(hours=1)
    directive = Directive(id=new_id("D"), topic="notification.send", delay_seconds=900, status="dead",
                          attempts=3, created_at=iso(then), updated_at=iso(then))
    hub.db.transact(hub.directives.create_requests([directive]))
    requeued, sent = retry(hub, directive.id)
    assert (requeued.status, sent) == ("queued", True)
    assert [m["directive_id"] for m in queued_messages(hub)] == [directive.id]


def test_the_relay_takes_a_claimed_directive_out_of_the_outbox_instead_of_sending_it(api, hub, quiet):
    """A worker of the previous release claimed without taking the directive out of the outbox."""
    open_session(hub, "quiet", "S")
    [directive_id] = commit.commit(hub, "quiet", "S", {}, header_key="k-old", actor="test").result["directives"]
    boto3.client("sqs").purge_queue(QueueUrl=hub.queue.url("directives"))
    hub.db.update({"pk": f"DIR#{directive_id}", "sk": "DIRECTIVE"}, {"status": "done", "gsi3pk": "DIRS#ST#done"})
    assert directive_id in outbox(hub)
    assert relay_outbox(hub, grace_seconds=0) == 0
    assert outbox(hub) == {}
    assert queued_messages(hub) == []
