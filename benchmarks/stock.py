"""Stock figures on the embedded emulator: the stock flow operation by operation, the hold primitives, and holds
per second with contention.

The stock flow is the demo `shop` channel's order (internal catalog prices, the `stock` check, post-commit
stock.commit and notification.send): create, then 5 times a modify adding a sku followed by the check worker
running its stock.hold, then a 5-line commit and the worker running both post-commit directives.

Run alone with `.venv/bin/python -m benchmarks.stock`; `make bench` runs it with everything else. Never fails on a
timing. moto is far slower than DynamoDB, so the throughput figures compare changes to this code, not this code
to production.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from benchmarks.emulated import Worker, emulated_hub, ensure_stock, invoke, seed_demo
from benchmarks.meter import Meter
from benchmarks.report import Row

CHANNEL, STORE = "shop", "main"
FLOW_SKUS = [f"BENCH-{n}" for n in range(5)]
SKUS = [f"SKU-{n}" for n in range(5)]
HOLDS = 40
ORDERS = 6

CREATE, MODIFY, COMMIT = "stock: create session", "stock: modify (add_line)", "stock: commit (5 lines)"
RUN_HOLD, RUN_COMMIT, RUN_NOTIFICATION = ("stock: run stock.hold", "stock: run stock.commit",
                                          "stock: run notification.send")
# One order, as the cost model prices it: every HTTP call and every directive the workers run for it.
FLOW = [(CREATE, 1), (MODIFY, len(FLOW_SKUS)), (RUN_HOLD, len(FLOW_SKUS)), (COMMIT, 1), (RUN_COMMIT, 1),
        (RUN_NOTIFICATION, 1)]
HOLD_1, HOLD_5, COMMIT_HOLDS = "stock: hold 1 sku", "stock: hold 5 skus", "stock: commit 5 holds"
SWEEP = "hold sweeper: one run (nothing expired)"


def stock_order(hub: Any, meter: Meter, checks: Worker, directives: Worker, key: str) -> None:
    from chalicelib.services import commit, modify, sessions

    with meter.op(CREATE):
        invoke("http", lambda: sessions.create(hub, CHANNEL, {"session_key": key}, "bench"))
    for sku in FLOW_SKUS:
        ops = [{"op": "add_line", "sku": sku, "qty": 1}]
        with meter.op(MODIFY):
            invoke("http", lambda ops=ops: modify.modify(hub, CHANNEL, key, ops, expected_rev=None, actor="bench"))
        # A shopper adds the next item after the hold of this one landed: every hold is of the latest rev.
        assert checks.run_one("stock") == "stock.hold"
    with meter.op(COMMIT):
        invoke("http", lambda: commit.commit(hub, CHANNEL, key, {}, header_key=f"idem-{key}", actor="bench"))
    assert sorted(directives.run_one("stock") for _ in range(2)) == ["notification.send", "stock.commit"]


def measure(hub: Any, meter: Meter, orders: int = ORDERS) -> None:
    """Meters the hold primitives and the stock flow (`orders` orders after a warm-up one)."""
    from chalicelib.inventory.service import sweep_expired_holds

    ensure_stock(hub, STORE, FLOW_SKUS, on_hand=1_000_000, price_q=1500)
    ensure_stock(hub, STORE, SKUS, on_hand=1000)
    # The setup's catalog writes sent catalog.reindex directives: run them now, unmetered, so the flow's worker
    # receives the flow's own directives.
    Worker(hub, None, hub.settings.directives_queue, "directive_worker", batch_size=10).drain()
    # The primitives first, while the table is small (the figures that matter here are the requests and our time,
    # not the emulator's).
    stock = hub.inventory.stock
    for n in range(orders):
        with meter.op(HOLD_1, "check_worker"):
            stock.create_holds(STORE, f"bench:R{n}", [{"sku": SKUS[0], "qty": Decimal(1)}])
        with meter.op(HOLD_5, "check_worker"):
            stock.create_holds(STORE, f"bench:R5-{n}", [{"sku": sku, "qty": Decimal(1)} for sku in SKUS])
        with meter.op(COMMIT_HOLDS, "directive_worker"):
            stock.commit_holds(f"bench:R5-{n}", f"ORD-{n}")
        with meter.op(SWEEP, "hold_sweeper"):
            invoke("schedule", lambda: sweep_expired_holds(hub))

    checks = Worker(hub, meter, hub.settings.checks_queue, "check_worker")
    directives = Worker(hub, meter, hub.settings.directives_queue, "directive_worker")
    mark = meter.mark()
    stock_order(hub, meter, checks, directives, "STOCK-WARM")
    meter.discard_since(mark)
    for n in range(orders):
        stock_order(hub, meter, checks, directives, f"STOCK-{n}")


def throughput(hub: Any) -> list[Row]:
    from chalicelib.inventory.errors import InsufficientStock

    ensure_stock(hub, STORE, SKUS, on_hand=1000)
    stock = hub.inventory.stock
    rows = []
    for threads, skus in ((1, SKUS[:1]), (4, SKUS[:1]), (4, SKUS)):
        started = time.perf_counter()

        def hold(i: int, threads: int = threads, skus: list[str] = skus) -> bool:
            try:
                stock.create_holds(STORE, f"bench:{threads}-{len(skus)}-{i}",
                                   [{"sku": sku, "qty": Decimal(1)} for sku in skus])
                return True
            except InsufficientStock:
                return False

        with ThreadPoolExecutor(max_workers=threads) as pool:
            held = sum(pool.map(hold, range(HOLDS)))
        elapsed = time.perf_counter() - started
        rows.append(Row(f"holds, {threads} thread(s), {len(skus)} sku(s) each", f"{HOLDS / elapsed:.1f} holds/s",
                        detail=f"all on the same stock rows; {held}/{HOLDS} held"))
    levels = [stock.get_stock(STORE, sku) for sku in SKUS]
    assert all(level.available == level.on_hand - level.reserved >= 0 for level in levels), "oversold"
    return rows


def run(meter: Meter) -> list[Row]:
    """On a fresh emulator: the throughput first (moto slows down as its tables fill), then the metered flow."""
    with emulated_hub() as hub:
        seed_demo(hub)
        meter.attach(hub.db.client)
        meter.attach(hub.queue.sqs)
        rows = throughput(hub)
        measure(hub, meter)
    return rows


def main() -> None:
    from benchmarks.cost import op_rows
    from benchmarks.report import Section, render

    meter = Meter()
    rows = run(meter)
    print(render([Section("stock flow and hold primitives"), *op_rows(meter.summaries()),
                  Section("throughput on the emulator"), *rows]))


if __name__ == "__main__":
    main()
