"""Catalog figures on the emulator: the import of 10,000 products (with their stock in 3 stores) in 20 batches while
the directive worker runs beside it, the rebuilds that cost and the lag until all of it is searchable; search and
autocomplete p50/p95 (through the service, so the product reads of each answer count); the lag from a lone product
write to its searchability through the worker; direct orders per second on one hot sku.

    .venv/bin/python -m benchmarks.catalog        # OMNIMAN_BENCH_PRODUCTS=2000 for a quicker run
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

os.environ.setdefault("OMNIMAN_CURSOR_SECRET", "bench-cursor-secret")  # search answers carry signed cursors

import boto3

from benchmarks.emulated import emulated_hub, invoke

PRODUCTS = int(os.environ.get("OMNIMAN_BENCH_PRODUCTS", "10000"))
QUERIES = ["coffee", "running shoe", "runn", "cafe", "creme brulee", "wool", "chef knife", "tea", "jalapeno", "bag"]
PREFIXES = ["c", "ca", "caf", "run", "wo", "je", "jal", "sh", "te", "bl"]
HOT_SECONDS = 8.0
HOT_THREADS = 4


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def seed(hub: Any) -> tuple[int, float, float]:
    """The seed's batches (cli.seed_batches: products and their stock rows) through the import service; returns
    how many batches, when it started and when the last batch was written (perf_counter seconds)."""
    from chalicelib.inventory import service
    from cli.__main__ import seed_batches

    batches = seed_batches(PRODUCTS)
    started = time.perf_counter()
    for body in batches:
        invoke("http", lambda body=body: service.import_catalog(hub, body))
    return len(batches), started, time.perf_counter()


@contextmanager
def directive_worker(hub: Any) -> Iterator[None]:
    """The directive queue's worker on a thread, as the local stack runs it (SQS delays honoured)."""
    from chalicelib.directives import worker
    from devstack.lambdas import Function
    from devstack.poller import QueuePoller

    def handle(event: dict[str, Any], context: Any) -> Any:
        return invoke("sqs", lambda: worker.handle_batch(hub, event, context))

    stop = threading.Event()
    poller = QueuePoller(boto3.client("sqs"), hub.settings.directives_queue, Function("directive_worker", handle),
                         wait_seconds=1)
    poller.start(stop)
    try:
        yield
    finally:
        stop.set()
        poller.join(30)


def searchable(hub: Any, q: str, expected: int, timeout: float) -> float | None:
    """Asks search (as a request would) until `q` finds `expected` hits; perf_counter time it did, or None."""
    from chalicelib.services import search

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        index = search.current_index(hub)
        if index is not None and len(index.search(q, offset=0, limit=expected + 1)) >= expected:
            return time.perf_counter()
        time.sleep(0.05)
    return None


def rebuilds(hub: Any) -> int:
    """Rebuilds the catalog.reindex directives have made so far."""
    seen, cursor = 0, None
    while True:
        page = hub.directives.list(topic="catalog.reindex", status=None, order_ref=None, limit=200, cursor=cursor)
        seen += sum((d.get("result") or {}).get("rebuilt", 0) for d in page.items)
        cursor = page.next_cursor
        if not cursor:
            return seen


def outcome_of_latest(hub: Any) -> str:
    """What the newest catalog.reindex directive did ("rebuilt", "updated": written into the index), once done."""
    for _ in range(100):
        page = hub.directives.list(topic="catalog.reindex", status=None, order_ref=None, limit=1, cursor=None)
        result = page.items[0].get("result") if page.items else None
        if result:
            return str(result.get("outcome"))
        time.sleep(0.05)
    return "unknown"


def timed(run: Any, n: int) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        run(i)
        samples.append(time.perf_counter() - started)
    return samples


def hot_sku(hub: Any) -> tuple[float, int, str]:
    """Orders of 1 unit on one sku from several threads: what one hot stock row sustains here."""
    from chalicelib.domain.access import SYSTEM
    from chalicelib.services import channels, direct_orders

    channels.create(hub, {"code": "hot", "name": "Hot", "pricing_policy": "internal"})
    from chalicelib.inventory import service

    service.create_store(hub, {"code": "hotstore", "name": "Hot store"})
    service.create_product(hub, {"sku": "HOT-1", "title": "Hot item", "price_q": 100})
    service.set_on_hand(hub, "hotstore", "HOT-1", {"on_hand": 1_000_000})
    done = threading.Event()
    placed: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        count = 0
        while not done.is_set():
            key = f"hot-{n}-{count}"
            invoke("http", lambda key=key: direct_orders.place(
                hub, {"channel": "hot", "store_code": "hotstore", "items": [{"sku": "HOT-1", "quantity": 1}]},
                actor="bench", caller=SYSTEM, key=key))
            count += 1
        with lock:
            placed.append(count)

    with ThreadPoolExecutor(HOT_THREADS) as pool:
        for n in range(HOT_THREADS):
            pool.submit(worker, n)
        time.sleep(HOT_SECONDS)
        done.set()
    total = sum(placed)
    level = hub.inventory.stock.get_stock("hotstore", "HOT-1")
    return total / HOT_SECONDS, total, str(level.available)


