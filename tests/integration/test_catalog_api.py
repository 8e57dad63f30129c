"""The catalog over HTTP: categories, products (title, versioned PUT, filtered listings), store and stock listings,
the catalog version and its reindex directive, and the promise that no request path scans the table."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Api


def error_shape(r) -> str:
    assert set(r.json) == {"error"}, r.json
    assert set(r.json["error"]) == {"code", "message", "details"}, r.json
    return r.json["error"]["code"]


class Calls:
    """Every DynamoDB call the process makes while a test runs: (operation, request parameters)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.made.append((model.name, params))

    def clear(self) -> None:
        self.made.clear()

    def of(self, *operations: str) -> list[dict[str, Any]]:
        return [params for name, params in self.made if name in operations]


@pytest.fixture
def calls(hub) -> Iterator[Calls]:
    recorder = Calls()
    events = hub.db.client.meta.events
    # Before the parameters are serialised: `params` is what the code passed (TableName, IndexName, Key, ...).
    events.register("before-parameter-build.dynamodb", recorder.record, unique_id="catalog-test-calls")
    yield recorder
    events.unregister("before-parameter-build.dynamodb", unique_id="catalog-test-calls")


def all_pages(api: Api, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        r = api.get(f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r.json
        pages.append(r.json["items"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


def version(hub) -> int:
    return hub.inventory.store.catalog_version()


def reindex_directives(api: Api) -> list[dict[str, Any]]:
    return flat(all_pages(api, "/v1/directives?topic=catalog.reindex", 200))


@pytest.fixture
def catalog(api) -> dict[str, list[str]]:
    """Three categories and eight products priced 100..800 (two per price band), in two categories."""
    for body in ({"id": "shoes", "name": "Shoes", "description": "For feet"}, {"id": "bags", "name": "bags"},
                 {"id": "cafe", "name": "Café & Tea"}):
        assert api.post("/v1/categories", body).status == 201
    skus = {"shoes": [], "bags": []}
    for n in range(8):
        category = "shoes" if n % 2 == 0 else "bags"
        sku = f"P-{n}"
        r = api.post("/v1/products", {"sku": sku, "title": f"Product {n}", "price_q": 100 * (n // 2 + 1),
                                      "category": category, "description": f"number {n}"})
        assert r.status == 201, r.json
        skus[category].append(sku)
    return skus


# --- categories ---------------------------------------------------------------------------------------------------

def test_create_read_and_list_categories_by_name(api, hub):
    r = api.post("/v1/categories", {"id": "shoes", "name": "Shoes", "description": "Everything for feet"})
    assert r.status == 201
    assert {k: r.json[k] for k in ("id", "name", "description")} == {"id": "shoes", "name": "Shoes",
                                                                      "description": "Everything for feet"}
    assert api.get("/v1/categories/shoes").json == r.json
    for cid, name in (("zz", "apparel"), ("eclair", "Éclairs"), ("b", "Bakery"), ("d", "drinks"), ("e", "Zebra")):
        assert api.post("/v1/categories", {"id": cid, "name": name}).status == 201
    listed = flat(all_pages(api, "/v1/categories", 2))
    # By name as a reader sorts it: case and accents aside.
    assert [c["name"] for c in listed] == ["apparel", "Bakery", "drinks", "Éclairs", "Shoes", "Zebra"]
    assert listed[0]["description"] is None
    assert len({c["id"] for c in listed}) == 6


def test_category_listing_pages_never_repeat(api):
    for n in range(7):
        api.post("/v1/categories", {"id": f"c{n}", "name": "Same name"})
    pages = all_pages(api, "/v1/categories", 3)
    assert [len(p) for p in pages][:2] == [3, 3]
    ids = [c["id"] for c in flat(pages)]
    assert sorted(ids) == [f"c{n}" for n in range(7)] and len(ids) == 7


def test_duplicate_category_is_409_and_keeps_the_first(api, hub):
    api.post("/v1/categories", {"id": "shoes", "name": "Shoes"})
    before = version(hub)
    r = api.post("/v1/categories", {"id": "shoes", "name": "Other"})
    assert (r.status, error_shape(r)) == (409, "category_exists")
    assert api.get("/v1/categories/shoes").json["name"] == "Shoes"
    assert version(hub) == before


def test_unknown_category_is_404(api):
    for cid in ("nowhere", "BAD", "a.b", "a%23b", "x" * 100):
        r = api.get(f"/v1/categories/{cid}")
        assert (r.status, error_shape(r)) == (404, "category_not_found"), cid


@pytest.mark.parametrize(("body", "code"), [
    ({"name": "no id"}, "missing_id"),
    ({"id": "Shoes", "name": "upper case"}, "invalid_id"),
    ({"id": "a.b", "name": "a dot"}, "invalid_id"),
    ({"id": "-a", "name": "leading dash"}, "invalid_id"),
    ({"id": "x" * 65, "name": "too long"}, "invalid_id"),
    ({"id": 5, "name": "number"}, "invalid_id"),
    ({"id": "x"}, "missing_name"),
    ({"id": "x", "name": ""}, "invalid_name"),
    ({"id": "x", "name": "x" * 201}, "invalid_name"),
    ({"id": "x", "name": "x", "description": ""}, "invalid_description"),
    ({"id": "x", "name": "x", "parent": "y"}, "unknown_field"),
    (["x"], "invalid_body"),
])
def test_invalid_categories_are_400_and_write_nothing(api, hub, body, code):
    r = api.post("/v1/categories", body)
    assert (r.status, error_shape(r)) == (400, code), r.json
    assert api.get("/v1/categories").json["items"] == []
    assert version(hub) == 0


# --- products -----------------------------------------------------------------------------------------------------

def test_a_product_has_a_title_and_answers_it_as_name_too(api, catalog):
    r = api.post("/v1/products", {"sku": "T-1", "title": "Trail shoe", "description": "Grippy", "price_q": 9900,
                                  "category": "shoes"})
    assert r.status == 201
    body = r.json
    assert (body["title"], body["name"], body["description"], body["price_q"], body["category"],
            body["version"]) == ("Trail shoe", "Trail shoe", "Grippy", 9900, "shoes", 1)
    assert body["created_at"] == body["updated_at"]
    assert r.headers["etag"] == '"1"'
    got = api.get("/v1/products/T-1")
    assert (got.json, got.headers["etag"]) == (body, '"1"')
    # `name` is the old spelling of `title`: accepted alone, or with it when they agree.
    old = api.post("/v1/products", {"sku": "T-2", "name": "Old style", "price_q": 1})
    assert (old.status, old.json["title"], old.json["name"], old.json["category"]) == (201, "Old style",
                                                                                        "Old style", None)
    both = api.post("/v1/products", {"sku": "T-3", "name": "Both", "title": "Both", "price_q": 1})
    assert both.status == 201


def test_a_products_category_must_exist(api, hub):
    before = version(hub)
    r = api.post("/v1/products", {"sku": "X", "title": "x", "price_q": 1, "category": "nowhere"})
    assert (r.status, error_shape(r)) == (422, "unknown_category")
    assert r.json["error"]["details"] == {"categories": ["nowhere"]}
    assert api.get("/v1/products/X").status == 404
    assert (version(hub), reindex_directives(api)) == (before, [])


def test_duplicate_product_is_409_and_writes_nothing(api, hub, catalog):
    before, directives = version(hub), len(reindex_directives(api))
    r = api.post("/v1/products", {"sku": "P-0", "title": "again", "price_q": 5})
    assert (r.status, error_shape(r)) == (409, "product_exists")
    assert api.get("/v1/products/P-0").json["title"] == "Product 0"
    assert (version(hub), len(reindex_directives(api))) == (before, directives)


@pytest.mark.parametrize(("raw", "code"), [
    ('{"sku": "P", "price_q": 1}', "missing_title"),
    ('{"sku": "P", "title": "a", "name": "b", "price_q": 1}', "title_mismatch"),
    ('{"sku": "P", "title": "", "price_q": 1}', "invalid_title"),
    ('{"sku": "P", "name": "", "price_q": 1}', "invalid_name"),
    ('{"sku": "P", "title": "p"}', "missing_price_q"),
    ('{"sku": "P", "title": "p", "price_q": 5.5}', "invalid_price_q"),
    ('{"sku": "P", "title": "p", "price_q": -1}', "invalid_price_q"),
    ('{"sku": "P", "title": "p", "price_q": "500"}', "invalid_price_q"),
    ('{"sku": "P", "title": "p", "price_q": 10000000000000001}', "invalid_price_q"),
    ('{"title": "p", "price_q": 1}', "missing_sku"),
    ('{"sku": "P#1", "title": "p", "price_q": 1}', "invalid_sku"),
    ('{"sku": "P", "title": "p", "price_q": 1, "category": "Not An Id"}', "invalid_category"),
    ('{"sku": "P", "title": "p", "price_q": 1, "category": ""}', "invalid_category"),
    ('{"sku": "P", "title": "p", "price_q": 1, "description": ""}', "invalid_description"),
    ('{"sku": "P", "title": "p", "price_q": 1, "stock": 3}', "unknown_field"),
    ('[]', "invalid_body"),
])
def test_invalid_products_are_400_with_a_code_per_field(api, hub, raw, code):
    r = api.post("/v1/products", raw=raw)
    assert (r.status, error_shape(r)) == (400, code), r.json
    assert api.get("/v1/products/P").status == 404
    assert version(hub) == 0


# --- PUT /v1/products/{sku} ---------------------------------------------------------------------------------------

def test_put_replaces_a_product_on_the_version_read(api, hub, catalog):
    first = api.get("/v1/products/P-0").json
    r = api.put("/v1/products/P-0", {"title": "Renamed", "price_q": 4242, "category": "bags"},
                headers={"If-Match": '"1"'})
    assert r.status == 200, r.json
    assert (r.json["title"], r.json["name"], r.json["price_q"], r.json["category"], r.json["version"],
            r.json["description"]) == ("Renamed", "Renamed", 4242, "bags", 2, None)
    assert r.json["created_at"] == first["created_at"] and r.json["updated_at"] >= first["updated_at"]
    assert r.headers["etag"] == '"2"'
    assert api.get("/v1/products/P-0").json == r.json
    # `expected_version` in the body does the same; `name` is accepted as the title here too.
    r = api.put("/v1/products/P-0", {"name": "Again", "price_q": 1, "expected_version": 2})
    assert (r.status, r.json["version"], r.json["title"], r.json["category"]) == (200, 3, "Again", None)
    # The listings follow: out of bags (no category now), at its new price in the all-products listing.
    assert "P-0" not in [p["sku"] for p in flat(all_pages(api, "/v1/products?category=bags", 50))]
    assert "P-0" not in [p["sku"] for p in flat(all_pages(api, "/v1/products?category=shoes", 50))]
    assert [p["sku"] for p in api.get("/v1/products?max_price_q=1").json["items"]] == ["P-0"]


def test_put_without_a_version_is_428_and_a_moved_one_409(api, hub, catalog):
    r = api.put("/v1/products/P-0", {"title": "x", "price_q": 1})
    assert (r.status, error_shape(r)) == (428, "precondition_required")
    assert api.put("/v1/products/P-0", {"title": "x", "price_q": 1}, headers={"If-Match": "1"}).status == 200
    before = version(hub)
    for stale in ({"headers": {"If-Match": '"1"'}}, {"headers": {"If-Match": '"7"'}}):
        r = api.put("/v1/products/P-0", {"title": "lost update", "price_q": 2}, **stale)
        assert (r.status, error_shape(r)) == (409, "stale_version")
        assert r.json["error"]["details"] == {"current_version": 2}
    r = api.put("/v1/products/P-0", {"title": "lost update", "price_q": 2, "expected_version": 1})
    assert (r.status, error_shape(r)) == (409, "stale_version")
    assert api.get("/v1/products/P-0").json["title"] == "x"
    assert version(hub) == before


def test_put_refusals_change_nothing(api, hub, catalog):
    before = version(hub)
    cases = [
        ("/v1/products/NOPE", {"title": "x", "price_q": 1}, {"If-Match": '"1"'}, 404, "product_not_found"),
        ("/v1/products/P-0", {"sku": "P-1", "title": "x", "price_q": 1}, {"If-Match": '"1"'}, 422, "sku_mismatch"),
        ("/v1/products/P-0", {"title": "x", "price_q": 1, "category": "nowhere"}, {"If-Match": '"1"'}, 422,
         "unknown_category"),
        ("/v1/products/P-0", {"title": "x"}, {"If-Match": '"1"'}, 400, "missing_price_q"),
        ("/v1/products/P-0", {"price_q": 1}, {"If-Match": '"1"'}, 400, "missing_title"),
        ("/v1/products/P-0", {"title": "x", "price_q": 1, "expected_version": -1}, {}, 400,
         "invalid_expected_version"),
        ("/v1/products/P-0", {"title": "x", "price_q": 1}, {"If-Match": "abc"}, 400, "invalid_if_match"),
    ]
    for path, body, headers, status, code in cases:
        r = api.put(path, body, headers=headers)
        assert (r.status, error_shape(r)) == (status, code), (body, r.json)
    assert api.get("/v1/products/P-0").json["version"] == 1
    assert version(hub) == before


# --- product listings ---------------------------------------------------------------------------------------------

def test_products_are_listed_by_price_with_filters(api, catalog):
    everything = flat(all_pages(api, "/v1/products", 50))
    assert [p["sku"] for p in everything] == [f"P-{n}" for n in range(8)]
    assert [p["price_q"] for p in everything] == [100, 100, 200, 200, 300, 300, 400, 400]
    assert everything[0]["name"] == everything[0]["title"] == "Product 0"
    cases = {
        "?category=shoes": ["P-0", "P-2", "P-4", "P-6"],
        "?category=bags": ["P-1", "P-3", "P-5", "P-7"],
        "?category=cafe": [],
        "?category=nowhere": [],
        "?min_price_q=200": ["P-2", "P-3", "P-4", "P-5", "P-6", "P-7"],
        "?max_price_q=200": ["P-0", "P-1", "P-2", "P-3"],
        "?min_price_q=200&max_price_q=300": ["P-2", "P-3", "P-4", "P-5"],
        "?min_price_q=300&max_price_q=300": ["P-4", "P-5"],
        "?min_price_q=101&max_price_q=199": [],
        "?category=bags&min_price_q=150&max_price_q=350": ["P-3", "P-5"],
        "?category=shoes&max_price_q=100": ["P-0"],
    }
    for query, expected in cases.items():
        for limit in (1, 3, 50):
            pages = all_pages(api, f"/v1/products{query}", limit)
            assert [p["sku"] for p in flat(pages)] == expected, (query, limit)
            assert all(len(page) <= limit for page in pages)


def test_each_product_listing_is_one_index_query_with_the_price_range_as_key_condition(api, catalog, calls):
    for query, index in (("", "gsi1"), ("?category=shoes", "gsi2"), ("?min_price_q=5&max_price_q=300", "gsi1"),
                         ("?category=bags&min_price_q=200", "gsi2")):
        calls.clear()
        assert api.get(f"/v1/products{query}{'&' if query else '?'}limit=2").status == 200
        reads = calls.of("Query", "Scan", "BatchGetItem", "GetItem")
        reads = [p for p in reads if not p.get("Key", {}).get("pk", {}).get("S", "").startswith("KEY#")]
        assert len(reads) == 1, reads
        (params,) = reads
        assert params.get("IndexName") == index, params
        assert "BETWEEN" in params["KeyConditionExpression"] and "FilterExpression" not in params


def test_product_cursors_are_bound_to_their_filters(api, catalog):
    cursor = api.get("/v1/products?category=shoes&limit=1").json["next_cursor"]
    assert api.get(f"/v1/products?category=shoes&limit=1&cursor={cursor}").status == 200
    for other in ("?category=bags", "?", "?category=shoes&min_price_q=1", "?category=shoes&max_price_q=900"):
        r = api.get(f"/v1/products{other}&limit=1&cursor={cursor}")
        assert (r.status, error_shape(r)) == (400, "invalid_cursor"), other
    r = api.get(f"/v1/categories?cursor={cursor}")
    assert (r.status, error_shape(r)) == (400, "invalid_cursor")
    r = api.get(f"/v1/products?category=shoes&limit=1&cursor={cursor[:-2]}xx")
    assert (r.status, error_shape(r)) == (400, "invalid_cursor")


@pytest.mark.parametrize(("query", "code"), [
    ("min_price_q=abc", "invalid_min_price_q"), ("min_price_q=-1", "invalid_min_price_q"),
    ("min_price_q=1.5", "invalid_min_price_q"), ("max_price_q=1e3", "invalid_max_price_q"),
    ("max_price_q=1000000000000001", "invalid_max_price_q"), ("max_price_q=" + "9" * 40, "invalid_max_price_q"),
    ("min_price_q=300&max_price_q=200", "invalid_price_range"), ("category=Not%20An%20Id", "invalid_category"),
    ("limit=0", "invalid_limit"), ("limit=201", "invalid_limit"), ("cursor=abc", "invalid_cursor"),
])
def test_invalid_product_filters_are_400(api, catalog, query, code):
    r = api.get(f"/v1/products?{query}")
    assert (r.status, error_shape(r)) == (400, code)


def test_catalog_reads_for_the_search_index(api, hub, catalog):
    """What the search index is built from: every product, every category by id, the catalog version."""
    store = hub.inventory.store
    products = list(store.all_products())
    assert sorted(p.sku for p in products) == [f"P-{n}" for n in range(8)]
    assert {p.sku: (p.title, p.description, p.category, p.price_q) for p in products}["P-3"] == (
        "Product 3", "number 3", "bags", 200)
    assert {k: c.name for k, c in store.categories_by_id().items()} == {"shoes": "Shoes", "bags": "bags",
                                                                          "cafe": "Café & Tea"}
    assert store.catalog_version() == 3 + 8
    # The pricing contrib's batch read keeps working on the new items.
    assert {s: p.price_q for s, p in store.products(["P-0", "P-7", "NOPE"]).items()} == {"P-0": 100, "P-7": 400}


# --- stores -------------------------------------------------------------------------------------------------------

def test_stores_are_listed_by_code(api):
    for code in ("porto", "faro", "lisbon", "braga", "evora"):
        assert api.post("/v1/stores", {"code": code, "name": code.title()}).status == 201
    pages = all_pages(api, "/v1/stores", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [s["code"] for s in flat(pages)] == ["braga", "evora", "faro", "lisbon", "porto"]
    assert flat(pages)[0] == api.get("/v1/stores/braga").json
    cursor = api.get("/v1/stores?limit=1").json["next_cursor"]
    r = api.get(f"/v1/categories?cursor={cursor}")
    assert (r.status, error_shape(r)) == (400, "invalid_cursor")


# --- inventory ----------------------------------------------------------------------------------------------------

@pytest.fixture
def shelves(api, catalog) -> None:
    """Stores a, b, c; a stocks all eight products, b three of them, c none."""
    for code in ("a", "b", "c"):
        assert api.post("/v1/stores", {"code": code, "name": code.upper()}).status == 201
    for n in range(8):
        r = api.post("/v1/inventory", {"store_code": "a", "sku": f"P-{n}", "on_hand": n, "reorder_level": 3})
        assert r.status == 201, r.json
    for n in (1, 4, 6):
        assert api.post("/v1/inventory", {"store_code": "b", "sku": f"P-{n}", "on_hand": 50}).status == 201


def test_post_inventory_creates_then_sets_a_row(api, catalog):
    api.post("/v1/stores", {"code": "a", "name": "A"})
    r = api.post("/v1/inventory", {"store_code": "a", "sku": "P-0", "on_hand": 10, "reorder_level": "2.5"})
    assert (r.status, r.json) == (201, {"store_code": "a", "sku": "P-0", "on_hand": "10", "reserved": "0",
                                        "available": "10", "reorder_level": "2.5"})
    r = api.post("/v1/inventory", {"store_code": "a", "sku": "P-0", "on_hand": "7.5"})
    assert (r.status, r.json) == (200, {"store_code": "a", "sku": "P-0", "on_hand": "7.5", "reserved": "0",
                                        "available": "7.5", "reorder_level": "2.5"})
    r = api.post("/v1/inventory", {"store_code": "a", "sku": "P-0", "on_hand": 7, "reorder_level": 0})
    assert (r.status, r.json["reorder_level"]) == (200, "0")
    assert api.get("/v1/inventory/a/P-0").json == {"store_code": "a", "sku": "P-0", "on_hand": "7",
                                                   "reserved": "0", "available": "7"}
    # The existing PUT takes a reorder level too.
    assert api.put("/v1/inventory/a/P-0", {"on_hand": 9, "reorder_level": 4}).status == 200
    assert api.get("/v1/inventory?store=a&sku=P-0").json["items"][0]["reorder_level"] == "4"
    assert api.put("/v1/inventory/a/P-0", {"on_hand": 8}).status == 200
    assert api.get("/v1/inventory?store=a&sku=P-0").json["items"][0]["reorder_level"] == "4"


def test_post_inventory_never_goes_below_reserved(api, hub, shelves):
    hub.inventory.stock.create_holds("a", "pos:T1", [{"sku": "P-7", "qty": Decimal(5)}])
    r = api.post("/v1/inventory", {"store_code": "a", "sku": "P-7", "on_hand": 4})
    assert (r.status, error_shape(r)) == (409, "below_reserved")
    r = api.post("/v1/inventory", {"store_code": "a", "sku": "P-7", "on_hand": 6, "reorder_level": 1})
    assert (r.status, r.json["reserved"], r.json["available"], r.json["reorder_level"]) == (200, "5", "1", "1")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"store_code": "nowhere", "sku": "P-0", "on_hand": 1}, 422, "unknown_store"),
    ({"store_code": "a", "sku": "NOPE", "on_hand": 1}, 422, "unknown_product"),
    ({"sku": "P-0", "on_hand": 1}, 400, "missing_store_code"),
    ({"store_code": "A B", "sku": "P-0", "on_hand": 1}, 400, "invalid_store_code"),
    ({"store_code": "a", "on_hand": 1}, 400, "missing_sku"),
    ({"store_code": "a", "sku": "P/0", "on_hand": 1}, 400, "invalid_sku"),
    ({"store_code": "a", "sku": "P-0"}, 400, "missing_on_hand"),
    ({"store_code": "a", "sku": "P-0", "on_hand": -1}, 400, "invalid_on_hand"),
    ({"store_code": "a", "sku": "P-0", "on_hand": "1.0001"}, 400, "invalid_on_hand"),
    ({"store_code": "a", "sku": "P-0", "on_hand": 1, "reorder_level": -2}, 400, "invalid_reorder_level"),
    ({"store_code": "a", "sku": "P-0", "on_hand": 1, "reserved": 0}, 400, "unknown_field"),
])
def test_invalid_inventory_posts_write_nothing(api, catalog, body, status, code):
    api.post("/v1/stores", {"code": "a", "name": "A"})
    r = api.post("/v1/inventory", body)
    assert (r.status, error_shape(r)) == (status, code), r.json
    assert api.get("/v1/inventory").json["items"] == []


def test_inventory_by_store_pages_through_the_keys_only_index(api, hub, shelves, calls):
    calls.clear()
    pages = all_pages(api, "/v1/inventory?store=a", 3)
    assert [len(p) for p in pages] == [3, 3, 2]
    rows = flat(pages)
    assert [r["sku"] for r in rows] == [f"P-{n}" for n in range(8)]
    assert rows[5] == {"store_code": "a", "sku": "P-5", "on_hand": "5", "reserved": "0", "available": "5",
                       "reorder_level": "3"}
    queries = [p for p in calls.of("Query")]
    assert queries and {p["IndexName"] for p in queries} == {"gsi5"}
    batches = calls.of("BatchGetItem")
    assert len(batches) == len(pages) - (1 if not pages[-1] else 0)
    assert all(next(iter(b["RequestItems"].values()))["ConsistentRead"] for b in batches)
    assert flat(all_pages(api, "/v1/inventory?store=c", 5)) == []
    assert flat(all_pages(api, "/v1/inventory?store=nowhere", 5)) == []


def test_the_stock_index_projects_keys_only(hub):
    table = hub.db.client.describe_table(TableName=hub.db.table)["Table"]
    gsi5 = next(i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "gsi5")
    assert gsi5["Projection"]["ProjectionType"] == "KEYS_ONLY"


def test_inventory_by_sku_across_stores(api, shelves, calls):
    calls.clear()
    rows = flat(all_pages(api, "/v1/inventory?sku=P-4", 50))
    assert [(r["store_code"], r["on_hand"]) for r in rows] == [("a", "4"), ("b", "50")]
    assert len(calls.of("BatchGetItem")) == 1 and {p["IndexName"] for p in calls.of("Query")} == {"gsi1"}
    pages = all_pages(api, "/v1/inventory?sku=P-4", 1)
    assert [[r["store_code"] for r in p] for p in pages] == [["a"], ["b"], []]  # store c stocks none: short page
    assert flat(all_pages(api, "/v1/inventory?sku=P-0", 2)) == [
        {"store_code": "a", "sku": "P-0", "on_hand": "0", "reserved": "0", "available": "0", "reorder_level": "3"}]
    assert api.get("/v1/inventory?store=b&sku=P-4").json == {"items": [rows[1]], "next_cursor": None}
    assert api.get("/v1/inventory?store=b&sku=P-0").json == {"items": [], "next_cursor": None}


def test_inventory_without_filters_walks_every_store(api, shelves):
    for limit in (1, 2, 4, 200):
        rows = flat(all_pages(api, "/v1/inventory", limit))
        assert [(r["store_code"], r["sku"]) for r in rows] == (
            [("a", f"P-{n}") for n in range(8)] + [("b", "P-1"), ("b", "P-4"), ("b", "P-6")]), limit


def test_low_stock_is_available_at_or_below_the_reorder_level(api, hub, shelves):
    # b's rows have no reorder level (0): low once nothing is available, here because holds reserve it all.
    hub.inventory.stock.create_holds("b", "pos:T1", [{"sku": "P-6", "qty": Decimal(50)}])
    hub.inventory.stock.create_holds("b", "pos:T2", [{"sku": "P-4", "qty": Decimal(49)}])
    low = flat(all_pages(api, "/v1/inventory?low_stock=true", 2))
    assert [(r["store_code"], r["sku"], r["available"]) for r in low] == [
        ("a", "P-0", "0"), ("a", "P-1", "1"), ("a", "P-2", "2"), ("a", "P-3", "3"), ("b", "P-6", "0")]
    assert [r["sku"] for r in flat(all_pages(api, "/v1/inventory?store=a&low_stock=true", 3))] == [
        "P-0", "P-1", "P-2", "P-3"]
    assert [r["store_code"] for r in flat(all_pages(api, "/v1/inventory?sku=P-6&low_stock=true", 1))] == ["b"]
    assert len(flat(all_pages(api, "/v1/inventory?low_stock=false", 200))) == 11
    # A page of keys is filtered after it is read: pages may be short, the cursor still goes on.
    pages = all_pages(api, "/v1/inventory?store=a&low_stock=true", 2)
    assert [len(p) for p in pages] == [2, 2, 0, 0]


def test_listed_available_is_the_stored_one_and_the_single_read_the_instant_one(api, hub, shelves):
    hub.inventory.stock.create_holds("a", "pos:OLD", [{"sku": "P-7", "qty": Decimal(2)}], ttl_minutes=1,
                                     now="2020-01-01T00:00:00Z")
    (listed,) = api.get("/v1/inventory?store=a&sku=P-7").json["items"]
    assert (listed["reserved"], listed["available"]) == ("2", "5")  # the lapsed hold, until the sweeper runs
    assert api.get("/v1/inventory/a/P-7").json["available"] == "7"
    assert hub.inventory.stock.release_expired() == 1
    (listed,) = api.get("/v1/inventory?store=a&sku=P-7").json["items"]
    assert (listed["reserved"], listed["available"]) == ("0", "7")


def test_inventory_cursors_are_bound_to_their_filters(api, shelves):
    by_store = api.get("/v1/inventory?store=a&limit=2").json["next_cursor"]
    by_sku = api.get("/v1/inventory?sku=P-4&limit=1").json["next_cursor"]
    anywhere = api.get("/v1/inventory?limit=2").json["next_cursor"]
    assert api.get(f"/v1/inventory?store=a&limit=2&cursor={by_store}").status == 200
    for query, cursor in (("store=b", by_store), ("store=a&low_stock=true", by_store), ("", by_store),
                          ("sku=P-6", by_sku), ("store=a", by_sku), ("store=a", anywhere),
                          ("low_stock=true", anywhere), ("store=a&sku=P-1", by_store)):
        r = api.get(f"/v1/inventory?{query}&cursor={cursor}")
        assert (r.status, error_shape(r)) == (400, "invalid_cursor"), query


@pytest.mark.parametrize(("query", "code"), [
    ("store=A%20B", "invalid_store"), ("sku=a%23b", "invalid_sku"), ("low_stock=yes", "invalid_low_stock"),
    ("low_stock=1", "invalid_low_stock"), ("limit=-1", "invalid_limit"), ("cursor=%20", "invalid_cursor"),
])
def test_invalid_inventory_filters_are_400(api, shelves, query, code):
    r = api.get(f"/v1/inventory?{query}")
    assert (r.status, error_shape(r)) == (400, code)


# --- the catalog version and the reindex directive ----------------------------------------------------------------

def test_every_catalog_write_bumps_the_version_once_and_sends_one_reindex(api, hub):
    writes = [
        lambda: api.post("/v1/categories", {"id": "shoes", "name": "Shoes"}),
        lambda: api.post("/v1/products", {"sku": "S-1", "title": "Shoe", "price_q": 100, "category": "shoes"}),
        lambda: api.put("/v1/products/S-1", {"title": "Shoe 2", "price_q": 200}, headers={"If-Match": '"1"'}),
        lambda: api.post("/v1/catalog/import", {"products": [{"sku": "S-2", "title": "Two", "price_q": 1}]}),
    ]
    reasons = ["category.created", "product.created", "product.replaced", "catalog.imported"]
    for n, (write, reason) in enumerate(zip(writes, reasons, strict=True), start=1):
        assert write().status in (200, 201)
        assert version(hub) == n
        directives = reindex_directives(api)
        assert len(directives) == n
        newest = directives[0]
        assert (newest["topic"], newest["payload"]["reason"], newest["queue"]) == ("catalog.reindex", reason,
                                                                                   "directives")
    # Stores and stock are not the catalog: no version, no reindex.
    api.post("/v1/stores", {"code": "a", "name": "A"})
    api.post("/v1/inventory", {"store_code": "a", "sku": "S-1", "on_hand": 1})
    assert (version(hub), len(reindex_directives(api))) == (4, 4)


def test_the_reindex_directive_is_written_in_the_writes_own_transaction(api, hub, calls):
    api.post("/v1/categories", {"id": "shoes", "name": "Shoes"})
    calls.clear()
    assert api.post("/v1/products", {"sku": "S-1", "title": "Shoe", "price_q": 100, "category": "shoes"}).status == 201
    (transaction,) = calls.of("TransactWriteItems")
    writes = transaction["TransactItems"]
    assert [next(iter(w)) for w in writes] == ["Put", "ConditionCheck", "Update", "Put"]
    assert writes[0]["Put"]["Item"]["pk"] == {"S": "PRD#S-1"}
    assert writes[1]["ConditionCheck"]["Key"]["pk"] == {"S": "CAT#shoes"}
    assert writes[2]["Update"]["Key"] == {"pk": {"S": "CATALOG"}, "sk": {"S": "META"}}
    assert "ADD" in writes[2]["Update"]["UpdateExpression"]
    assert writes[3]["Put"]["Item"]["topic"] == {"S": "catalog.reindex"}
    assert "outbox_pk" in writes[3]["Put"]["Item"]  # in the outbox: the relay sends it if the request dies here
    # Nothing of the catalog is written outside it (the rate limiter counts the request, the queue marks the
    # directive sent).
    others = [p.get("Key", p.get("Item", {})).get("pk", {}).get("S", "") for p in calls.of(
        "PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem")]
    assert all(pk.startswith(("RL#", "DIR#")) for pk in others), others


def test_a_reindex_directive_is_listed_under_the_catalog_never_under_none(api, hub):
    from chalicelib.storage.keys import KEY_ATTRS

    assert api.post("/v1/categories", {"id": "shoes", "name": "Shoes"}).status == 201
    [directive] = reindex_directives(api)
    item = hub.db.client.get_item(TableName=hub.db.table, Key={"pk": {"S": f"DIR#{directive['id']}"},
                                                                "sk": {"S": "DIRECTIVE"}})["Item"]
    item = {k: v.get("S") for k, v in item.items()}
    assert item["gsi1pk"] == "DIRS#SYS#catalog"
    assert [k for k in KEY_ATTRS if "None" in str(item.get(k, ""))] == []
    assert [i["id"] for i in hub.db.query("gsi1pk", "DIRS#SYS#catalog", index="gsi1", limit=10).items] == [
        directive["id"]]


# --- access -------------------------------------------------------------------------------------------------------

def test_reads_take_any_key_and_writes_catalog_write(api, shelves):
    reader = api.new_key("channel:pos:read", name="reader")
    writer = api.new_key("catalog:write", name="catalog")
    for path in ("/v1/categories", "/v1/categories/shoes", "/v1/products", "/v1/products/P-0", "/v1/stores",
                 "/v1/stores/a", "/v1/inventory", "/v1/inventory?store=a", "/v1/inventory/a/P-0"):
        assert reader.get(path).status == 200, path
    writes = [("POST", "/v1/categories", {"id": "new", "name": "New"}),
              ("POST", "/v1/products", {"sku": "N-1", "title": "New", "price_q": 1}),
              ("PUT", "/v1/products/N-1", {"title": "New", "price_q": 2, "expected_version": 1}),
              ("POST", "/v1/inventory", {"store_code": "a", "sku": "N-1", "on_hand": 1}),
              ("POST", "/v1/catalog/import", {"categories": [{"id": "other", "name": "Other"}]})]
    for method, path, body in writes:
        r = reader.request(method, path, body)
        assert (r.status, error_shape(r)) == (403, "forbidden"), path
        assert r.json["error"]["details"] == {"required": "catalog:write"}
    for method, path, body in writes:
        assert writer.request(method, path, body).status in (200, 201), path


# --- no scans -----------------------------------------------------------------------------------------------------

def test_no_catalog_route_scans(api, hub):
    """Every catalog route, every filter, once with a Scan hook that raises."""

    def refuse(**_: Any) -> None:
        raise AssertionError("a request path called Scan")

    events = hub.db.client.meta.events
    events.register("before-call.dynamodb.Scan", refuse, unique_id="catalog-no-scan")
    try:
        assert api.post("/v1/categories", {"id": "shoes", "name": "Shoes"}).status == 201
        assert api.post("/v1/stores", {"code": "a", "name": "A"}).status == 201
        assert api.post("/v1/products", {"sku": "S-1", "title": "Shoe", "price_q": 5, "category": "shoes"}).status \
            == 201
        assert api.put("/v1/products/S-1", {"title": "Shoe", "price_q": 6, "category": "shoes"},
                       headers={"If-Match": '"1"'}).status == 200
        assert api.post("/v1/catalog/import", {
            "categories": [{"id": "bags", "name": "Bags"}], "stores": [{"code": "b", "name": "B"}],
            "products": [{"sku": "B-1", "title": "Bag", "price_q": 7, "category": "bags"}],
            "stock": [{"store_code": "b", "sku": "B-1", "on_hand": 3}, {"store_code": "a", "sku": "S-1",
                                                                         "on_hand": 1}]}).status == 200
        assert api.post("/v1/inventory", {"store_code": "b", "sku": "S-1", "on_hand": 2}).status == 201
        assert api.put("/v1/inventory/a/S-1", {"on_hand": 4, "reorder_level": 5}).status == 200
        for path in ("/v1/categories", "/v1/categories?limit=1", "/v1/categories/shoes", "/v1/products",
                     "/v1/products?category=shoes", "/v1/products?min_price_q=1&max_price_q=6", "/v1/products/S-1",
                     "/v1/stores", "/v1/stores/a", "/v1/inventory", "/v1/inventory?store=a",
                     "/v1/inventory?sku=S-1", "/v1/inventory?store=a&sku=S-1", "/v1/inventory?low_stock=true",
                     "/v1/inventory?limit=1", "/v1/inventory/a/S-1"):
            r = api.get(path)
            assert r.status == 200, (path, r.json)
            if r.json.get("next_cursor"):
                assert api.get(f"{path}{'&' if '?' in path else '?'}cursor={r.json['next_cursor']}").status == 200
        assert list(hub.inventory.store.all_products()) and hub.inventory.store.categories_by_id()
        assert hub.inventory.store.catalog_version() == 4
    finally:
        events.unregister("before-call.dynamodb.Scan", unique_id="catalog-no-scan")
