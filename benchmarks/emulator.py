"""What one TransactWriteItems costs on the embedded emulator as the table grows: the emulator's price, not ours.

moto 5.2 backs a transaction up by deep-copying every table it names, once per item it names; devstack/atomic_moto.py
backs up only the items a transaction names. This prints the median time of a committed and of a cancelled
4-item transaction (put a new item, update one, delete one, check one) against a table of 0 to 40,000 items.

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


def fill(hub: Any, upto: int, have: int) -> None:
    """Filler items (about the size of a product) so that the main table holds `upto` of them."""
    items = [{"pk": f"FILL#{n}", "sk": "FILL", "title": f"filler {n}", "description": "x" * 200, "price_q": n}
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
            rows.append(f"{size:>7,} items   committed p50 {committed:7.1f} ms   cancelled p50 {cancelled:7.1f} ms")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