def main() -> None:
    print(f"catalog benchmark: {PRODUCTS} products on the embedded emulator", file=sys.stderr)
    with emulated_hub() as hub:
        per_second, placed, left = hot_sku(hub)
    with emulated_hub() as hub, directive_worker(hub):
        from chalicelib.config import Settings
        from chalicelib.services import search

        hub.settings.search_check_seconds = 0  # deployed, add up to OMNIMAN_SEARCH_CHECK_SECONDS (5)
        for name in ("reindex_quiet_seconds", "reindex_burst_quiet_seconds", "reindex_max_lag_seconds"):
            setattr(hub.settings, name, Settings.model_fields[name].default)  # the product's, not the flows'

        batches, started, written = seed(hub)
        everything = searchable(hub, "", PRODUCTS, timeout=600)
        built = rebuilds(hub)

        def query(i: int) -> None:
            invoke("http", lambda: search.search(hub, q=QUERIES[i % len(QUERIES)], min_price_q=None, max_price_q=None,
                                                 store=None, category=None, limit=20, cursor=None))

        def query_store(i: int) -> None:
            invoke("http", lambda: search.search(hub, q=QUERIES[i % len(QUERIES)], min_price_q=None, max_price_q=None,
                                                 store="main", category=None, limit=20, cursor=None))

        def complete(i: int) -> None:
            invoke("http", lambda: search.autocomplete(hub, PREFIXES[i % len(PREFIXES)]))

        searches, stored, completions = timed(query, 200), timed(query_store, 50), timed(complete, 300)
        search.forget()
        began = time.perf_counter()
        search.current_index(hub)
        load = time.perf_counter() - began
        # A lone write once the import is long over: its directive waits out the quiet period, then rebuilds.
        from chalicelib.inventory import service

        time.sleep(hub.settings.reindex_burst_quiet_seconds)
        began = time.perf_counter()
        invoke("http", lambda: service.create_product(hub, {"sku": "LAG-1", "title": "Zyxwvut Lagmeter",
                                                            "price_q": 100}))
        found = searchable(hub, "zyxwvut", 1, timeout=120)
        lone = outcome_of_latest(hub)
        # A lone change: written into the published index like the new product, its old words taken out.
        time.sleep(hub.settings.reindex_burst_quiet_seconds)
        changed_at = time.perf_counter()
        invoke("http", lambda: service.replace_product(hub, "LAG-1", {"title": "Qwertzu Lagmeter", "price_q": 100},
                                                       if_match=1))
        changed = searchable(hub, "qwertzu", 1, timeout=120)
        change = outcome_of_latest(hub)
    lag = f"{everything - written:.1f} s after its last batch" if everything else "NOT searchable within 10 min"
    rows = [
        (f"import, {batches} batches (worker beside it)", f"{PRODUCTS} products + {3 * PRODUCTS} stock rows in "
                                                       f"{written - started:.1f} s"),
        ("index rebuilds it cost", f"{built} (quiet {hub.settings.reindex_quiet_seconds} s / after a run "
                                   f"{hub.settings.reindex_burst_quiet_seconds} s / lag bound "
                                   f"{hub.settings.reindex_max_lag_seconds} s)"),
        ("all of it searchable", lag),
        ("index load into a process", f"{load * 1000:.0f} ms"),
        ("search, 20 per page", f"p50 {statistics.median(searches) * 1000:.1f} ms, p95 {pct(searches, 95):.1f} ms"),
        ("search with store=", f"p50 {statistics.median(stored) * 1000:.1f} ms, p95 {pct(stored, 95):.1f} ms"),
        ("autocomplete", f"p50 {statistics.median(completions) * 1000:.1f} ms, p95 {pct(completions, 95):.1f} ms"),
        ("new product -> searchable", (f"{found - began:.2f} s ({lone}); deployed add the SQS delivery and "
                                       "up to the 5 s check") if found else "NOT found within 2 min"),
        ("changed product -> searchable", (f"{changed - changed_at:.2f} s ({change}); deployed add the same")
                                          if changed else "NOT found within 2 min"),
        ("direct orders, one hot sku", f"{per_second:.1f}/s ({placed} in {HOT_SECONDS:.0f} s, {HOT_THREADS} threads; "
                                       f"available left {left})"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
