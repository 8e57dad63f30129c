"""Stock hold figures on the embedded emulator: requests per hold and holds per second, with contention.

Run with `make bench`. Prints figures; never fails on a timing. moto is far slower than DynamoDB, so these
compare changes to this code, not this code to production.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from benchmarks.emulated import Calls, emulated_hub

SKUS = [f"SKU-{n}" for n in range(5)]
HOLDS = 60


def main() -> None:
    with emulated_hub() as hub:
        from chalicelib.inventory import service
        from chalicelib.inventory.errors import InsufficientStock

        service.create_store(hub, {"code": "main", "name": "Main"})
        for sku in SKUS:
            service.create_product(hub, {"sku": sku, "name": sku, "price_q": 100})
            service.set_on_hand(hub, "main", sku, {"on_hand": 1000})
        stock = hub.inventory.stock
        calls = Calls(hub.db.client)

        print("DynamoDB requests per stock operation")
        stock.create_holds("main", "bench:R", [{"sku": SKUS[0], "qty": Decimal(1)}])
        print(f"  hold 1 sku                 {calls.take()}")
        stock.create_holds("main", "bench:R5", [{"sku": sku, "qty": Decimal(1)} for sku in SKUS])
        print(f"  hold 5 skus                {calls.take()}")
        stock.commit_holds("bench:R5", "ORD-1")
        print(f"  commit 5 holds             {calls.take()}")

        for threads, skus in ((1, SKUS[:1]), (4, SKUS[:1]), (4, SKUS)):
            started = time.perf_counter()

            def hold(i: int, threads: int = threads, skus: list[str] = skus) -> bool:
                try:
                    stock.create_holds("main", f"bench:{threads}-{len(skus)}-{i}",
                                       [{"sku": sku, "qty": Decimal(1)} for sku in skus])
                    return True
                except InsufficientStock:
                    return False

            with ThreadPoolExecutor(max_workers=threads) as pool:
                held = sum(pool.map(hold, range(HOLDS)))
            elapsed = time.perf_counter() - started
            print(f"  {threads} thread(s), {len(skus)} sku(s) per hold on the same rows: "
                  f"{HOLDS / elapsed:.1f} holds/s ({held}/{HOLDS} held)")
        levels = [stock.get_stock("main", sku) for sku in SKUS]
        assert all(level.available == level.on_hand - level.reserved >= 0 for level in levels)


if __name__ == "__main__":
    main()
