"""The seed's fail-fast order: all lines' stock or none, rejected with its reasons, and order statistics."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.integration.test_directives import invoke, record, sqs_event

_n = itertools.count()


@pytest.fixture
def shelf(api):
    api.channel("counter", pricing_policy="internal")
    assert api.post("/v1/stores", {"code": "s1", "name": "Store 1"}).status == 201
    for sku, title, price, on_hand in (("HAT", "Sun Hat", 2500, 10), ("MUG", "Enamel Mug", 900, 5),
                                       ("PEN", "Fountain Pen", 4000, 0)):
        assert api.post("/v1/products", {"sku": sku, "title": title, "price_q": price}).status == 201
        assert api.put(f"/v1/inventory/s1/{sku}", {"on_hand": on_hand}).status == 200
    return api


def place(api, *items, channel="counter", store="s1", key=None):
    body = {"channel": channel, "store_code": store, "items": [{"sku": s, "quantity": q} for s, q in items]}
    return api.post("/v1/orders", body, headers={"Idempotency-Key": key or f"direct-{next(_n)}"})


def stock(api, sku):
    return api.get(f"/v1/inventory/s1/{sku}").json["available"]


def test_a_confirmed_order_deducts_every_line_and_is_a_normal_order(shelf):
    r = place(shelf, ("HAT", 2), ("MUG", "1.5"))
    assert r.status == 201, r.json
    order = r.json
    assert (order["status"], order["total_q"], order["channel_code"]) == ("confirmed", 2 * 2500 + 1350, "counter")
    assert [(i["sku"], i["name"], i["qty"]) for i in order["items"]] == [("HAT", "Sun Hat", "2"), ("MUG", "Enamel Mug",
                                                                                                  "1.5")]
    assert (stock(shelf, "HAT"), stock(shelf, "MUG")) == ("8", "3.5")
    assert shelf.get(f"/v1/orders/{order['ref']}").json["status"] == "confirmed"
    assert [o["ref"] for o in shelf.get("/v1/orders?channel=counter").json["items"]] == [order["ref"]]
    [event] = shelf.get(f"/v1/orders/{order['ref']}/events").json["items"]
    assert (event["event_type"], event["payload"]["to"], event["payload"]["store_code"]) == ("OrderCreated",
                                                                                             "confirmed", "s1")
    [confirmation] = shelf.get(f"/v1/directives?order_ref={order['ref']}").json["items"]
    assert (confirmation["topic"], confirmation["payload"]["type"]) == ("notification.send", "order_confirmed")
    assert shelf.post(f"/v1/orders/{order['ref']}/transition", {"status": "processing"}).status == 200


def test_a_short_line_rejects_the_order_and_deducts_nothing(shelf):
    r = place(shelf, ("HAT", 3), ("MUG", 10), ("PEN", 1))
    assert r.status == 201
    assert r.json["status"] == "rejected"
    assert r.json["snapshot"]["data"]["rejection_reason"] == (
        "Insufficient stock: Enamel Mug: requested 10, available 5; Fountain Pen: requested 1, available 0")
    assert (stock(shelf, "HAT"), stock(shelf, "MUG"), stock(shelf, "PEN")) == ("10", "5", "0")
    assert shelf.get(f"/v1/directives?order_ref={r.json['ref']}").json["items"] == []
    assert shelf.post(f"/v1/orders/{r.json['ref']}/transition", {"status": "confirmed"}).status == 409


@pytest.mark.parametrize(("items", "code"), [
    ([], "empty_items"), ([("HAT", 1), ("HAT", 2)], "duplicate_sku"), ([("HAT", 0)], "validation_error"),
    ([("HAT", -1)], "validation_error"), ([("NOPE", 1)], "unknown_sku"),
    ([(f"X{n}", 1) for n in range(81)], "too_many_lines")])
def test_bad_orders_are_400_and_write_nothing(shelf, items, code):
    r = place(shelf, *items)
    assert (r.status, r.error_code()) == (400, code), r.json
    assert shelf.get("/v1/orders?channel=counter").json["items"] == []
    assert stock(shelf, "HAT") == "10"


def test_a_direct_order_is_once_per_key_and_needs_the_channels_scope(shelf):
    first = place(shelf, ("HAT", 1), key="same")
    again = place(shelf, ("HAT", 1), key="same")
    assert (again.status, again.json["ref"], again.headers["idempotent-replayed"]) == (201, first.json["ref"], "true")
    assert stock(shelf, "HAT") == "9"
    assert place(shelf.as_key(None), ("HAT", 1)).status == 401
    assert place(shelf.new_key("channel:counter:read"), ("HAT", 1)).status == 403
    r = shelf.post("/v1/orders", {"channel": "counter", "store_code": "s1", "items": [{"sku": "HAT", "quantity": 1}]})
    assert (r.status, r.error_code()) == (400, "missing_idempotency_key")


def test_32_threads_racing_for_the_last_10_units(shelf):
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: place(shelf, ("HAT", 1)), range(32)))
    statuses = sorted(a.json["status"] for a in answers if a.status == 201)
    assert statuses == ["confirmed"] * 10 + ["rejected"] * 22, [a.json for a in answers if a.status != 201]
    assert all(a.json["snapshot"]["data"]["rejection_reason"] == "Insufficient stock: Sun Hat: requested 1, available 0"
               for a in answers if a.json["status"] == "rejected")
    level = shelf.get("/v1/inventory/s1/HAT").json
    assert (level["on_hand"], level["available"]) == ("0", "0")


def test_stats_equal_a_recount_after_a_concurrent_burst(shelf):
    shelf.channel("till2", pricing_policy="external",
                  config={"order_flow": {"initial_status": "pending", "transitions": {"pending": ["paid", "cancelled"]},
                                         "terminal_statuses": ["paid", "cancelled"]}})
    lock = threading.Lock()
    refs: list[str] = []

    def work(n: int) -> None:
        if n % 3 == 0:
            r = place(shelf, ("MUG", 1))
            ref = r.json["ref"]
        else:
            key = f"T{n}"
            shelf.session("till2", key)
            shelf.modify("till2", key, {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100 * n})
            ref = shelf.commit("till2", key, f"k{n}").json["order_ref"]
            if n % 3 == 1:
                assert shelf.post(f"/v1/orders/{ref}/cancel", {}).status == 200
        with lock:
            refs.append(ref)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(24)))
    orders = [shelf.get(f"/v1/orders/{ref}").json for ref in refs]
    earning = [o for o in orders if o["status"] not in ("rejected", "cancelled", "failed")]
    stats = shelf.get("/v1/orders/stats").json["totals"]
    by_status: dict[str, int] = {}
    for o in orders:
        by_status[o["status"]] = by_status.get(o["status"], 0) + 1
    assert stats["orders"] == len(orders) == 24
    assert stats["by_status"] == by_status
    assert stats["revenue_q"] == sum(o["total_q"] - o["refunded_q"] for o in earning)
    assert stats["average_order_value_q"] == stats["revenue_q"] // len(earning)
    per_channel = shelf.get("/v1/orders/stats?channel=counter").json["totals"]
    assert per_channel["orders"] == 8 and per_channel["by_status"] == {"confirmed": 5, "rejected": 3}
    per_store = shelf.get("/v1/orders/stats?store=s1").json["totals"]
    assert per_store["orders"] == 8
    [today] = shelf.get("/v1/orders/stats").json["days"]
    assert today["orders"] == 24
    assert shelf.new_key("channel:counter:read").get("/v1/orders/stats").json["totals"]["orders"] == 8
    assert shelf.new_key("channel:counter:read", "channel:till2").get("/v1/orders/stats").status == 403
    assert shelf.get("/v1/orders/stats?from=2026-01-10&to=2026-01-01").status == 400


# --- cancelling gives the stock back --------------------------------------------------------------------------------

def releases(api, ref):
    return api.get(f"/v1/directives?order_ref={ref}&topic=stock.release").json["items"]


def release_at_once(hub, directive_id: str, *, threads: int, attempt: int) -> list[dict]:
    """Runs the stock.release handler of one directive on `threads` threads released together (SQS redelivering it
    to several workers), past the worker's claim; their results."""
    from chalicelib.directives.contract import DirectiveContext
    from chalicelib.domain.registry import registry

    directive = hub.directives.get(directive_id)
    handler = registry.handler("stock.release")
    barrier = threading.Barrier(threads)

    def run(_: int) -> dict:
        barrier.wait()
        return handler(directive, DirectiveContext(hub, directive.id, attempt, 5))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))


