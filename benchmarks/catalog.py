"""Catalog figures on the emulator: search and autocomplete p50/p95 on 10,000 products (through the service, so
the product reads of each answer count), direct orders per second on one hot sku, and the index lag.

    .venv/bin/python -m benchmarks.catalog        # OMNIMAN_BENCH_PRODUCTS=2000 for a quicker run
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("OMNIMAN_CURSOR_SECRET", "bench-cursor-secret")  # search answers carry signed cursors

from benchmarks.emulated import emulated_hub, invoke

PRODUCTS = int(os.environ.get("OMNIMAN_BENCH_PRODUCTS", "10000"))
QUERIES = ["coffee", "running shoe", "runn", "cafe", "creme brulee", "wool", "chef knife", "tea", "jalapeno", "bag"]
PREFIXES = ["c", "ca", "caf", "run", "wo", "je", "jal", "sh", "te", "bl"]
HOT_SECONDS = 8.0
HOT_THREADS = 4


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def seed(hub: Any) -> float:
    from chalicelib.inventory import seed_data, service

    started = time.perf_counter()
    products = [{k: v for k, v in p.items() if k != "category_id"} | {"category": p["category_id"]}
                for p in seed_data.products(PRODUCTS)]
    service.import_catalog(hub, {"categories": seed_data.categories(), "stores": seed_data.stores()})
    for start in range(0, len(products), 500):
        service.import_catalog(hub, {"products": products[start:start + 500]})
    return time.perf_counter() - started


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
    # On an emulator of its own: moto copies a whole table for each item of a transaction, so a table holding the
    # 10,000 products would measure moto, not the product.
    with emulated_hub() as hub:
        per_second, placed, left = hot_sku(hub)
    with emulated_hub() as hub:
        from chalicelib.services import search

        hub.settings.search_check_seconds = 0
        seed_seconds = seed(hub)
        started = time.perf_counter()
        result = invoke("sqs", lambda: search.reindex(hub))
        rebuild = time.perf_counter() - started
        search.forget()
        started = time.perf_counter()
        search.current_index(hub)
        load = time.perf_counter() - started

        def query(i: int) -> None:
            invoke("http", lambda: search.search(hub, q=QUERIES[i % len(QUERIES)], min_price_q=None, max_price_q=None,
                                                 store=None, category=None, limit=20, cursor=None))

        def query_store(i: int) -> None:
            invoke("http", lambda: search.search(hub, q=QUERIES[i % len(QUERIES)], min_price_q=None, max_price_q=None,
                                                 store="main", category=None, limit=20, cursor=None))

        def complete(i: int) -> None:
            invoke("http", lambda: search.autocomplete(hub, PREFIXES[i % len(PREFIXES)]))

        searches, stored, completions = timed(query, 200), timed(query_store, 50), timed(complete, 300)
        # Index lag: a product write, its reindex, the next request seeing it (the check interval is 0 here;
        # deployed, add up to OMNIMAN_SEARCH_CHECK_SECONDS and the outbox -> SQS -> worker delivery).
        from chalicelib.inventory import service

        started = time.perf_counter()
        service.create_product(hub, {"sku": "LAG-1", "title": "Zyxwvut Lagmeter", "price_q": 100})
        invoke("sqs", lambda: search.reindex(hub))
        found = search.search(hub, q="zyxwvut", min_price_q=None, max_price_q=None, store=None, category=None,
                              limit=5, cursor=None).items
        lag = time.perf_counter() - started
    rows = [
        ("seed (import, batch writes)", f"{PRODUCTS} products in {seed_seconds:.1f} s"),
        ("index rebuild + publish", f"{rebuild:.2f} s (rebuilt {result['rebuilt']}, version {result['version']})"),
        ("index load into a process", f"{load * 1000:.0f} ms"),
        ("search, 20 per page", f"p50 {statistics.median(searches) * 1000:.1f} ms, p95 {pct(searches, 95):.1f} ms"),
        ("search with store=", f"p50 {statistics.median(stored) * 1000:.1f} ms, p95 {pct(stored, 95):.1f} ms"),
        ("autocomplete", f"p50 {statistics.median(completions) * 1000:.1f} ms, p95 {pct(completions, 95):.1f} ms"),
        ("index lag (write -> searchable)", f"{lag:.2f} s here ({'found' if found else 'NOT found'}); deployed add "
                                            "the outbox/SQS delivery and the 5 s check"),
        ("direct orders, one hot sku", f"{per_second:.1f}/s ({placed} in {HOT_SECONDS:.0f} s, {HOT_THREADS} threads; "
                                       f"available left {left})"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
