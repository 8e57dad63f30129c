"""Search figures on the seed catalog: index build time and size, load time, search and autocomplete latency.

Run with `.venv/bin/python -m benchmarks.search`. Prints figures; never fails on a timing. Everything is
in-process SQLite, so these are close to what one warm Lambda sees, minus the S3 download of the index.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from functools import partial

from chalicelib.inventory import seed_data
from chalicelib.search import SearchDoc, SearchIndex, build_index, fts5_available

CATALOG_SIZE = 10_000

SINGLE_WORDS = ["coffee", "leather", "backpack", "chocolate", "waterproof", "tent", "honey", "serum", "merino", "mug"]
TWO_WORDS = ["running shoes", "olive oil", "wireless earbuds", "dark roast", "yoga mat", "rain jacket", "cast iron"]
PREFIXES = ["ru", "cho", "back", "water", "espr", "headp", "sourd", "tre"]
ACCENTS = ["cafe", "CAFÉ", "creme brulee", "jalapeno", "uber", "acai", "eclair", "montana", "lumiere"]
AUTOCOMPLETE = ["c", "ca", "caf", "r", "ru", "run", "jal", "ub", "acai b", "chef", "cast ir", "w", "wir"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94]


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float]) -> None:
    p50, p95 = percentiles(samples)
    print(f"  {label:<34} p50 {p50:7.3f} ms   p95 {p95:7.3f} ms   ({len(samples)} queries)")


def main() -> None:
    print(f"SQLite FTS5 available: {fts5_available()}")
    started = time.perf_counter()
    products = seed_data.products(CATALOG_SIZE)
    generated = time.perf_counter() - started
    docs = [
        SearchDoc(p["sku"], p["title"], p["description"], p["category_id"], seed_data.category_name(p["category_id"]),
                  p["price_q"])
        for p in products
    ]
    started = time.perf_counter()
    data = build_index(docs, "bench")
    built = time.perf_counter() - started
    print(f"catalog of {CATALOG_SIZE} products generated in {generated * 1000:.0f} ms")
    print(f"index built in {built * 1000:.0f} ms, {len(data) / 1024 / 1024:.2f} MiB")
    loads = timed(lambda: SearchIndex.from_bytes(data), 20)
    print(f"index loaded from bytes: median {statistics.median(loads):.1f} ms (20 loads)")

    index = SearchIndex.from_bytes(data)
    rng = random.Random(1)
    price_filters = [(None, None), (1000, 5000), (None, 2000), (10000, None)]

    def queries(words: list[str], n: int, filtered: bool) -> list[Callable[[], object]]:
        runs: list[Callable[[], object]] = []
        for _ in range(n):
            q = rng.choice(words)
            low, high = rng.choice(price_filters[1:]) if filtered else (None, None)
            runs.append(partial(index.search, q, min_price_q=low, max_price_q=high))
        return runs

    print("search (limit 20)")
    for label, words in (("single word", SINGLE_WORDS), ("two words", TWO_WORDS), ("prefix of last word", PREFIXES),
                         ("accents folded", ACCENTS)):
        for filtered in (False, True):
            runs = queries(words, 60, filtered)
            report(f"{label}{', price filter' if filtered else ''}", [timed(run, 1)[0] for run in runs])
    report("blank q, category filter, page 10", timed(lambda: index.search("", category_id="kitchen", offset=180), 60))
    report("single word, page 20 (offset 380)", timed(lambda: index.search("leather", offset=380), 60))
    report("walk 200 hits of 'coffee' (10 x 20)",
           timed(lambda: [index.search("coffee", offset=o, limit=20) for o in range(0, 200, 20)], 30))
    print("autocomplete (top 10)")
    for prefix in AUTOCOMPLETE:
        report(repr(prefix), timed(partial(index.autocomplete, prefix), 30))
    hits = len(index.search("coffee", limit=100_000))
    print(f"('coffee' matches {hits} of {CATALOG_SIZE}; top autocomplete for 'ca': {index.autocomplete('ca')[:3]})")


if __name__ == "__main__":
    main()
