"""Directives end to end on real (moto) SQS: the local worker loop, leases, dead letters, retry and redrive."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.directives.contract import PermanentFailure
from chalicelib.domain.models import Directive
from devstack.lambdas import Function
from devstack.poller import QueuePoller
from tests.conftest import STAGE
from tests.integration.test_directives import commit_order, dead_letters, directive, invoke, record, sqs_event


@pytest.fixture
def worker(chalice_app, hub, monkeypatch):
    """The local stack's event source mapping around the app's directive_worker, polled on demand."""
    import app as app_module

    monkeypatch.setattr(hub.settings, "directive_retry_base_seconds", 0)  # retries come back at once
    return QueuePoller(boto3.client("sqs"), hub.settings.directives_queue,
                       Function("directive_worker", app_module.directive_worker), wait_seconds=0)


def drain(poller: QueuePoller, rounds: int = 20) -> int:
    """Polls until the queue stays empty; returns how many messages were handled."""
    handled = 0
    for _ in range(rounds):
        got = poller.poll_once()
        if not got:
            return handled
        handled += got
    raise AssertionError("the queue never drained")


@pytest.fixture
def failing(api, registry):
    """A channel whose directive fails while `fail` is set; `runs` counts real executions."""
    state = {"fail": True, "runs": 0, "keys": []}

    @registry.register_handler("test.failing")
    def handler(directive, ctx):
        state["runs"] += 1
        state["keys"].append(ctx.idempotency_key)
        if state["fail"]:
            raise RuntimeError("downstream is down")
        return {"ok": True}

    registry.track("handler", "test.failing")
    api.channel("failing", pricing_policy="external", config={"post_commit_directives": ["test.failing"]})
    return state


def test_commit_to_done_through_the_local_worker_loop(api, web, worker):
    _, directive_id = commit_order(api, "web")
    assert drain(worker) == 1
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"], d["result"]) == ("done", 1, {"sent": True, "via": "log"})
    assert "lease_until" not in d or d["lease_until"] is None


def test_failing_directive_ends_dead_in_the_dlq_then_retry_completes_it(api, failing, worker):
    _, directive_id = commit_order(api, "failing")
    drain(worker)
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"], failing["runs"]) == ("dead", 5, 5)
    assert [reason for _, reason in dead_letters()] == ["RuntimeError: downstream is down"]

    failing["fail"] = False
    resp = api.post(f"/v1/directives/{directive_id}/retry")
    assert (resp.status, resp.json["status"], resp.json["requeued"]) == (202, "queued", True)
    again = api.post(f"/v1/directives/{directive_id}/retry")  # idempotent: no second message
    assert (again.status, again.json["requeued"]) == (200, False)
    assert drain(worker) == 1
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"], failing["runs"]) == ("done", 6, 6)
    assert set(failing["keys"]) == {directive_id}  # backends get the directive id as their idempotency key
    done = api.post(f"/v1/directives/{directive_id}/retry")
    assert (done.status, done.error_code()) == (409, "directive_done")
    drain(worker)
    assert failing["runs"] == 6


def test_redrive_moves_dead_letters_back_and_they_complete(api, failing, worker):
    ids = [commit_order_as(api, "failing", f"S{n}") for n in range(3)]
    drain(worker, rounds=40)
    assert {directive(api, i)["status"] for i in ids} == {"dead"}
    failing["fail"] = False

    resp = api.post("/v1/directives/redrive", {"max": 2})
    assert resp.json == {"moved": 2, "dropped": 0, "kept": 0}
    assert api.post("/v1/directives/redrive").json == {"moved": 1, "dropped": 0, "kept": 0}
    assert api.post("/v1/directives/redrive").json == {"moved": 0, "dropped": 0, "kept": 0}
    assert drain(worker) == 3
    assert {directive(api, i)["status"] for i in ids} == {"done"}


def test_redrive_drops_letters_of_directives_done_meanwhile_and_keeps_unknown_ones(api, failing, worker):
    _, directive_id = commit_order(api, "failing")
    drain(worker)
    failing["fail"] = False
    api.post(f"/v1/directives/{directive_id}/retry")
    drain(worker)
    invoke(api, sqs_event(record(body="not json")))
    assert api.post("/v1/directives/redrive").json == {"moved": 0, "dropped": 1, "kept": 1}
    assert [body for body, _ in dead_letters()] == ["not json"]


def test_redrive_body_is_validated(api):
    for body in ({"max": 0}, {"max": 1001}, {"max": "5"}, {"limit": 5}):
        resp = api.post("/v1/directives/redrive", body)
        assert (resp.status, resp.error_code()) == (400, "validation_error"), body
    assert api.post("/v1/directives/redrive", [1]).error_code() == "invalid_body"


def test_retry_errors(api, web):
    assert api.post("/v1/directives/D-NOPE/retry").error_code() == "directive_not_found"
    _, directive_id = commit_order(api, "web")
    resp = api.post(f"/v1/directives/{directive_id}/retry")  # queued: nothing to do
    assert (resp.status, resp.json["requeued"]) == (200, False)
    assert api.get("/v1/directives?status=nope").error_code() == "invalid_status"


def test_crash_right_after_the_commit_transaction_still_delivers(api, web, hub, worker, monkeypatch):
    """The process dies between the transaction and the send: the relay finds the directive in the outbox."""
    from chalicelib.services.directives import relay_outbox

    class ProcessKilled(BaseException):  # not an Exception: nothing on the way may catch and handle it
        pass

    def die(directives):
        raise ProcessKilled

    api.channel("crash", pricing_policy="external", config={"post_commit_directives": ["notification.send"]})
    api.session("crash", "S")
    api.modify("crash", "S", {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    monkeypatch.setattr(hub.queue, "dispatch", die)
    with pytest.raises(ProcessKilled):
        api.commit("crash", "S", "k-crash")
    monkeypatch.undo()

    order = api.get("/v1/orders?channel=crash").json["items"][0]
    [d] = api.get(f"/v1/directives?order_ref={order['ref']}").json["items"]
    assert d["status"] == "queued"
    assert drain(worker) == 0  # nothing reached SQS
    assert relay_outbox(hub, grace_seconds=0) == 1
    assert drain(worker) == 1
    assert directive(api, d["id"])["status"] == "done"


def test_concurrent_deliveries_of_one_directive_run_it_once(api, registry, hub):
    started, release, runs = threading.Event(), threading.Event(), []

    @registry.register_handler("test.slow")
    def slow(directive, ctx):
        runs.append(directive.id)
        started.set()
        release.wait(10)
        return {}

    registry.track("handler", "test.slow")
    api.channel("slow", pricing_policy="external", config={"post_commit_directives": ["test.slow"]})
    _, directive_id = commit_order(api, "slow")
    first = threading.Thread(target=invoke, args=(api, sqs_event(record(directive_id))))
    first.start()
    assert started.wait(10)
    # A duplicate delivered while the first runs: the live lease makes it settle without running.
    assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    release.set()
    first.join(10)
    assert runs == [directive_id]
    assert directive(api, directive_id)["status"] == "done"


def test_a_running_directive_whose_lease_ran_out_is_taken_over(api, failing, hub):
    failing["fail"] = False
    _, directive_id = commit_order(api, "failing")
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    hub.directives.claim(directive_id, past, past)  # a worker claimed it, then died
    assert invoke(api, sqs_event(record(directive_id, receive_count=2))) == {"batchItemFailures": []}
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"], failing["runs"]) == ("done", 2, 1)


def test_unknown_topic_goes_dead_at_once(api, registry):
    # Channels only accept topics with a handler: this one is removed after the order was committed.
    registry.register_handler("nobody.listens")(lambda directive, ctx: {})
    api.channel("odd", pricing_policy="external", config={"post_commit_directives": ["nobody.listens"]})
    _, directive_id = commit_order(api, "odd")
    registry.unregister("handler", "nobody.listens")
    # The message names the topic: the worker knows before any claim that nothing can run it.
    assert invoke(api, sqs_event(record(directive_id, topic="nobody.listens"))) == {"batchItemFailures": []}
    d = directive(api, directive_id)
    assert (d["status"], d["attempts"]) == ("dead", 0)
    assert d["last_error"] == "no handler is registered for topic 'nobody.listens'"
    assert dead_letters()[0][1] == d["last_error"]


def test_permanent_failure_skips_the_remaining_attempts(api, registry):
    @registry.register_handler("test.refused")
    def refused(directive, ctx):
        raise PermanentFailure("the provider refused the request")

    registry.track("handler", "test.refused")
    api.channel("refused", pricing_policy="external", config={"post_commit_directives": ["test.refused"]})
    _, directive_id = commit_order(api, "refused")
    assert invoke(api, sqs_event(record(directive_id))) == {"batchItemFailures": []}
    assert directive(api, directive_id)["status"] == "dead"


def test_max_attempts_per_topic(api, failing, hub, registry, monkeypatch):
    _, directive_id = commit_order(api, "failing")
    registry.register_handler("test.failing", max_attempts=2)(registry.handler("test.failing"))
    assert invoke(api, sqs_event(record(directive_id)))["batchItemFailures"]
    assert invoke(api, sqs_event(record(directive_id, receive_count=2))) == {"batchItemFailures": []}
    assert directive(api, directive_id)["status"] == "dead"
    # The operator's setting wins over the handler's.
    monkeypatch.setattr(hub.settings, "directive_topic_max_attempts", {"test.failing": 3})
    api.post(f"/v1/directives/{directive_id}/retry")
    assert invoke(api, sqs_event(record(directive_id, receive_count=2)))["batchItemFailures"]
    assert directive(api, directive_id)["status"] == "failed"


def test_hooks_report_completion_and_failure(api, failing, registry):
    seen = []

    def completed(directive: Directive, result, ctx):
        seen.append(("completed", directive.id, result))

    def failed(directive: Directive, exc, ctx):
        seen.append(("failed", directive.id, ctx["dead"]))

    registry.register_hook("directive.completed")(completed)
    registry.register_hook("directive.failed")(failed)
    registry.track("hook:directive.completed", completed)
    registry.track("hook:directive.failed", failed)
    _, directive_id = commit_order(api, "failing")
    invoke(api, sqs_event(record(directive_id)))
    failing["fail"] = False
    invoke(api, sqs_event(record(directive_id, receive_count=2)))
    assert seen == [("failed", directive_id, False), ("completed", directive_id, {"ok": True})]


def commit_order_as(api, channel: str, key: str) -> str:
    api.session(channel, key)
    api.modify(channel, key, {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    return api.commit(channel, key, f"k-{key}").json["directives"][0]


def test_dead_letter_queue_is_the_one_the_template_pairs(hub):
    url = hub.queue.dead_letter_url("directives")
    assert url.endswith(f"omniman-{STAGE}-directives-dlq")
