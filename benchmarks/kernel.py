"""Kernel figures on the embedded emulator: the POS flow operation by operation, and orders per second.

The POS flow is the demo `pos` channel's order: create + 5 modifies + a 5-line commit, then the worker runs
its post-commit directive (notification.send). Each operation runs as an invocation does (benchmarks.emulated.invoke)
and is metered (benchmarks.meter): requests, capacity units, round trips, emulator time and our own time.

Run alone with `.venv/bin/python -m benchmarks.kernel`; `make bench` runs it with everything else. Never fails on a
timing. moto is far slower than DynamoDB, so the throughput figures compare changes to this code, not this code
to production.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.emulated import Worker, emulated_hub, invoke, seed_demo
from benchmarks.meter import Meter
from benchmarks.report import Row

CHANNEL = "pos"
# Demo prices exist for these; five lines, as the reference order has.
LINES = [("COFFEE", 1), ("CROISSANT", 2), ("TEA", 1), ("WATER", 3), ("COFFEE", 2)]
ORDERS = 10
THROUGHPUT_ORDERS = 40

CREATE, MODIFY, COMMIT = "pos: create session", "pos: modify (add_line)", "pos: commit (5 lines)"
REPLAY, RUN_NOTIFICATION = "pos: commit replay", "pos: run notification.send"
RELAY, GUARD = "outbox relay: one run (nothing to relay)", "guard: rate-limit hit (per keyed request)"
# One order, as the cost model prices it: every HTTP call and every directive the worker runs for it.
FLOW = [(CREATE, 1), (MODIFY, len(LINES)), (COMMIT, 1), (RUN_NOTIFICATION, 1)]


def pos_order(hub: Any, meter: Meter, directives: Worker, key: str) -> None:
    from chalicelib.services import commit, modify, sessions

    with meter.op(CREATE):
        invoke("http", lambda: sessions.create(hub, CHANNEL, {"session_key": key}, "bench"))
    for sku, qty in LINES:
        ops = [{"op": "add_line", "sku": sku, "qty": qty}]
        with meter.op(MODIFY):
            invoke("http", lambda ops=ops: modify.modify(hub, CHANNEL, key, ops, expected_rev=None, actor="bench"))
    with meter.op(COMMIT):
        invoke("http", lambda: commit.commit(hub, CHANNEL, key, {}, header_key=f"idem-{key}", actor="bench"))
    assert directives.run_one("pos") == "notification.send"
    with meter.op(REPLAY):
        outcome = invoke("http", lambda: commit.commit(hub, CHANNEL, key, {}, header_key=f"idem-{key}", actor="bench"))
    assert outcome.replayed


def measure(hub: Any, meter: Meter, orders: int = ORDERS) -> None:
    """Meters `orders` POS orders after one that warms every cache up (queue URLs, pydantic validators)."""
    directives = Worker(hub, meter, hub.settings.directives_queue, "directive_worker")
    mark = meter.mark()
    pos_order(hub, meter, directives, "POS-WARM")
    meter.discard_since(mark)
    for n in range(orders):
        pos_order(hub, meter, directives, f"POS-{n}")
    scheduled_and_guard(hub, meter, orders)


def scheduled_and_guard(hub: Any, meter: Meter, runs: int) -> None:
    """The outbox relay's run (every minute, whatever the traffic) and the guard's per-request write."""
    from chalicelib.ratelimit import RateLimiter
    from chalicelib.services.directives import relay_outbox

    # Enabled whatever the stage's settings say: the cost model prices the guard as deployed.
    limiter = RateLimiter(hub.db, enabled=True)
    for n in range(runs + 1):
        mark = meter.mark()
        with meter.op(RELAY, "outbox_relay"):
            invoke("schedule", lambda: relay_outbox(hub))
        with meter.op(GUARD):
            limiter.hit("key:bench", {"requests": 600})
        if n == 0:
            meter.discard_since(mark)


def one_order(hub: Any, key: str) -> None:
    from chalicelib.services import commit, modify, sessions

    invoke("http", lambda: sessions.create(hub, CHANNEL, {"session_key": key}, "bench"))
    for sku, qty in LINES:
        ops = [{"op": "add_line", "sku": sku, "qty": qty}]
        invoke("http", lambda ops=ops: modify.modify(hub, CHANNEL, key, ops, expected_rev=None, actor="bench"))
    invoke("http", lambda: commit.commit(hub, CHANNEL, key, {}, header_key=f"idem-{key}", actor="bench"))


def throughput(hub: Any) -> list[Row]:
    """Orders per second through the services, 1 and 4 threads (the directives pile up in the queue, unrun)."""
    rows = []
    for threads in (1, 4):
        started = time.perf_counter()

        def run(i: int, threads: int = threads) -> float:
            t0 = time.perf_counter()
            one_order(hub, f"T{threads}-{i}")
            return time.perf_counter() - t0

        with ThreadPoolExecutor(max_workers=threads) as pool:
            latencies = list(pool.map(run, range(THROUGHPUT_ORDERS)))
        elapsed = time.perf_counter() - started
        rows.append(Row(f"POS orders, {threads} thread(s)", f"{THROUGHPUT_ORDERS / elapsed:.1f} orders/s",
                        detail=f"median {statistics.median(latencies) * 1000:.0f} ms per order "
                               f"(create + 5 modifies + commit; {THROUGHPUT_ORDERS} orders, all committed)"))
    # The unrun notification directives of these orders: delivered now so later figures start from an empty queue.
    Worker(hub, None, hub.settings.directives_queue, "directive_worker", batch_size=10).drain()
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
    print(render([Section("POS flow"), *op_rows(meter.summaries()),
                  Section("throughput on the emulator"), *rows]))


if __name__ == "__main__":
    main()