@pytest.mark.parametrize("channel", ["counter", "checked"])
def test_cancelling_a_confirmed_order_restocks_it_exactly_once(shelf, hub, channel):
    # A channel with a stock check holds its sessions' stock; its direct orders still deducted without holds.
    shelf.channel("checked", pricing_policy="internal", config={"checks": {"stock": {"directive_topic": "stock.hold"}}})
    ref = place(shelf, ("HAT", 2), ("MUG", "1.5"), channel=channel).json["ref"]
    assert (stock(shelf, "HAT"), stock(shelf, "MUG")) == ("8", "3.5")
    assert shelf.post(f"/v1/orders/{ref}/cancel", {"reason": "changed my mind"}).status == 200
    [queued] = releases(shelf, ref)
    assert invoke(shelf, sqs_event(record(queued["id"])), "directive_worker") == {"batchItemFailures": []}
    assert shelf.get(f"/v1/directives/{queued['id']}").json["result"] == {"restocked": 2}
    level = shelf.get("/v1/inventory/s1/MUG").json
    # Numerically: moto keeps 3.5 + 1.5 as "5.0" where DynamoDB answers "5".
    assert [Decimal(level[k]) for k in ("on_hand", "reserved", "available")] == [5, 0, 5]
    assert stock(shelf, "HAT") == "10"

    # Delivered again past the worker's claim (a crash between the restock and `done`), by 4 threads at once.
    assert release_at_once(hub, queued["id"], threads=4, attempt=2) == [{"restocked": 0}] * 4
    assert (stock(shelf, "HAT"), Decimal(stock(shelf, "MUG"))) == ("10", 5)


