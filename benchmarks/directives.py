"""Directive figures on the embedded emulator: what running one directive costs, and a 200-directive drain.

The metered directive is a notification.send without a channel, whose handler does no I/O of its own: what it
costs is the worker's machinery alone (the claim, which also reads the directive, and the finish), the figure
the "claim + finish" target is about.

Run alone with `.venv/bin/python -m benchmarks.directives`; `make bench` runs it with everything else. Never fails
on a timing. moto is far slower than SQS and DynamoDB, so the drain figures compare changes to this code, not
this code to production.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks.emulated import Worker, emulated_hub
from benchmarks.meter import Meter
from benchmarks.report import Row

COUNT = 200
RUNS = 10
RUN_BARE = "directive: run notification.send"


def enqueue(hub: Any, count: int, tag: str) -> list[str]:
    from chalicelib.domain.clock import now_iso
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.models import Directive

    now = now_iso()
    directives = [Directive(id=new_id("D"), topic="notification.send", payload={"n": i, "run": tag},
                            created_at=now, updated_at=now) for i in range(count)]
    for start in range(0, count, 50):  # the outbox write, 50 per transaction as commits would
        hub.db.transact(hub.directives.create_requests(directives[start:start + 50]))
    assert hub.queue.dispatch(directives) == count
    return [d.id for d in directives]


def measure(hub: Any, meter: Meter, runs: int = RUNS) -> None:
    """Meters `runs` directives one at a time, after one that warms the worker up."""
    worker = Worker(hub, meter, hub.settings.directives_queue, "directive_worker")
    for n in range(runs + 1):
        mark = meter.mark()
        enqueue(hub, 1, f"metered-{n}")
        assert worker.run_one("directive") == "notification.send"
        if n == 0:
            meter.discard_since(mark)


def drain(hub: Any, pollers: int) -> float:
    started = time.perf_counter()
    threads = []
    for _ in range(pollers):
        # Batches of 10, as the deployed event source mappings deliver them.
        worker = Worker(hub, None, hub.settings.directives_queue, "directive_worker", batch_size=10)
        thread = threading.Thread(target=lambda w=worker: _until_empty(w))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _until_empty(worker: Worker) -> None:
    misses = 0
    while misses < 2:  # moto may briefly hide in-flight messages from a concurrent receive
        misses = misses + 1 if worker.poller.poll_once() == 0 else 0


def throughput(hub: Any) -> list[Row]:
    rows = []
    for pollers in (1, 2):
        ids = enqueue(hub, COUNT, f"p{pollers}")
        elapsed = drain(hub, pollers)
        statuses = sorted({hub.directives.get(i).status for i in ids})
        rows.append(Row(f"directive drain, {pollers} poller(s)", f"{COUNT / elapsed:.0f} directives/s",
                        detail=f"{COUNT} notification.send written to the outbox, sent, drained in batches of 10 "
                               f"({elapsed:.1f} s); statuses {statuses}"))
    return rows


def run(meter: Meter) -> list[Row]:
    """On a fresh emulator: the drain first (moto slows down as its tables fill), then the metered directives."""
    with emulated_hub() as hub:
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
    print(render([Section("directive execution"), *op_rows(meter.summaries()),
                  Section("throughput on the emulator"), *rows]))


if __name__ == "__main__":
    main()
