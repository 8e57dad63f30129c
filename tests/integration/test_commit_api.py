"""Commit: exactly once per idempotency key, only when the session is ready, never a 500."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from chalicelib.domain.errors import Conflict, Unprocessable
from tests.conftest import STAGE


@pytest.fixture
def ready(api, pos):
    api.session("pos", "S1")
    api.modify("pos", "S1", {"op": "add_line", "sku": "COFFEE", "qty": 2}, {"op": "add_line", "sku": "TEA", "qty": 1})
    return "S1"


@pytest.fixture
def stock_channel(api, registry):
    """A channel whose commit requires a fresh `stock` check."""
    registry.register_handler("test.stock")(lambda directive, ctx: {"ok": True})
    registry.track("handler", "test.stock")
    api.channel("shop", pricing_policy="external", config={
        "checks": {"stock": {"directive_topic": "test.stock"}},
        "required_checks_on_commit": ["stock"],
    })
    api.session("shop", "C1")
    r = api.modify("shop", "C1", {"op": "add_line", "sku": "SHOE", "qty": 1, "unit_price_q": 9_900})
    assert r.status == 200
    return "C1"


def write_check(api, key, rev, payload=None, issues=None, channel="shop", code="stock"):
    return api.post(f"/v1/channels/{channel}/sessions/{key}/checks/{code}",
                    {"expected_rev": rev, "payload": payload or {}, "issues": issues or []})


def orders(api):
    return api.get("/v1/orders").json["items"]


def test_commit_creates_the_order_and_replays_it(api, ready):
    first = api.commit("pos", ready, "key-1")
    assert first.status == 201, first.json
    assert "idempotent-replayed" not in first.headers
    body = first.json
    assert (body["status"], body["total_q"], body["items_count"]) == ("new", 1400, 2)
    session = api.get(f"/v1/channels/pos/sessions/{ready}").json
    assert (session["state"], session["order_ref"]) == ("committed", body["order_ref"])

    again = api.commit("pos", ready, "key-1")
    assert again.status == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json == body
    assert len(orders(api)) == 1


def test_key_in_body_works_and_must_agree_with_header(api, ready):
    r = api.commit("pos", ready, idem="a", body={"idempotency_key": "b"})
    assert (r.status, r.error_code()) == (400, "idempotency_key_mismatch")
    r = api.commit("pos", ready, idem=None, body={"idempotency_key": "body-key"})
    assert r.status == 201
    assert api.commit("pos", ready, idem="body-key").status == 200


@pytest.mark.parametrize("key", [None, "", " "])
def test_commit_without_key_is_400(api, ready, key):
    r = api.commit("pos", ready, idem=key)
    assert (r.status, r.error_code()) == (400, "missing_idempotency_key")
    assert api.get(f"/v1/channels/pos/sessions/{ready}").json["state"] == "open"


def test_malformed_key_or_body_is_400(api, ready):
    assert api.commit("pos", ready, idem="x" * 300).status == 400
    r = api.commit("pos", ready, body={"surprise": 1})
    assert (r.status, r.error_code()) == (400, "validation_error")


def test_same_key_different_request_is_422(api, ready):
    assert api.commit("pos", ready, "k", body={"expected_rev": 1}).status == 201
    r = api.commit("pos", ready, "k", body={})
    assert (r.status, r.error_code()) == (422, "idempotency_key_reused")


def test_same_key_on_another_session_is_422_not_the_first_order(api, ready):
    first = api.commit("pos", ready, "shared-key")
    api.session("pos", "S2")
    api.modify("pos", "S2", {"op": "add_line", "sku": "WATER", "qty": 1})
    r = api.commit("pos", "S2", "shared-key")
    assert (r.status, r.error_code()) == (422, "idempotency_key_reused")
    assert first.json["order_ref"] not in r.body.decode()
    assert api.get("/v1/channels/pos/sessions/S2").json["state"] == "open"


def test_same_key_in_flight_is_409_then_replays(api, ready, registry, hub, monkeypatch):
    monkeypatch.setattr(hub.settings, "commit_inflight_wait_ms", 100)
    gate, entered = threading.Event(), threading.Event()

    @registry.register_validator("slow", stage="commit")
    def slow(session, channel, ctx):
        entered.set()
        gate.wait(10)

    registry.track("validator", "slow")
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", api.commit("pos", ready, "flight")))
    first.start()
    assert entered.wait(5)
    r = api.commit("pos", ready, "flight")
    assert (r.status, r.error_code()) == (409, "idempotency_in_progress")
    assert r.headers["retry-after"] == "1"
    # The in-progress record expires with the Lambda's timeout, not after a day.
    record = boto3.client("dynamodb").scan(TableName=f"omniman-{STAGE}-idempotency")["Items"][0]
    expiry_ms = int(record["in_progress_expiration"]["N"])
    assert time.time() * 1000 < expiry_ms <= (time.time() + 30) * 1000
    gate.set()
    first.join(10)
    assert results["first"].status == 201
    again = api.commit("pos", ready, "flight")
    assert (again.status, again.json) == (200, results["first"].json)


def test_commit_whose_process_died_does_not_lock_its_key(api, ready, registry, hub):
    """A commit that outlives its Lambda timeout (in Lambda: killed) leaves an expired in-progress record."""
    from chalicelib.services import commit

    class ShortLambda:
        def get_remaining_time_in_millis(self) -> int:
            return 300

    gate, entered = threading.Event(), threading.Event()

    @registry.register_validator("stuck", stage="commit")
    def stuck(session, channel, ctx):
        if not entered.is_set():
            entered.set()
            gate.wait(10)

    registry.track("validator", "stuck")
    outcome = {}

    def dying_commit():
        try:
            commit.commit(hub, "pos", ready, {}, header_key="retry-me", actor="pos-1", lambda_context=ShortLambda())
        except Conflict as exc:
            outcome["zombie"] = exc.code

    zombie = threading.Thread(target=dying_commit)
    zombie.start()
    assert entered.wait(5)
    time.sleep(0.4)
    r = api.commit("pos", ready, "retry-me")
    assert r.status == 201, r.json
    assert len(orders(api)) == 1
    gate.set()
    zombie.join(10)
    assert outcome["zombie"] == "already_committed"
    assert len(orders(api)) == 1


def test_refusals_leave_the_key_usable(api, pos):
    api.session("pos", "E1")
    r = api.commit("pos", "E1", "k")
    assert (r.status, r.error_code()) == (409, "empty_session")
    api.modify("pos", "E1", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert api.commit("pos", "E1", "k").status == 201


def test_commit_of_abandoned_or_committed_session_is_409(api, ready):
    assert api.commit("pos", ready, "one").status == 201
    r = api.commit("pos", ready, "two")
    assert (r.status, r.error_code()) == (409, "already_committed")
    api.session("pos", "A1")
    api.modify("pos", "A1", {"op": "add_line", "sku": "TEA", "qty": 1})
    api.post("/v1/channels/pos/sessions/A1/abandon")
    r = api.commit("pos", "A1", "three")
    assert (r.status, r.error_code()) == (409, "already_abandoned")
    r = api.post("/v1/channels/pos/sessions/A1/abandon")
    assert (r.status, r.error_code()) == (409, "already_abandoned")


def test_unknown_session_is_404(api, pos):
    r = api.commit("pos", "ghost", "k")
    assert (r.status, r.error_code()) == (404, "session_not_found")


def test_commit_pinned_to_a_rev(api, ready):
    r = api.commit("pos", ready, "p", body={"expected_rev": 0})
    assert (r.status, r.error_code()) == (409, "stale_rev")
    assert r.json["error"]["details"]["current_rev"] == 1


def test_required_check_missing_then_stale_then_fresh(api, stock_channel):
    r = api.commit("shop", stock_channel, "c")
    assert (r.status, r.error_code()) == (409, "missing_checks")
    assert write_check(api, stock_channel, 1).json == {"applied": True}
    api.modify("shop", stock_channel, {"op": "set_data", "path": "note", "value": "gift"})
    session = api.get(f"/v1/channels/shop/sessions/{stock_channel}").json
    assert session["checks"] == {}  # a relevant change clears checks (I12)
    # A result computed for the old rev is dropped, not merged (I13).
    assert write_check(api, stock_channel, 1).json == {"applied": False}
    assert api.get(f"/v1/channels/shop/sessions/{stock_channel}").json["checks"] == {}
    assert write_check(api, stock_channel, 2).json == {"applied": True}
    r = api.commit("shop", stock_channel, "c")
    assert r.status == 201, r.json


def test_stale_required_check_refuses_commit(api, stock_channel, hub):
    # A stored check whose rev differs from the session's (written by an old writer) blocks commit.
    from chalicelib.domain.models import Check

    session, seq = hub.sessions.get_with_seq("shop", stock_channel)
    stale = session.model_copy(deep=True)
    stale.checks["stock"] = Check(rev=0, payload={})
    hub.sessions.save(stale, session, seq)
    r = api.commit("shop", stock_channel, "c")
    assert (r.status, r.error_code()) == (409, "stale_checks")


def test_blocking_issues_refuse_commit_and_non_blocking_do_not(api, stock_channel):
    issue = {"code": "insufficient_stock", "message": "only 0 left", "sku": "SHOE", "line_id": "L1",
             "actions": [{"id": "remove_item", "label": "Remove"}]}
    write_check(api, stock_channel, 1, issues=[issue])
    r = api.commit("shop", stock_channel, "c")
    assert (r.status, r.error_code()) == (409, "blocking_issues")
    [reported] = r.json["error"]["details"]["issues"]
    assert (reported["code"], reported["source"], reported["id"]) == ("insufficient_stock", "stock", "stock-1")
    write_check(api, stock_channel, 1, issues=[{**issue, "blocking": False}])
    assert api.commit("shop", stock_channel, "c").status == 201


@pytest.mark.parametrize("until", ["2000-01-01T00:00:00.000Z", "2000-01-01T00:00:00", "not a date"])
def test_expired_or_unreadable_holds_refuse_commit(api, stock_channel, until):
    write_check(api, stock_channel, 1, payload={"hold_expires_at": until})
    r = api.commit("shop", stock_channel, "c")
    assert (r.status, r.error_code()) == (409, "hold_expired")


def test_holds_in_the_future_commit(api, stock_channel):
    write_check(api, stock_channel, 1, payload={"hold_expires_at": "2999-01-01T00:00:00+00:00"})
    assert api.commit("shop", stock_channel, "c").status == 201


def test_a_check_landing_during_commit_does_not_fail_it(api, stock_channel, registry, hub):
    """Same rev, new check result: the commit re-reads and commits with the latest checks."""
    from chalicelib.services.checks import apply_check_result

    write_check(api, stock_channel, 1, payload={"seen": "first"})
    landed = []

    @registry.register_validator("late_check", stage="commit")
    def late_check(session, channel, ctx):
        if not landed:
            landed.append(apply_check_result(hub, "shop", stock_channel, "stock", expected_rev=1,
                                             payload={"seen": "second"}, issues=[]))

    registry.track("validator", "late_check")
    r = api.commit("shop", stock_channel, "c")
    assert (r.status, landed) == (201, ["applied"])
    order = api.get(f"/v1/orders/{r.json['order_ref']}").json
    assert order["snapshot"]["checks"]["stock"]["payload"] == {"seen": "second"}


def test_check_for_unknown_check_code_is_404_and_bad_body_400(api, stock_channel):
    r = write_check(api, stock_channel, 1, code="fraud")
    assert (r.status, r.error_code()) == (404, "check_not_found")
    r = api.post(f"/v1/channels/shop/sessions/{stock_channel}/checks/stock", {"payload": {}})
    assert r.status == 400


def test_modify_enqueues_the_channel_checks(api, stock_channel):
    r = api.get("/v1/directives?topic=test.stock")
    [directive] = r.json["items"]
    assert directive["queue"] == "checks"
    assert directive["payload"]["rev"] == 1
    assert directive["payload"]["check_code"] == "stock"
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"omniman-{STAGE}-checks")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in messages] == [f'{{"directive_id": "{directive["id"]}", "topic": "test.stock"}}']


@pytest.mark.parametrize(("error", "status"), [(Unprocessable("too big", code="order_too_big"), 422),
                                               (Conflict("kitchen closed", code="kitchen_closed"), 409)])
def test_commit_validator_refusal_is_its_own_code(api, ready, registry, error, status):
    @registry.register_validator("gate", stage="commit")
    def gate(session, channel, ctx):
        raise error

    registry.track("validator", "gate")
    r = api.commit("pos", ready, "v")
    assert (r.status, r.error_code()) == (status, error.code)
    assert api.get(f"/v1/channels/pos/sessions/{ready}").json["state"] == "open"
    assert orders(api) == []


def test_post_commit_directives_are_written_and_enqueued(api, web):
    api.session("web", "W1")
    api.modify("web", "W1", {"op": "add_line", "sku": "SHOE", "qty": 1, "unit_price_q": 5_000})
    body = api.commit("web", "W1", "w").json
    [directive_id] = body["directives"]
    directive = api.get(f"/v1/directives/{directive_id}").json
    assert (directive["topic"], directive["status"], directive["order_ref"]) == (
        "notification.send", "queued", body["order_ref"])
    assert directive["payload"]["total_q"] == 5_000
    listed = api.get(f"/v1/directives?order_ref={body['order_ref']}").json["items"]
    assert [d["id"] for d in listed] == [directive_id]
