"""Real threads against the real (moto) path: no lost update, no double order, no oversold state."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest


def run_together(n: int, fn):
    """Starts n threads at the same instant and returns their results in thread order."""
    barrier = threading.Barrier(n)

    def task(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


@pytest.fixture
def cart(api, pos):
    api.session("pos", "HOT")
    return "HOT"


def test_16_threads_x_5_add_lines_lose_no_update(api, cart):
    def add_five(i):
        statuses = []
        for j in range(5):
            r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1, "meta": {"t": i, "j": j}})
            statuses.append(r.status if r.status == 200 else (r.status, r.json))
        return statuses

    results = run_together(16, add_five)
    assert [s for statuses in results for s in statuses if s != 200] == []
    session = api.get(f"/v1/channels/pos/sessions/{cart}").json
    assert session["rev"] == 80
    assert len(session["items"]) == 80
    assert len({line["line_id"] for line in session["items"]}) == 80
    assert {(line["meta"]["t"], line["meta"]["j"]) for line in session["items"]} == {
        (i, j) for i in range(16) for j in range(5)}
    assert session["pricing"]["total_q"] == 80 * 400


def test_pinned_writers_racing_on_one_rev_one_wins(api, cart):
    results = run_together(8, lambda i: api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1},
                                                   expected_rev=0))
    assert Counter(r.status for r in results) == {200: 1, 409: 7}
    assert {r.error_code() for r in results if r.status == 409} == {"stale_rev"}
    assert api.get(f"/v1/channels/pos/sessions/{cart}").json["rev"] == 1


def test_8_threads_8_keys_one_session_exactly_one_order(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    results = run_together(8, lambda i: api.commit("pos", cart, f"key-{i}"))
    assert Counter(r.status for r in results) == {201: 1, 409: 7}
    assert {r.error_code() for r in results if r.status == 409} == {"already_committed"}
    orders = api.get("/v1/orders").json["items"]
    assert len(orders) == 1
    winner = next(r for r in results if r.status == 201)
    assert orders[0]["ref"] == winner.json["order_ref"]


def test_8_threads_same_key_one_order_identical_bodies(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    results = run_together(8, lambda i: api.commit("pos", cart, "same-key"))
    assert Counter(r.status for r in results) == {201: 1, 200: 7}
    assert len({r.body for r in results}) == 1
    assert len(api.get("/v1/orders").json["items"]) == 1


def test_commit_racing_modify_never_commits_an_unseen_rev(api, cart):
    """Whatever interleaving happens, the order is the snapshot of the rev the commit read."""
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})

    def act(i):
        if i == 0:
            return api.commit("pos", cart, "race")
        return api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1})

    results = run_together(4, act)
    session = api.get(f"/v1/channels/pos/sessions/{cart}").json
    if results[0].status == 201:
        order = api.get(f"/v1/orders/{results[0].json['order_ref']}").json
        assert order["snapshot"]["session_rev"] == session["rev"]
        assert len(order["items"]) == len(session["items"])
        assert all(r.status in (200, 409) for r in results[1:])
    else:
        assert results[0].error_code() == "session_changed"


def test_concurrent_transitions_append_one_event_each(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    ref = api.commit("pos", cart, "t").json["order_ref"]
    results = run_together(6, lambda i: api.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"}))
    assert Counter(r.status for r in results) == {200: 1, 409: 5}
    events = api.get(f"/v1/orders/{ref}/events").json["items"]
    assert [e["event_type"] for e in events] == ["OrderCreated", "OrderStatusChanged"]
