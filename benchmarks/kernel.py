"""Kernel figures on the embedded emulator: DynamoDB requests per operation and orders per second.

Run with `make bench`. Prints figures; never fails on a timing. moto is far slower than DynamoDB, so the
throughput figures compare changes to this code, not this code to production.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.emulated import Calls, emulated_hub


def one_order(hub: Any, key: str, lines: int = 5) -> None:
    from chalicelib.services import commit, modify, sessions

    sessions.create(hub, "pos", {"session_key": key}, "bench")
    for i in range(lines):
        modify.modify(hub, "pos", key, [{"op": "add_line", "sku": "COFFEE", "qty": i + 1}], expected_rev=None,
                      actor="bench")
    commit.commit(hub, "pos", key, {}, header_key=f"idem-{key}", actor="bench")


def main() -> None:
    with emulated_hub() as hub:
        from chalicelib.services import channels, commit, modify, sessions

        channels.create(hub, {"code": "pos", "name": "POS", "config": {"pricing": {"prices": {"COFFEE": 500}}}})
        calls = Calls(hub.db.client)

        print("DynamoDB requests per operation")
        sessions.create(hub, "pos", {"session_key": "R"}, "bench")
        print(f"  create session             {calls.take()}")
        modify.modify(hub, "pos", "R", [{"op": "add_line", "sku": "COFFEE", "qty": 1}], expected_rev=None,
                      actor="bench")
        print(f"  modify (one add_line)      {calls.take()}")
        for _ in range(4):
            modify.modify(hub, "pos", "R", [{"op": "add_line", "sku": "COFFEE", "qty": 1}], expected_rev=None,
                          actor="bench")
        calls.take()
        commit.commit(hub, "pos", "R", {}, header_key="r", actor="bench")
        print(f"  commit of a 5-line session {calls.take()}")
        commit.commit(hub, "pos", "R", {}, header_key="r", actor="bench")
        print(f"  commit replay              {calls.take()}")

        for threads in (1, 4):
            n = 40
            started = time.perf_counter()

            def run(i: int, threads: int = threads) -> float:
                t0 = time.perf_counter()
                one_order(hub, f"T{threads}-{i}")
                return time.perf_counter() - t0

            with ThreadPoolExecutor(max_workers=threads) as pool:
                latencies = list(pool.map(run, range(n)))
            elapsed = time.perf_counter() - started
            print(f"create + 5 modifies + commit, {threads} thread(s): {n / elapsed:.1f} orders/s, "
                  f"median {statistics.median(latencies) * 1000:.0f} ms per order ({n} orders, all committed)")


if __name__ == "__main__":
    main()
