"""Search and autocomplete over the FTS5 index: matching, ranking, filters, live availability, the index lag."""

from __future__ import annotations

import pytest

from tests.integration.test_directives import invoke, record, sqs_event

CATEGORIES = [{"id": "coffee", "name": "Café & Tea"}, {"id": "shoes", "name": "Footwear"}]
PRODUCTS = [
    {"sku": "ESP-1", "title": "Espresso Crème Beans", "description": "Dark roast beans for espresso",
     "price_q": 1500, "category": "coffee"},
    {"sku": "TEA-1", "title": "Green Tea", "description": "Loose leaf, goes well after a run", "price_q": 800,
     "category": "coffee"},
    {"sku": "RUN-1", "title": "Running Shoe Trail", "description": "Grippy sole for wet trails", "price_q": 9900,
     "category": "shoes"},
    {"sku": "RUN-2", "title": "Road Racer", "description": "A light running shoe for road races", "price_q": 12900,
     "category": "shoes"},
    {"sku": "SOCK-1", "title": "Wool Socks", "description": "Warm socks", "price_q": 1200, "category": "shoes"},
]


def reindex(api) -> list[dict]:
    ran = []
    for d in reversed(api.get("/v1/directives?topic=catalog.reindex&status=queued").json["items"]):
        invoke(api, sqs_event(record(d["id"])), "directive_worker")
        ran.append(api.get(f"/v1/directives/{d['id']}").json)
    return ran


@pytest.fixture
def catalog(api):
    for category in CATEGORIES:
        assert api.post("/v1/categories", category).status == 201
    for product in PRODUCTS:
        assert api.post("/v1/products", product).status == 201, product
    assert api.post("/v1/stores", {"code": "north", "name": "North"}).status == 201
    for sku in ("ESP-1", "RUN-1", "RUN-2"):
        assert api.put(f"/v1/inventory/north/{sku}", {"on_hand": 5}).status == 200
    ran = reindex(api)
    # One rebuild serves the whole burst of writes: the rest find the index current.
    assert sum(d["result"]["rebuilt"] for d in ran) == 1 and all(d["status"] == "done" for d in ran)
    return api


def skus(api, query: str) -> list[str]:
    r = api.get(f"/v1/products/search?{query}")
    assert r.status == 200, r.json
    return [p["sku"] for p in r.json["items"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("q=creme", ["ESP-1"]),                      # accent-insensitive
    ("q=CRÈME", ["ESP-1"]),                      # case- and accent-insensitive both ways
    ("q=espre", ["ESP-1"]),                      # the last word as a prefix
    ("q=cafe", ["ESP-1", "TEA-1"]),              # the category name
    ("q=footwear%20wool", ["SOCK-1"]),           # every word must match somewhere
    ("q=running", ["RUN-1", "RUN-2"]),           # title match ranks above a description match
    ("q=run", ["RUN-1", "RUN-2", "TEA-1"]),      # prefix "run" also matches "run" in a description
    ("q=&category=coffee", ["ESP-1", "TEA-1"]),  # no words: everything in the category, by title
    ("q=running&min_price_q=10000", ["RUN-2"]),
    ("q=&max_price_q=1200", ["TEA-1", "SOCK-1"]),
    ("q=running&store=north", ["RUN-1", "RUN-2"]),
    ("q=tea&store=north", ["ESP-1"]),            # Green Tea is not stocked there; the Café & Tea beans are
    ("q=%22%2A%20OR%20NEAR(", []),               # FTS5 syntax is only text
])
def test_search_cases(catalog, query, expected):
    assert skus(catalog, query) == expected


def test_answers_carry_live_product_details_and_availability_never_lags(catalog):
    [hit] = catalog.get("/v1/products/search?q=racer").json["items"]
    assert (hit["sku"], hit["title"], hit["price_q"], hit["category"]) == ("RUN-2", "Road Racer", 12900, "shoes")
    assert hit["score"] > 0
    assert catalog.put("/v1/inventory/north/RUN-2", {"on_hand": 0}).status == 200  # no reindex for stock
    assert skus(catalog, "q=running&store=north") == ["RUN-1"]


def test_a_new_product_is_searchable_once_its_reindex_ran(catalog):
    assert catalog.post("/v1/products", {"sku": "MUG-1", "title": "Enamel Mug", "description": "For coffee",
                                         "price_q": 900, "category": "coffee"}).status == 201
    assert skus(catalog, "q=enamel") == []  # the index lags the catalog until the worker rebuilds it
    assert [d["result"]["outcome"] for d in reindex(catalog)] == ["updated"]  # added to the index as it was
    assert skus(catalog, "q=enamel") == ["MUG-1"]


def test_pagination_with_and_without_a_store(catalog):
    for query in ("q=&limit=2", "q=&limit=1&store=north"):
        seen, cursor = [], None
        while True:
            r = catalog.get(f"/v1/products/search?{query}" + (f"&cursor={cursor}" if cursor else ""))
            seen += [p["sku"] for p in r.json["items"]]
            cursor = r.json["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen))
        assert sorted(seen) == (sorted(p["sku"] for p in PRODUCTS) if "store" not in query
                                else ["ESP-1", "RUN-1", "RUN-2"])
    r = catalog.get("/v1/products/search?q=tea&cursor=" + catalog.get("/v1/products/search?q=&limit=1")
                    .json["next_cursor"])
    assert (r.status, r.error_code()) == (400, "invalid_cursor")  # bound to its query


@pytest.mark.parametrize("query", ["min_price_q=-1", "min_price_q=1.5", "max_price_q=" + "9" * 30, "limit=0",
                                   "q=" + "x" * 501])
def test_bad_parameters_are_400(catalog, query):
    assert catalog.get(f"/v1/products/search?{query}").status == 400


def test_autocomplete_top_titles_and_the_seeds_rate_limit(catalog):
    r = catalog.get("/v1/products/autocomplete?q=ru")
    assert (r.status, r.json["items"]) == (200, ["Running Shoe Trail"])
    assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == ("20", "19")
    for n in range(18, -1, -1):
        r = catalog.get("/v1/products/autocomplete?q=e")
        assert (r.status, r.headers["x-ratelimit-remaining"]) == (200, str(n))
    assert len(r.json["items"]) <= 10
    limited = catalog.get("/v1/products/autocomplete?q=e")
    assert limited.status == 429
    assert limited.json["error"] == {"code": "rate_limited", "message": "Maximum 20 requests per 60 seconds allowed.",
                                     "details": {"retry_after": int(limited.headers["retry-after"])}}
    assert limited.headers["x-ratelimit-remaining"] == "0" and int(limited.headers["x-ratelimit-reset"]) <= 60
    assert catalog.get("/v1/products/search?q=e").status == 200  # search is not autocomplete's limit


def test_autocomplete_limit_can_be_switched_off(catalog, hub, monkeypatch):
    monkeypatch.setattr(hub.limiter, "enabled", False)
    assert all(catalog.get("/v1/products/autocomplete?q=wo").status == 200 for _ in range(25))


def test_before_any_index_was_built_nothing_is_found(api):
    assert api.get("/v1/products/search?q=x").json == {"items": [], "next_cursor": None}
    assert api.get("/v1/products/autocomplete?q=x").json == {"items": []}