def test_concurrent_first_runs_of_a_restock_put_it_back_once(shelf, hub):
    ref = place(shelf, ("HAT", 3)).json["ref"]
    assert shelf.post(f"/v1/orders/{ref}/cancel", {}).status == 200
    results = release_at_once(hub, releases(shelf, ref)[0]["id"], threads=6, attempt=1)
    assert sorted(r["restocked"] for r in results) == [0, 0, 0, 0, 0, 1]
    assert stock(shelf, "HAT") == "10"


def test_a_cancel_after_shipping_does_not_restock(shelf):
    shelf.channel("ships", pricing_policy="internal", config={"order_flow": {
        "initial_status": "confirmed", "transitions": {"confirmed": ["shipped", "cancelled"], "shipped": ["cancelled"]},
        "terminal_statuses": ["cancelled"]}})
    ref = place(shelf, ("HAT", 1), channel="ships").json["ref"]
    assert shelf.post(f"/v1/orders/{ref}/transition", {"status": "shipped"}).status == 200
    assert shelf.post(f"/v1/orders/{ref}/cancel", {}).status == 200
    assert releases(shelf, ref) == []
    assert stock(shelf, "HAT") == "9"


def test_a_rejected_order_restocks_nothing_when_cancelled(shelf):
    rejected = place(shelf, ("HAT", 1), ("PEN", 1)).json
    assert rejected["status"] == "rejected"
    cancel = shelf.post(f"/v1/orders/{rejected['ref']}/cancel", {})
    assert (cancel.status, cancel.error_code()) == (409, "invalid_transition")  # the default flow ends there
    shelf.channel("lenient", pricing_policy="internal", config={"order_flow": {
        "initial_status": "confirmed", "transitions": {"confirmed": ["cancelled"], "rejected": ["cancelled"]},
        "terminal_statuses": ["cancelled"]}})
    ref = place(shelf, ("HAT", 1), ("PEN", 1), channel="lenient").json["ref"]
    assert shelf.post(f"/v1/orders/{ref}/cancel", {}).status == 200
    assert releases(shelf, ref) == []
    assert (stock(shelf, "HAT"), stock(shelf, "PEN")) == ("10", "0")
