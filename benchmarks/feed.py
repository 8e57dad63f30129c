"""Change feed figures on the emulator: how soon a long poll sees a new change, how fast a consumer catches up, and
what concurrent writers cost the feed (numbers given up, reader waits).

    .venv/bin/python -m benchmarks.feed          # or `make bench-feed`
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.emulated import emulated_hub, invoke

WAKES = 30
BACKLOG_ORDERS = 150
WRITERS = 8


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def place(hub: Any, key: str) -> str:
    from chalicelib.services import commit, modify, sessions

    invoke("http", lambda: sessions.create(hub, "pos", {"session_key": key}, "bench"))
    invoke("http", lambda: modify.modify(hub, "pos", key, [{"op": "add_line", "sku": "TEA", "qty": 1,
                                                           "unit_price_q": 400}], expected_rev=None, actor="bench"))
    done = invoke("http", lambda: commit.commit(hub, "pos", key, {}, header_key=f"feed-{key}", actor="bench"))
    return str(done.result["order_ref"])


def read(hub: Any, after: str, wait: int = 0, limit: int = 200) -> Any:
    from chalicelib.domain.access import SYSTEM
    from chalicelib.services import changes

    return invoke("http", lambda: changes.read(hub, SYSTEM, after=after, channel="pos", types=None, limit=limit,
                                               wait=str(wait)))


def wake_latency(hub: Any) -> list[float]:
    """A consumer long-polls; a till commits an order: the time from the commit's answer to the poll's."""
    samples = []
    cursor = read(hub, "now").next_cursor
    for i in range(WAKES):
        answered: dict[str, Any] = {}

        def poll(c: str = cursor, into: dict[str, Any] = answered) -> None:
            into.update(page=read(hub, c, wait=10), at=time.perf_counter())

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.15 + (i % 5) * 0.07)  # land at different points of the poll interval
        place(hub, f"WAKE-{i}")
        committed = time.perf_counter()
        poller.join()
        samples.append(answered["at"] - committed)
        cursor = answered["page"].next_cursor
        cursor = read(hub, cursor).next_cursor  # past the rest of that commit's changes
    return samples


def catch_up(hub: Any) -> tuple[int, float, int]:
    """A consumer that was away reads a backlog of changes, 200 a page."""
    start = read(hub, "now").next_cursor
    for i in range(BACKLOG_ORDERS):
        place(hub, f"BACK-{i}")
    began, seen, pages, cursor = time.perf_counter(), 0, 0, start
    while True:
        page = read(hub, cursor)
        pages += 1
        if not page.items:
            return seen, time.perf_counter() - began, pages
        seen += len(page.items)
        cursor = page.next_cursor


def contention(hub: Any) -> tuple[int, int, int, float]:
    """Writers racing on the same orders: changes landed, numbers given up, and the feed still gap-free."""
    from chalicelib.domain.access import SYSTEM
    from chalicelib.domain.errors import DomainError
    from chalicelib.services import orders

    refs = [place(hub, f"RACE-{i}") for i in range(20)]
    before = hub.feed.last("pos").seq
    start = read(hub, "now").next_cursor

    def move(ref: str) -> int:
        landed = 0
        for status in ("confirmed", "processing", "ready"):
            try:
                invoke("http", lambda s=status: orders.transition(hub, ref, {"status": s}, "bench", SYSTEM))
                landed += 1
            except DomainError:
                pass  # the other writer got there first
        return landed

    began = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        landed = sum(pool.map(move, refs * 2))
    elapsed = time.perf_counter() - began
    numbers = hub.feed.last("pos").seq - before
    served = 0
    cursor = start
    while (page := read(hub, cursor)).items:
        served += len(page.items)
        cursor = page.next_cursor
    return landed, numbers - landed, served, elapsed


def main() -> None:
    with emulated_hub() as hub:
        from chalicelib.services import channels

        channels.create(hub, {"code": "pos", "name": "POS", "pricing_policy": "external"})
        wakes = wake_latency(hub)
        seen, seconds, pages = catch_up(hub)
        landed, voided, served, elapsed = contention(hub)
    print("change feed (embedded moto, in process; 2 cores)")
    print(f"  long poll wake-up after a commit: p50 {pct(wakes, 50):.0f} ms, p95 {pct(wakes, 95):.0f} ms, "
          f"mean {statistics.mean(wakes) * 1000:.0f} ms, max {max(wakes) * 1000:.0f} ms over {len(wakes)} commits "
          "(polls every 0.3 s)")
    print(f"  catching up a backlog: {seen} changes in {pages} pages, {seconds * 1000:.0f} ms "
          f"({seen / seconds:.0f} changes/s)")
    print(f"  {WRITERS} writers racing on 20 orders: {landed} changes landed in {elapsed:.1f} s, {voided} numbers "
          f"given up by losing writers, {served} served to a reader ({'all' if served == landed else 'MISSING'})")


if __name__ == "__main__":
    main()
