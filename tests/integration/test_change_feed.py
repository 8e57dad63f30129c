"""GET /v1/changes: every order event and session commit/abandon of a channel, once, in order, resumable."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.domain import feed as feed_domain
from chalicelib.storage.db import ConditionFailed

FLOW = ["confirmed", "processing", "ready", "dispatched", "delivered", "completed"]


def order(api: Any, channel: str, key: str, idem: str | None = None) -> str:
    api.session(channel, key)
    assert api.modify(channel, key, {"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 500}).status == 200
    resp = api.commit(channel, key, idem or f"idem-{channel}-{key}")
    assert resp.status == 201, resp.json
    return resp.json["order_ref"]


def changes(api: Any, query: str = "") -> dict[str, Any]:
    resp = api.get(f"/v1/changes{query}")
    assert resp.status == 200, resp.json
    return resp.json


@pytest.fixture
def shops(api):
    api.channel("pos", pricing_policy="external")
    api.channel("web", pricing_policy="external")


def test_a_commit_shows_its_order_events_then_the_session_commit(api, shops):
    ref = order(api, "pos", "T1")
    page = changes(api, "?channel=pos")
    assert [(c["type"], c["order_ref"], c["seq"]) for c in page["items"]] == [
        ("OrderCreated", ref, 1), ("SessionCommitted", ref, 2)]
    created = page["items"][0]
    assert created["event"] == api.get(f"/v1/orders/{ref}/events").json["items"][0]
    assert (created["channel"], created["session_key"], created["id"]) == ("pos", "T1", f"{ref}:1")
    assert page["items"][1]["event"]["order_ref"] == ref
    # The cursor an item carries resumes right after it; the page's cursor after the last.
    assert changes(api, f"?channel=pos&after={created['cursor']}")["items"][0]["type"] == "SessionCommitted"
    assert changes(api, f"?channel=pos&after={page['next_cursor']}")["items"] == []

    assert api.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"}).status == 200
    later = changes(api, f"?channel=pos&after={page['next_cursor']}")["items"]
    assert [(c["type"], c["event"]["payload"]["to"], c["seq"]) for c in later] == [
        ("OrderStatusChanged", "confirmed", 3)]


def test_abandon_and_type_filter_and_now(api, shops):
    head = changes(api, "?channel=pos&after=now")
    assert head["items"] == []
    order(api, "pos", "T1")
    api.session("pos", "T2")
    assert api.post("/v1/channels/pos/sessions/T2/abandon", {}).status == 200
    after_head = changes(api, f"?channel=pos&after={head['next_cursor']}")["items"]
    assert [c["type"] for c in after_head] == ["OrderCreated", "SessionCommitted", "SessionAbandoned"]
    assert after_head[-1]["session_key"] == "T2" and after_head[-1]["order_ref"] is None
    only = changes(api, "?channel=pos&types=SessionAbandoned,OrderPaid")
    assert [c["type"] for c in only["items"]] == ["SessionAbandoned"]
    # The filtered-out changes are behind the cursor too: nothing comes back twice.
    assert changes(api, f"?channel=pos&after={only['next_cursor']}")["items"] == []
    # `now` is the head: what is there is behind it.
    assert changes(api, f"?channel=pos&after={changes(api, '?channel=pos&after=now')['next_cursor']}")["items"] == []


def test_an_abandon_records_who_abandoned_it(api, shops):
    api.session("pos", "T9")
    assert api.post("/v1/channels/pos/sessions/T9/abandon", {}, headers={"X-Actor": "till-3"}).status == 200
    [change] = changes(api, "?channel=pos&types=SessionAbandoned")["items"]
    assert change["event"]["actor"] == "till-3"
    bad = api.post("/v1/channels/pos/sessions/T9/abandon", {}, headers={"X-Actor": ";"})
    assert (bad.status, bad.error_code()) == (400, "invalid_actor")  # a code its contract lists (tests/contract.py)


def test_keys_see_only_their_channels(api, shops):
    order(api, "pos", "P1")
    order(api, "web", "W1")
    till = api.new_key("channel:pos:read")
    assert {c["channel"] for c in changes(till)["items"]} == {"pos"}
    assert till.get("/v1/changes?channel=web").error_code() == "forbidden"
    everything = changes(api)["items"]
    assert sorted({c["channel"] for c in everything}) == ["pos", "web"]
    assert api.get("/v1/changes?channel=nowhere").error_code() == "channel_not_found"
    assert api.as_key(None).get("/v1/changes").status == 401


@pytest.mark.parametrize("query, code", [
    ("?after=junk", "invalid_cursor"), ("?after=pos:1:2,pos:3:4", "invalid_cursor"),
    ("?after=POS:1:2", "invalid_cursor"),
    ("?wait=21", "invalid_wait"), ("?wait=-1", "invalid_wait"), ("?wait=1.5", "invalid_wait"),
    ("?types=Order Created", "invalid_types"), ("?types=,", "invalid_types"), ("?limit=0", "invalid_limit"),
])
def test_bad_parameters_are_400(api, shops, query, code):
    resp = api.get(f"/v1/changes{query}")
    assert (resp.status, resp.error_code()) == (400, code)


def test_a_cursor_older_than_retention_is_410_with_the_oldest_valid_one(api, shops):
    order(api, "pos", "T1")
    resp = api.get("/v1/changes?channel=pos&after=pos:1:1000")
    assert (resp.status, resp.error_code()) == (410, "cursor_expired")
    oldest = resp.json["error"]["details"]["oldest_cursor"]
    assert [c["seq"] for c in changes(api, f"?channel=pos&after={oldest}")["items"]] == [1, 2]


def test_a_writer_that_loses_its_transaction_leaves_no_gap_to_wait_for(api, shops, hub):
    api.session("pos", "RACE")
    api.modify("pos", "RACE", {"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 500})
    barrier = threading.Barrier(6)

    def commit(i: int) -> int:
        barrier.wait()
        return api.commit("pos", "RACE", f"race-{i}").status

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(commit, range(6)))
    assert statuses.count(201) == 1
    # However many numbers the losers took, the reader gets past them now, without waiting out a gap.
    page = changes(api, "?channel=pos")
    assert [c["type"] for c in page["items"]] == ["OrderCreated", "SessionCommitted"]
    assert int(page["next_cursor"].split(":")[1]) == hub.feed.last("pos").seq


def test_a_writer_that_died_holds_the_feed_until_its_number_is_voided(api, shops, hub, monkeypatch):
    monkeypatch.setattr(feed_domain, "GAP_TIMEOUT_SECONDS", 0.5)
    [dead] = hub.feed.allocate("pos", 1)  # taken by a writer that never wrote its transaction
    order(api, "pos", "T1")
    page = changes(api, "?channel=pos")
    assert page["items"] == [] and page["next_cursor"] == "pos:0:0"  # it may still land: wait for it
    time.sleep(0.6)
    page = changes(api, "?channel=pos")
    assert [c["seq"] for c in page["items"]] == [dead + 1, dead + 2]
    # The voided number can never be written after all: the late writer's transaction fails and is retried.
    from chalicelib.domain.feed import session_change

    late = hub.feed.entry_requests("pos", [dead], [session_change("SessionAbandoned", "pos", "X", "t", "now")],
                                   "now", 0, 0)
    with pytest.raises(ConditionFailed):
        hub.db.transact(late)


def test_a_long_poll_answers_within_a_second_of_a_new_change(api, shops):
    head = changes(api, "?channel=pos&after=now")["next_cursor"]
    answered: dict[str, Any] = {}

    def poll() -> None:
        resp = api.get(f"/v1/changes?channel=pos&after={head}&wait=15")
        answered.update(at=time.monotonic(), resp=resp)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)
    assert not answered, "a long poll with nothing new answered early"
    order(api, "pos", "T1")
    committed = time.monotonic()
    poller.join(15)
    assert answered["resp"].status == 200
    assert [c["type"] for c in answered["resp"].json["items"]][:1] == ["OrderCreated"]
    assert answered["at"] - committed < 1.0


def test_a_long_poll_with_nothing_new_answers_empty_after_its_wait(api, shops):
    order(api, "pos", "T1")
    cursor = changes(api, "?channel=pos")["next_cursor"]
    page = changes(api, f"?channel=pos&after={cursor}&wait=1")
    assert page == {"items": [], "next_cursor": cursor}


def test_two_consumers_see_200_concurrent_changes_exactly_once_in_order(api, shops, hub):
    refs = {ch: [order(api, ch, f"K{i}") for i in range(17)] for ch in ("pos", "web")}  # 34 orders
    start = changes(api, "?after=now")["next_cursor"]
    writers_done = threading.Event()

    def consume(limit: int) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        cursor = start
        while True:
            finished = writers_done.is_set()
            page = changes(api, f"?after={cursor}&limit={limit}&wait=1")
            seen += page["items"]
            cursor = page["next_cursor"]
            if finished and not page["items"]:
                return seen

    def move(ref: str) -> list[int]:
        # Two writers push each order along the same flow at once: every step is won once and lost once.
        return [api.post(f"/v1/orders/{ref}/transition", {"status": s}).status for s in FLOW]

    with ThreadPoolExecutor(2) as consumers:
        seen_a, seen_b = consumers.submit(consume, 7), consumers.submit(consume, 50)
        with ThreadPoolExecutor(12) as writers:
            jobs = [ref for ch in refs.values() for ref in ch] * 2
            outcomes = [s for statuses in writers.map(move, jobs) for s in statuses]
        writers_done.set()
        seen = [seen_a.result(timeout=120), seen_b.result(timeout=120)]

    assert set(outcomes) <= {200, 409}
    expected = {(ref, v) for ch in refs.values() for ref in ch for v in range(2, 8)}
    assert len(expected) == 204
    for consumer in seen:
        ids = [(c["order_ref"], c["event"]["metadata"]["version"]) for c in consumer]
        assert len(ids) == len(set(ids)), "a change was seen twice"
        assert set(ids) == expected
        by_channel: dict[str, list[int]] = defaultdict(list)
        by_order: dict[str, list[int]] = defaultdict(list)
        for c in consumer:
            by_channel[c["channel"]].append(c["seq"])
            by_order[c["order_ref"]].append(c["event"]["metadata"]["version"])
        assert all(seqs == sorted(seqs) for seqs in by_channel.values())
        assert all(versions == list(range(2, 8)) for versions in by_order.values())
        statuses = {ref: [c["event"]["payload"]["to"] for c in consumer if c["order_ref"] == ref]
                    for ch in refs.values() for ref in ch}
        assert all(s == FLOW for s in statuses.values())
