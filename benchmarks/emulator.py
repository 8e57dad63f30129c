"""What the embedded emulator costs as the table grows: the emulator's price, not ours.

moto 5.2 backs a transaction up by deep-copying every table it names, once per item it names, and turns every
attribute value of an answer into JSON through the botocore model; devstack/atomic_moto.py backs up only the items a
transaction names and writes items out as they are. This prints, against a table of 0 to 40,000 items (the first
10,000 products, the rest stock rows), the median time of a committed and of a cancelled 4-item transaction (put a
new item, update one, delete one, check one), the time to read every product (the search index build's read) and
the median time of a key query (one partition, as a hold owner's read is).

    .venv/bin/python -m benchmarks.emulator
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from benchmarks.emulated import emulated_hub

SIZES = (0, 2_000, 10_000, 40_000)
RUNS = 30


PRODUCTS = 10_000
STAMP = "2026-01-01T00:00:00.000Z"


def fill(hub: Any, upto: int, have: int) -> None:
    """Products, then stock rows, until the main table holds `upto` of them."""
    from chalicelib.inventory import keys

    items = [{**keys.product(f"S{n}"), **keys.product_indexes(f"S{n}", n, None), "sku": f"S{n}",
              "title": f"Product {n}", "description": "A product of about the usual size. " * 5, "price_q": n,
              "version": 1, "created_at": STAMP, "updated_at": STAMP} if n < PRODUCTS else
             {**keys.stock("main", f"S{n}"), **keys.stock_indexes("main", f"S{n}"), "store_code": "main",
              "sku": f"S{n}", "on_hand": 5, "reserved": 0, "available": 5}
             for n in range(have, upto)]
    hub.inventory.store.put_many(items)


def transaction(hub: Any, n: int, cancel: bool) -> list[dict[str, Any]]:
    db = hub.db
    return [
        {"Put": db.put_request({"pk": f"TX#{n}", "sk": "NEW", "n": n}, condition="attribute_not_exists(pk)")},
        {"Update": db.update_request({"pk": "TX", "sk": "COUNTER"}, {"n": n})},
        {"Delete": {"TableName": db.table, "Key": {"pk": {"S": f"TX#{n - 1}"}, "sk": {"S": "NEW"}}}},
        {"ConditionCheck": {"TableName": db.table, "Key": {"pk": {"S": "TX"}, "sk": {"S": "CHECK"}},
                            "ConditionExpression": "attribute_not_exists(pk)" if cancel else "attribute_exists(pk)"}},
    ]


def timed(hub: Any, cancel: bool, start: int) -> float:
    from chalicelib.storage.db import ConditionFailed

    samples = []
    for n in range(start, start + RUNS):
        writes = transaction(hub, n, cancel)
        began = time.perf_counter()
        try:
            hub.db.transact(writes)
        except ConditionFailed:
            assert cancel
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def key_query(hub: Any) -> float:
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        hub.db.query("pk", "TX", limit=10)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def main() -> None:
    print("emulator benchmark: TransactWriteItems against a growing table", file=sys.stderr)
    rows = []
    with emulated_hub() as hub:
        hub.db.put({"pk": "TX", "sk": "COUNTER", "n": 0})
        hub.db.put({"pk": "TX", "sk": "CHECK"})
        have, start = 0, 1
        for size in SIZES:
            fill(hub, size, have)
            have = size
            committed = timed(hub, cancel=False, start=start)
            cancelled = timed(hub, cancel=True, start=start + RUNS)
            start += 2 * RUNS
            began = time.perf_counter()
            products = sum(1 for _ in hub.inventory.store.all_products())
            read = time.perf_counter() - began
            rows.append(f"{size:>7,} items   committed p50 {committed:7.1f} ms   cancelled p50 {cancelled:7.1f} ms   "
                        f"every product ({products:,}) {read:6.2f} s   key query p50 {key_query(hub):6.1f} ms")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
