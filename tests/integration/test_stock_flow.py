"""The stock contrib end to end: modify -> stock.hold -> check -> commit -> stock.commit, through the workers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.test_directives import invoke, record, sqs_event

SHOP = "shop"


@pytest.fixture
def shop(api):
    api.post("/v1/stores", {"code": "main", "name": "Main"})
    for sku, price in (("SHOE", 5000), ("SOCK", 500), ("HAT", 2500)):
        api.post("/v1/products", {"sku": sku, "name": sku.title(), "price_q": price})
    stock_levels({"SHOE": 10, "SOCK": 3, "HAT": 1}, api)
    api.channel(SHOP, pricing_policy="external", config={
        "checks": {"stock": {"directive_topic": "stock.hold", "hold_ttl_minutes": 15}},
        "required_checks_on_commit": ["stock"],
        "post_commit_directives": ["stock.commit"],
    })
    return api


def stock_levels(levels, api):
    for sku, on_hand in levels.items():
        assert api.put(f"/v1/inventory/main/{sku}", {"on_hand": on_hand}).status == 200


def stock(api, sku):
    level = api.get(f"/v1/inventory/main/{sku}").json
    return level["on_hand"], level["reserved"], level["available"]


def run_queued(api, topic):
    """Runs every queued directive of `topic` through its worker, as SQS would deliver it."""
    function = "check_worker" if topic == "stock.hold" else "directive_worker"
    ran = []
    for d in reversed(api.get(f"/v1/directives?topic={topic}&status=queued").json["items"]):
        assert invoke(api, sqs_event(record(d["id"], queue=d["queue"])), function) == {"batchItemFailures": []}
        ran.append(api.get(f"/v1/directives/{d['id']}").json)
    return ran


def add(api, key, *lines):
    resp = api.modify(SHOP, key, *({"op": "add_line", "sku": sku, "qty": qty, "unit_price_q": 100}
                                   for sku, qty in lines))
    assert resp.status == 200, resp.json
    return resp.json


def test_hold_check_commit_then_stock_is_deducted(shop):
    shop.session(SHOP, "S")
    add(shop, "S", ("SHOE", 2), ("SOCK", 1))
    assert shop.commit(SHOP, "S", "k0").error_code() == "missing_checks"  # the hold has not run yet
    [hold] = run_queued(shop, "stock.hold")
    assert hold["result"] == {"outcome": "applied", "held": 2, "issues": []}
    check = shop.get(f"/v1/channels/{SHOP}/sessions/S").json["checks"]["stock"]
    assert (check["rev"], sorted(h["sku"] for h in check["payload"]["holds"])) == (1, ["SHOE", "SOCK"])
    assert stock(shop, "SHOE") == ("10", "2", "8")

    committed = shop.commit(SHOP, "S", "k1")
    assert committed.status == 201, committed.json
    [deduction] = run_queued(shop, "stock.commit")
    assert (deduction["status"], deduction["result"]) == ("done", {"committed": 2})
    assert stock(shop, "SHOE") == ("8", "0", "8")
    assert stock(shop, "SOCK") == ("2", "0", "2")


def test_a_check_for_an_older_rev_is_dropped(shop):
    shop.session(SHOP, "S")
    add(shop, "S", ("SHOE", 1))
    add(shop, "S", ("SHOE", 1))  # rev 2 before the rev-1 hold ran
    first, second = run_queued(shop, "stock.hold")
    assert (first["result"]["outcome"], second["result"]["outcome"]) == ("stale", "applied")
    session = shop.get(f"/v1/channels/{SHOP}/sessions/S").json
    assert session["checks"]["stock"]["rev"] == 2
    assert stock(shop, "SHOE") == ("10", "2", "8")  # the re-hold replaced the first one: no accumulation


def test_shortage_becomes_an_issue_resolved_by_adjusting(shop):
    shop.session(SHOP, "S")
    add(shop, "S", ("SOCK", 5), ("SHOE", 1))
    [hold] = run_queued(shop, "stock.hold")
    assert hold["result"]["issues"] == ["insufficient_stock"]
    session = shop.get(f"/v1/channels/{SHOP}/sessions/S").json
    [issue] = session["issues"]
    assert (issue["code"], issue["blocking"], issue["source"]) == ("insufficient_stock", True, "stock")
    assert issue["context"] == {"sku": "SOCK", "line_ids": ["L1"], "requested": "5", "available": "3"}
    assert [a["id"] for a in issue["actions"]] == ["adjust_qty", "remove_item"]
    assert stock(shop, "SHOE") == ("10", "0", "10")  # all or nothing: the SHOE was not held either
    assert shop.commit(SHOP, "S", "k1").error_code() == "blocking_issues"

    resolved = shop.post(f"/v1/channels/{SHOP}/sessions/S/resolve", {"issue_id": issue["id"],
                                                                      "action_id": "adjust_qty"})
    assert resolved.status == 200, resolved.json
    assert (resolved.json["rev"], resolved.json["items"][0]["qty"], resolved.json["issues"]) == (2, "3", [])
    run_queued(shop, "stock.hold")
    assert stock(shop, "SOCK") == ("3", "3", "0")
    assert shop.commit(SHOP, "S", "k2").status == 201


def test_unknown_sku_is_a_product_not_found_issue(shop):
    shop.session(SHOP, "S")
    add(shop, "S", ("GHOST", 1))
    run_queued(shop, "stock.hold")
    [issue] = shop.get(f"/v1/channels/{SHOP}/sessions/S").json["issues"]
    assert (issue["code"], [a["id"] for a in issue["actions"]]) == ("product_not_found", ["remove_item"])
    resolved = shop.post(f"/v1/channels/{SHOP}/sessions/S/resolve", {"issue_id": issue["id"],
                                                                      "action_id": "remove_item"})
    assert resolved.json["items"] == []


def hold_a_hat_long_ago(api, monkeypatch) -> None:
    """Session S holds the only HAT, but the hold was taken in 2020: its 15 minutes ran out long ago."""
    from chalicelib.inventory import backend

    api.session(SHOP, "S")
    add(api, "S", ("HAT", 1))
    monkeypatch.setattr(backend, "now_iso", lambda: "2020-01-01T00:00:00.000Z")
    run_queued(api, "stock.hold")
    monkeypatch.undo()


def test_expired_hold_frees_stock_at_once_refuses_commit_and_recheck_holds_again(shop, monkeypatch):
    hold_a_hat_long_ago(shop, monkeypatch)
    assert stock(shop, "HAT") == ("1", "0", "1")  # nobody swept it: expired is released
    resp = shop.commit(SHOP, "S", "k1")
    assert (resp.status, resp.error_code()) == (409, "hold_expired")
    # Hold again without touching the session: same rev, fresh holds, then the commit goes through.
    rechecked = shop.post(f"/v1/channels/{SHOP}/sessions/S/recheck")
    assert (rechecked.status, rechecked.json["rev"], len(rechecked.json["directives"])) == (202, 1, 1)
    run_queued(shop, "stock.hold")
    assert stock(shop, "HAT") == ("1", "1", "0")
    assert shop.commit(SHOP, "S", "k1").status == 201
    shop.session(SHOP, "T")
    add(shop, "T", ("HAT", 1))
    [other] = run_queued(shop, "stock.hold")
    assert other["result"]["issues"] == ["insufficient_stock"]  # the hat is sold


def test_abandon_releases_and_cancel_restocks(shop):
    shop.session(SHOP, "A")
    add(shop, "A", ("SHOE", 4))
    run_queued(shop, "stock.hold")
    assert shop.post(f"/v1/channels/{SHOP}/sessions/A/abandon").status == 200
    [release] = run_queued(shop, "stock.release")
    assert release["result"] == {"released": 1}
    assert stock(shop, "SHOE") == ("10", "0", "10")

    shop.session(SHOP, "C")
    add(shop, "C", ("SHOE", 3))
    run_queued(shop, "stock.hold")
    ref = shop.commit(SHOP, "C", "kc").json["order_ref"]
    run_queued(shop, "stock.commit")
    assert stock(shop, "SHOE") == ("7", "0", "7")
    assert shop.post(f"/v1/orders/{ref}/transition", {"status": "cancelled"}).status == 200
    [restock] = run_queued(shop, "stock.release")
    assert (restock["order_ref"], restock["result"]) == (ref, {"restocked": 1})
    assert stock(shop, "SHOE") == ("10", "0", "10")


def test_duplicate_stock_commit_deducts_once(shop, hub):
    from chalicelib.directives.contract import DirectiveContext
    from chalicelib.domain.registry import registry

    shop.session(SHOP, "S")
    add(shop, "S", ("SHOE", 2))
    run_queued(shop, "stock.hold")
    shop.commit(SHOP, "S", "k1")
    [queued] = shop.get("/v1/directives?topic=stock.commit").json["items"]
    directive = hub.directives.get(queued["id"])
    handler = registry.handler("stock.commit")
    # Twice past the worker's claim, as a redelivery after a crash between the deduction and `done` would.
    results = [handler(directive, DirectiveContext(hub, directive.id, 1, 5)) for _ in range(2)]
    assert results == [{"committed": 1}, {"committed": 0}]
    assert stock(shop, "SHOE") == ("8", "0", "8")


def test_no_oversell_when_32_sessions_race_for_the_last_10(shop, api):
    stock_levels({"SHOE": 10}, api)
    keys = [f"R{n}" for n in range(32)]
    for key in keys:
        api.session(SHOP, key)
        add(api, key, ("SHOE", 1))
    queued = api.get("/v1/directives?topic=stock.hold&status=queued&limit=50").json["items"]
    assert len(queued) == 32

    def deliver(d):
        return invoke(api, sqs_event(record(d["id"], queue="checks")), "check_worker")

    with ThreadPoolExecutor(max_workers=32) as pool:
        assert list(pool.map(deliver, queued)) == [{"batchItemFailures": []}] * 32
    assert stock(api, "SHOE") == ("10", "10", "0")
    sessions = [api.get(f"/v1/channels/{SHOP}/sessions/{key}").json for key in keys]
    held = [s["session_key"] for s in sessions if s["checks"]["stock"]["payload"]["holds"]]
    short = [s for s in sessions if s["issues"]]
    assert (len(held), len(short)) == (10, 22)
    for key in held:
        assert api.commit(SHOP, key, f"k-{key}").status == 201
    for key in (s["session_key"] for s in short):
        assert api.commit(SHOP, key, f"k-{key}").error_code() == "blocking_issues"
    run_queued(api, "stock.commit")
    assert stock(api, "SHOE") == ("0", "0", "0")


def test_check_stock_on_add_holds_for_channels_that_do_not_require_it(api):
    api.post("/v1/stores", {"code": "main", "name": "Main"})
    api.post("/v1/products", {"sku": "SHOE", "name": "Shoe", "price_q": 5000})
    stock_levels({"SHOE": 5}, api)
    api.channel("kiosk", pricing_policy="internal", config={
        "checks": {"stock": {"directive_topic": "stock.hold"}}, "check_stock_on_add": True})
    api.session("kiosk", "S")
    api.modify("kiosk", "S", {"op": "add_line", "sku": "SHOE", "qty": 1})
    api.modify("kiosk", "S", {"op": "set_qty", "line_id": "L1", "qty": 2})  # not an add: no hold
    assert len(api.get("/v1/directives?topic=stock.hold").json["items"]) == 1
    # Not required: the session commits without waiting for the check.
    assert api.commit("kiosk", "S", "k").status == 201


def test_holds_of_an_older_rev_arriving_late_never_replace_newer_ones(shop):
    shop.session(SHOP, "S")
    add(shop, "S", ("SHOE", 1))
    add(shop, "S", ("SHOE", 2))  # rev 2: 3 shoes
    older, newer = reversed(shop.get("/v1/directives?topic=stock.hold&status=queued").json["items"])
    for d in (newer, older):  # SQS does not keep order: rev 2's hold runs first
        assert invoke(shop, sqs_event(record(d["id"], queue="checks")), "check_worker") == {"batchItemFailures": []}
    assert shop.get(f"/v1/directives/{older['id']}").json["result"] == {"outcome": "stale", "held": 0, "issues": []}
    assert stock(shop, "SHOE") == ("10", "3", "7")
    assert shop.commit(SHOP, "S", "k").status == 201
    run_queued(shop, "stock.commit")
    assert stock(shop, "SHOE") == ("7", "0", "7")


def test_more_skus_than_one_transaction_holds_is_a_blocking_issue(shop):
    shop.session(SHOP, "S")
    add(shop, "S", *((f"SKU-{n}", 1) for n in range(50)))
    [hold] = run_queued(shop, "stock.hold")
    assert hold["result"]["issues"] == ["too_many_skus"]
    assert shop.commit(SHOP, "S", "k").error_code() == "blocking_issues"


def test_a_hold_arriving_after_the_commit_changes_nothing(shop, hub):
    from chalicelib.directives.contract import DirectiveContext
    from chalicelib.domain.registry import registry

    shop.session(SHOP, "S")
    add(shop, "S", ("SHOE", 2))
    [hold] = run_queued(shop, "stock.hold")
    shop.commit(SHOP, "S", "k")
    run_queued(shop, "stock.commit")
    late = hub.directives.get(hold["id"])  # redelivered after everything else, past the worker's claim
    result = registry.handler("stock.hold")(late, DirectiveContext(hub, late.id, 2, 5))
    assert result == {"outcome": "stale", "held": 0, "issues": []}
    assert stock(shop, "SHOE") == ("8", "0", "8")


def test_stock_of_an_expired_hold_goes_to_whoever_holds_next(shop, monkeypatch):
    hold_a_hat_long_ago(shop, monkeypatch)
    shop.session(SHOP, "T")
    add(shop, "T", ("HAT", 1))
    [taken] = run_queued(shop, "stock.hold")
    assert taken["result"]["held"] == 1  # at the expiry instant, without any sweep
    shop.post(f"/v1/channels/{SHOP}/sessions/S/recheck")
    [late] = run_queued(shop, "stock.hold")
    assert late["result"]["issues"] == ["insufficient_stock"]
    assert shop.commit(SHOP, "S", "k").error_code() == "blocking_issues"
    assert shop.commit(SHOP, "T", "k").status == 201


def test_recheck_errors(shop):
    assert shop.post(f"/v1/channels/{SHOP}/sessions/NOPE/recheck").error_code() == "session_not_found"
    shop.session(SHOP, "E")
    assert shop.post(f"/v1/channels/{SHOP}/sessions/E/recheck").error_code() == "empty_session"
    shop.post(f"/v1/channels/{SHOP}/sessions/E/abandon")
    assert shop.post(f"/v1/channels/{SHOP}/sessions/E/recheck").status == 409


def test_cancelling_a_shipped_order_does_not_put_stock_back(shop):
    shop.channel("ships", pricing_policy="external", config={
        "checks": {"stock": {"directive_topic": "stock.hold"}}, "required_checks_on_commit": ["stock"],
        "post_commit_directives": ["stock.commit"],
        "order_flow": {"initial_status": "new", "transitions": {"new": ["shipped", "cancelled"],
                                                                "shipped": ["cancelled"]},
                       "terminal_statuses": ["cancelled"]}})
    shop.session("ships", "S")
    shop.modify("ships", "S", {"op": "add_line", "sku": "SHOE", "qty": 1, "unit_price_q": 100})
    run_queued(shop, "stock.hold")
    ref = shop.commit("ships", "S", "k").json["order_ref"]
    run_queued(shop, "stock.commit")
    shop.post(f"/v1/orders/{ref}/transition", {"status": "shipped"})
    shop.post(f"/v1/orders/{ref}/transition", {"status": "cancelled"})
    assert shop.get("/v1/directives?topic=stock.release").json["items"] == []
    assert stock(shop, "SHOE") == ("9", "0", "9")


def test_a_stock_check_under_another_name_is_resolved_too(shop):
    shop.channel("kiosk", pricing_policy="external", config={
        "checks": {"shelf": {"directive_topic": "stock.hold"}}, "required_checks_on_commit": ["shelf"]})
    shop.session("kiosk", "S")
    shop.modify("kiosk", "S", {"op": "add_line", "sku": "HAT", "qty": 2, "unit_price_q": 100})
    run_queued(shop, "stock.hold")
    [issue] = shop.get("/v1/channels/kiosk/sessions/S").json["issues"]
    assert (issue["source"], issue["id"]) == ("shelf", "shelf:HAT")
    resolved = shop.post("/v1/channels/kiosk/sessions/S/resolve", {"issue_id": "shelf:HAT", "action_id": "adjust_qty"})
    assert (resolved.status, resolved.json["items"][0]["qty"]) == (200, "1")
