"""POST /v1/catalog/import and what sends it (`python -m cli seed`, the `make run` demo): validated like the single
routes, written in batches, idempotent (a re-seed never clobbers counted or reserved stock), one catalog version
bump and one reindex directive per request."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from cli.__main__ import MAX_IMPORT_PRODUCTS, MAX_IMPORT_STOCK, progress_line, seed_batches
from tests.conftest import Api


def error_shape(r) -> str:
    assert set(r.json) == {"error"}, r.json
    assert set(r.json["error"]) == {"code", "message", "details"}, r.json
    return r.json["error"]["code"]


def everything(api: Api, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        r = api.get(f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r.json
        items += r.json["items"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return items


def snapshot(api: Api) -> dict[str, list[dict[str, Any]]]:
    return {path: everything(api, path) for path in ("/v1/categories", "/v1/products", "/v1/stores", "/v1/inventory")}


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.made.append((model.name, params))

    def of(self, *operations: str) -> list[dict[str, Any]]:
        return [params for name, params in self.made if name in operations]


@pytest.fixture
def calls(hub) -> Iterator[Calls]:
    recorder = Calls()
    events = hub.db.client.meta.events
    events.register("before-parameter-build.dynamodb", recorder.record, unique_id="catalog-seed-calls")
    yield recorder
    events.unregister("before-parameter-build.dynamodb", unique_id="catalog-seed-calls")


def reindex_count(api: Api) -> int:
    return len(everything(api, "/v1/directives?topic=catalog.reindex"))


SMALL = {
    "categories": [{"id": "shoes", "name": "Shoes", "description": "For feet"}, {"id": "bags", "name": "Bags"}],
    "stores": [{"code": "a", "name": "A", "location": "Here"}, {"code": "b", "name": "B"}],
    "products": [{"sku": "S-1", "title": "Shoe", "price_q": 500, "category": "shoes"},
                 {"sku": "B-1", "name": "Bag", "description": "Big", "price_q": 900, "category": "bags"},
                 {"sku": "X-1", "title": "Loose", "price_q": 0}],
    "stock": [{"store_code": "a", "sku": "S-1", "on_hand": 10, "reorder_level": 2},
              {"store_code": "b", "sku": "S-1", "on_hand": "2.5"},
              {"store_code": "a", "sku": "B-1", "on_hand": 0, "reorder_level": 1}],
}


# --- the import ---------------------------------------------------------------------------------------------------

def test_an_import_writes_everything_it_names(api, hub):
    r = api.post("/v1/catalog/import", SMALL)
    assert r.status == 200, r.json
    assert r.json["created"] == {"categories": 2, "stores": 2, "products": 3, "stock": 3}
    assert r.json["existing"] == {"categories": 0, "stores": 0, "products": 0, "stock": 0}
    assert r.json["differing"] == {"categories": [], "products": [], "stores": []}
    assert r.json["directive_id"].startswith("D-")
    assert [c["id"] for c in everything(api, "/v1/categories")] == ["bags", "shoes"]
    assert api.get("/v1/categories/shoes").json["description"] == "For feet"
    bag = api.get("/v1/products/B-1")
    assert (bag.json["title"], bag.json["name"], bag.json["description"], bag.json["version"],
            bag.headers["etag"]) == ("Bag", "Bag", "Big", 1, '"1"')
    assert [p["sku"] for p in everything(api, "/v1/products")] == ["X-1", "S-1", "B-1"]  # by price
    assert [p["sku"] for p in everything(api, "/v1/products?category=shoes")] == ["S-1"]
    assert api.get("/v1/stores/a").json["location"] == "Here"
    assert everything(api, "/v1/inventory") == [
        {"store_code": "a", "sku": "B-1", "on_hand": "0", "reserved": "0", "available": "0", "reorder_level": "1"},
        {"store_code": "a", "sku": "S-1", "on_hand": "10", "reserved": "0", "available": "10", "reorder_level": "2"},
        {"store_code": "b", "sku": "S-1", "on_hand": "2.5", "reserved": "0", "available": "2.5",
         "reorder_level": "0"}]
    assert [r["sku"] for r in everything(api, "/v1/inventory?low_stock=true")] == ["B-1"]
    # The imported rows are real stock: the hold backend holds them like any other.
    hub.inventory.stock.create_holds("a", "pos:T1", [{"sku": "S-1", "qty": Decimal(3)}])
    assert api.get("/v1/inventory/a/S-1").json["available"] == "7"


def test_an_import_twice_writes_the_same_rows_and_never_touches_counted_or_reserved_stock(api, hub):
    assert api.post("/v1/catalog/import", SMALL).status == 200
    hub.inventory.stock.create_holds("a", "pos:T1", [{"sku": "S-1", "qty": Decimal(4)}])
    assert api.put("/v1/inventory/b/S-1", {"on_hand": 7}).status == 200
    before = snapshot(api)
    again = api.post("/v1/catalog/import", SMALL)
    assert again.status == 200
    assert again.json["created"] == {"categories": 0, "stores": 0, "products": 0, "stock": 0}
    assert again.json["existing"] == {"categories": 2, "stores": 2, "products": 3, "stock": 3}
    assert again.json["differing"] == {"categories": [], "products": [], "stores": []}
    assert snapshot(api) == before
    assert api.get("/v1/inventory/a/S-1").json == {"store_code": "a", "sku": "S-1", "on_hand": "10",
                                                   "reserved": "4", "available": "6"}
    assert api.get("/v1/inventory/b/S-1").json["on_hand"] == "7"


def test_an_import_never_changes_what_exists_and_says_what_differs(api, hub):
    assert api.post("/v1/catalog/import", SMALL).status == 200
    changed = {
        "categories": [{"id": "shoes", "name": "Footwear"}],
        "stores": [{"code": "a", "name": "A", "location": "Here"}],
        "products": [{"sku": "S-1", "title": "Shoe", "price_q": 1}, {"sku": "B-1", "title": "Bag", "price_q": 900,
                                                                    "description": "Big", "category": "bags"}],
        "stock": [{"store_code": "a", "sku": "S-1", "on_hand": 0}],
    }
    r = api.post("/v1/catalog/import", changed)
    assert r.status == 200
    assert r.json["differing"] == {"categories": ["shoes"], "products": ["S-1"], "stores": []}
    assert api.get("/v1/categories/shoes").json["name"] == "Shoes"
    assert api.get("/v1/products/S-1").json["price_q"] == 500
    assert api.get("/v1/inventory/a/S-1").json["on_hand"] == "10"


def test_an_import_may_refer_to_what_the_catalog_has(api):
    api.post("/v1/categories", {"id": "shoes", "name": "Shoes"})
    api.post("/v1/stores", {"code": "a", "name": "A"})
    api.post("/v1/products", {"sku": "OLD", "title": "Old", "price_q": 1})
    r = api.post("/v1/catalog/import", {"products": [{"sku": "NEW", "title": "New", "price_q": 2, "category": "shoes"}],
                                        "stock": [{"store_code": "a", "sku": "OLD", "on_hand": 3},
                                                  {"store_code": "a", "sku": "NEW", "on_hand": 4}]})
    assert r.status == 200, r.json
    assert r.json["created"] == {"categories": 0, "stores": 0, "products": 1, "stock": 2}
    assert [x["sku"] for x in everything(api, "/v1/inventory?store=a")] == ["NEW", "OLD"]


def test_each_import_bumps_the_version_once_and_sends_one_reindex_in_one_transaction(api, hub, calls):
    assert api.post("/v1/catalog/import", SMALL).status == 200
    assert (hub.inventory.store.catalog_version(), reindex_count(api)) == (1, 1)
    (transaction,) = calls.of("TransactWriteItems")
    writes = transaction["TransactItems"]
    assert writes[0]["Update"]["Key"] == {"pk": {"S": "CATALOG"}, "sk": {"S": "META"}}
    assert writes[1]["Put"]["Item"]["topic"] == {"S": "catalog.reindex"} and len(writes) == 2
    assert api.post("/v1/catalog/import", SMALL).status == 200
    assert (hub.inventory.store.catalog_version(), reindex_count(api)) == (2, 2)
    directive = everything(api, "/v1/directives?topic=catalog.reindex")[0]
    assert directive["payload"] == {"reason": "catalog.imported", "products": 0, "categories": 0, "skus": []}


def test_an_import_batches_its_reads_and_writes(api, hub, calls):
    body = {"stores": [{"code": "a", "name": "A"}],
            "products": [{"sku": f"P-{n:03d}", "title": f"P {n}", "price_q": n} for n in range(120)],
            "stock": [{"store_code": "a", "sku": f"P-{n:03d}", "on_hand": n} for n in range(120)]}
    assert api.post("/v1/catalog/import", body).status == 200
    writes = calls.of("BatchWriteItem")
    sizes = [len(next(iter(w["RequestItems"].values()))) for w in writes]
    assert sum(sizes) == 1 + 120 + 120 and max(sizes) == 25 and len(writes) == 10
    reads = calls.of("BatchGetItem")
    assert all(next(iter(r["RequestItems"].values()))["ConsistentRead"] for r in reads)
    # New products can have no stock rows yet: a first import reads no stock row.
    read_keys = [k["pk"]["S"] for r in reads for k in next(iter(r["RequestItems"].values()))["Keys"]]
    assert not [k for k in read_keys if k.startswith("STK#")] and len(reads) == 2  # 121 keys, 100 a request
    assert not calls.of("Scan", "PutItem")
    calls.made.clear()
    assert api.post("/v1/catalog/import", body).status == 200
    stock_reads = [r for r in calls.of("BatchGetItem") if any(
        k["pk"]["S"].startswith("STK#") for k in next(iter(r["RequestItems"].values()))["Keys"])]
    assert len(stock_reads) == 2  # now the rows may exist: read them (their keys only) before deciding
    assert all(next(iter(r["RequestItems"].values()))["ProjectionExpression"] == "pk, sk" for r in stock_reads)
    assert not calls.of("BatchWriteItem")


def _many(n: int) -> list[dict[str, Any]]:
    return [{"sku": f"M-{i}", "title": "m", "price_q": 1} for i in range(n)]


@pytest.mark.parametrize(("body", "status", "code", "details"), [
    ({}, 400, "empty_import", {}),
    ({"products": []}, 400, "empty_import", {}),
    ([], 400, "invalid_body", {}),
    ({"products": "x"}, 400, "invalid_products", None),
    ({"categories": {"id": "x"}}, 400, "invalid_categories", None),
    ({"products": [], "extra": 1}, 400, "unknown_field", None),
    ({"products": _many(501)}, 400, "too_many_products", {"max": 500, "count": 501}),
    ({"stock": [{"store_code": "a", "sku": f"S{i}", "on_hand": 1} for i in range(2001)]}, 400,
     "too_many_stock", {"max": 2000, "count": 2001}),
    ({"categories": [{"id": f"c{i}", "name": "c"} for i in range(501)]}, 400, "too_many_categories", None),
    ({"stores": [{"code": f"s{i}", "name": "s"} for i in range(101)]}, 400, "too_many_stores", None),
    ({"products": [{"sku": "A", "title": "a", "price_q": 1}, 5]}, 400, "invalid_body",
     {"section": "products", "index": 1}),
    ({"products": [{"sku": "A", "title": "a", "price_q": 1}, {"sku": "B", "title": "b", "price_q": 1.5}]}, 400,
     "invalid_price_q", None),
    ({"products": [{"sku": "A", "price_q": 1}]}, 400, "missing_title", {"section": "products", "index": 0}),
    ({"products": [{"sku": "A", "title": "a", "name": "b", "price_q": 1}]}, 400, "title_mismatch",
     {"section": "products", "index": 0}),
    ({"categories": [{"id": "Bad", "name": "x"}]}, 400, "invalid_id", None),
    ({"stores": [{"code": "a"}]}, 400, "missing_name", None),
    ({"stock": [{"store_code": "a", "sku": "A", "on_hand": -1}]}, 400, "invalid_on_hand", None),
    ({"products": [{"sku": "A", "title": "a", "price_q": 1}, {"sku": "A", "title": "b", "price_q": 2}]}, 400,
     "duplicate_products", {"section": "products", "index": 1, "first_index": 0}),
    ({"categories": [{"id": "x", "name": "x"}, {"id": "x", "name": "y"}]}, 400, "duplicate_categories", None),
    ({"stores": [{"code": "a", "name": "x"}, {"code": "a", "name": "y"}]}, 400, "duplicate_stores", None),
    ({"stores": [{"code": "a", "name": "A"}], "products": [{"sku": "A", "title": "a", "price_q": 1}],
      "stock": [{"store_code": "a", "sku": "A", "on_hand": 1}, {"store_code": "a", "sku": "A", "on_hand": 2}]},
     400, "duplicate_stock", None),
    ({"products": [{"sku": "A", "title": "a", "price_q": 1, "category": "nowhere"},
                   {"sku": "B", "title": "b", "price_q": 1, "category": "elsewhere"}]}, 422, "unknown_category",
     {"categories": ["elsewhere", "nowhere"]}),
    ({"products": [{"sku": "A", "title": "a", "price_q": 1}], "stock": [{"store_code": "z", "sku": "A",
                                                                         "on_hand": 1}]},
     422, "unknown_store", {"stores": ["z"]}),
    ({"stores": [{"code": "a", "name": "A"}], "stock": [{"store_code": "a", "sku": "GHOST", "on_hand": 1}]},
     422, "unknown_product", {"skus": ["GHOST"]}),
])
def test_a_refused_import_writes_nothing(api, hub, body, status, code, details):
    api.post("/v1/categories", {"id": "kept", "name": "Kept"})  # the catalog is not empty: references may hit it
    before, directives = snapshot(api), reindex_count(api)
    r = api.post("/v1/catalog/import", body)
    assert (r.status, error_shape(r)) == (status, code), r.json
    if details is not None:
        assert {k: r.json["error"]["details"].get(k) for k in details} == details, r.json
    assert snapshot(api) == before
    assert (hub.inventory.store.catalog_version(), reindex_count(api)) == (1, directives)


# --- python -m cli seed -------------------------------------------------------------------------------------------

def test_the_cli_batches_load_the_seed_catalog_and_a_reseed_changes_nothing(api, hub):
    bodies = seed_batches(90, seed=7, batch=40)
    assert [len(b["products"]) for b in bodies] == [40, 40, 10]
    assert [len(b["stock"]) for b in bodies] == [120, 120, 30]
    assert set(bodies[0]) == {"categories", "products", "stores", "stock"} and set(bodies[1]) == {"products", "stock"}
    for body in bodies:
        r = api.post("/v1/catalog/import", body)
        assert r.status == 200, r.json
    assert len(everything(api, "/v1/categories")) == 10
    assert len(everything(api, "/v1/products")) == 90
    assert [s["code"] for s in everything(api, "/v1/stores")] == ["airport", "main", "riverside"]
    assert len(everything(api, "/v1/inventory?store=riverside")) == 90
    low = everything(api, "/v1/inventory?low_stock=true")
    assert low and all(Decimal(r["available"]) <= Decimal(r["reorder_level"]) for r in low)
    assert hub.inventory.store.catalog_version() == 3
    before = snapshot(api)
    for body in seed_batches(90, seed=7, batch=40):
        r = api.post("/v1/catalog/import", body)
        assert r.json["created"] == {"categories": 0, "products": 0, "stores": 0, "stock": 0}
    assert snapshot(api) == before


def test_cli_batches_stay_within_what_one_import_takes():
    bodies = seed_batches(1201, seed=1, batch=10_000)
    assert [len(b["products"]) for b in bodies] == [500, 500, 201]
    assert all(len(b["stock"]) <= MAX_IMPORT_STOCK and len(b["products"]) <= MAX_IMPORT_PRODUCTS for b in bodies)
    assert seed_batches(1201, seed=1) == bodies  # deterministic
    empty = seed_batches(0)
    assert len(empty) == 1 and empty[0]["products"] == [] and len(empty[0]["stores"]) == 3
    with pytest.raises(ValueError):
        seed_batches(-1)
    assert progress_line(4000, 10000) == "\r[############..................] 4000/10000"
    assert progress_line(10000, 10000).endswith("] 10000/10000") and "." not in progress_line(10000, 10000)


# --- the make run demo --------------------------------------------------------------------------------------------

def test_the_demo_loads_the_seed_catalog_and_keeps_the_shops_shelf(api, hub):
    from devstack import demo

    demo.seed(hub)
    for sku, on_hand in (("SHOE", "10"), ("CAP", "2"), ("SOCK", "50")):
        assert api.get(f"/v1/inventory/main/{sku}").json == {"store_code": "main", "sku": sku, "on_hand": on_hand,
                                                             "reserved": "0", "available": on_hand}
    assert api.get("/v1/stores/main").json["name"] == "Main store"
    assert api.get("/v1/products/SHOE").json["category"] == "shoes"
    assert len(everything(api, "/v1/products")) == 3 + demo.SEED_PRODUCTS
    assert {c["id"] for c in everything(api, "/v1/categories")} >= {"shoes", "accessories", "footwear"}
    assert len(everything(api, "/v1/inventory?store=airport")) == demo.SEED_PRODUCTS
    assert len(everything(api, "/v1/inventory?store=main")) == 3 + demo.SEED_PRODUCTS
    before = snapshot(api)
    demo.seed(hub)  # every start runs it: a second run leaves everything as it was
    assert snapshot(api) == before
