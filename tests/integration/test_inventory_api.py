"""Inventory over HTTP: stores, products, counted stock, every refusal, and the hold sweeper's schedule."""

from __future__ import annotations

from decimal import Decimal

import pytest


def error_shape(r) -> str:
    assert set(r.json) == {"error"}, r.json
    assert set(r.json["error"]) == {"code", "message", "details"}, r.json
    return r.json["error"]["code"]


@pytest.fixture
def shop(api):
    """A store and two products, with no stock counted yet."""
    assert api.post("/v1/stores", {"code": "lisbon", "name": "Lisbon", "location": "Rua Augusta 1"}).status == 201
    assert api.post("/v1/products", {"sku": "COFFEE", "name": "Coffee", "price_q": 500}).status == 201
    assert api.post("/v1/categories", {"id": "grocery", "name": "Grocery"}).status == 201  # a product's must exist
    assert api.post("/v1/products", {"sku": "BEANS-1KG", "name": "Beans", "price_q": 2490,
                                     "category": "grocery"}).status == 201
    return "lisbon"


# --- stores -----------------------------------------------------------------

def test_create_and_read_a_store(api):
    r = api.post("/v1/stores", {"code": "porto", "name": "Porto", "location": "Ribeira"})
    assert r.status == 201
    assert {k: r.json[k] for k in ("code", "name", "location")} == {"code": "porto", "name": "Porto",
                                                                    "location": "Ribeira"}
    assert r.json["created_at"]
    got = api.get("/v1/stores/porto")
    assert (got.status, got.json) == (200, r.json)
    bare = api.post("/v1/stores", {"code": "faro", "name": "Faro"}).json
    assert bare["location"] is None


def test_duplicate_store_is_409_and_keeps_the_first(api):
    api.post("/v1/stores", {"code": "porto", "name": "Porto"})
    r = api.post("/v1/stores", {"code": "porto", "name": "Other"})
    assert (r.status, error_shape(r)) == (409, "store_exists")
    assert api.get("/v1/stores/porto").json["name"] == "Porto"


def test_unknown_store_is_404(api):
    for code in ("nowhere", "BAD CODE", "a%23b", "x" * 300):
        r = api.get(f"/v1/stores/{code}")
        assert (r.status, error_shape(r)) == (404, "store_not_found"), code


@pytest.mark.parametrize("body", [
    {"name": "no code"},
    {"code": "x", "name": ""},
    {"code": "x"},
    {"code": "X Y", "name": "bad code"},
    {"code": "x#y", "name": "hash in code"},
    {"code": "x", "name": "x", "location": ""},
    {"code": "x", "name": "x", "surprise": 1},
    {"code": 5, "name": "x"},
    ["not", "an", "object"],
    None,
])
def test_invalid_stores_are_400_and_store_nothing(api, body):
    r = api.post("/v1/stores", body) if body is not None else api.post("/v1/stores", raw="")
    assert (r.status, error_shape(r)) == (400, r.json["error"]["code"]), r.json
    assert api.get("/v1/stores/x").status == 404


def test_malformed_json_is_400(api):
    r = api.post("/v1/stores", raw='{"code": "x", ')
    assert (r.status, error_shape(r)) == (400, "invalid_json")


# --- products ---------------------------------------------------------------

def test_create_and_read_a_product(api):
    assert api.post("/v1/categories", {"id": "drinks", "name": "Drinks"}).status == 201
    r = api.post("/v1/products", {"sku": "TEA", "name": "Tea", "price_q": 400, "category": "drinks"})
    assert r.status == 201
    assert {k: r.json[k] for k in ("sku", "name", "price_q", "category")} == {
        "sku": "TEA", "name": "Tea", "price_q": 400, "category": "drinks"}
    assert isinstance(r.json["price_q"], int)
    got = api.get("/v1/products/TEA")
    assert (got.status, got.json) == (200, r.json)
    free = api.post("/v1/products", {"sku": "FREEBIE", "name": "Free", "price_q": 0})
    assert (free.status, free.json["price_q"], free.json["category"]) == (201, 0, None)


def test_duplicate_product_is_409(api):
    api.post("/v1/products", {"sku": "TEA", "name": "Tea", "price_q": 400})
    r = api.post("/v1/products", {"sku": "TEA", "name": "Tea again", "price_q": 1})
    assert (r.status, error_shape(r)) == (409, "product_exists")
    assert api.get("/v1/products/TEA").json["price_q"] == 400


def test_unknown_product_is_404(api):
    for sku in ("NOPE", "a%23b", "x" * 300):
        r = api.get(f"/v1/products/{sku}")
        assert (r.status, error_shape(r)) == (404, "product_not_found"), sku


@pytest.mark.parametrize("raw", [
    '{"sku": "P", "name": "p", "price_q": 5.5}',
    '{"sku": "P", "name": "p", "price_q": 5.0}',
    '{"sku": "P", "name": "p", "price_q": 1e2}',
    '{"sku": "P", "name": "p", "price_q": -1}',
    '{"sku": "P", "name": "p", "price_q": "500"}',
    '{"sku": "P", "name": "p", "price_q": true}',
    '{"sku": "P", "name": "p", "price_q": null}',
    '{"sku": "P", "name": "p", "price_q": 10000000000000000}',
    '{"sku": "P", "name": "p"}',
    '{"sku": "P", "price_q": 1}',
    '{"sku": "P", "name": "p", "price_q": 1, "stock": 3}',
    '{"sku": "P#1", "name": "p", "price_q": 1}',
    '{"sku": "P/1", "name": "p", "price_q": 1}',
    '{"sku": "", "name": "p", "price_q": 1}',
    '{"sku": "P", "name": "p", "price_q": 1, "category": ""}',
    '{"sku": "P", "name": "p", "price_q": NaN}',
])
def test_invalid_products_are_400_and_store_nothing(api, raw):
    r = api.post("/v1/products", raw=raw)
    assert r.status == 400, r.json
    error_shape(r)
    assert api.get("/v1/products/P").status == 404


# --- stock ------------------------------------------------------------------

def test_set_and_read_stock(api, shop):
    r = api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 10})
    assert (r.status, r.json) == (200, {"store_code": "lisbon", "sku": "COFFEE", "on_hand": "10", "reserved": "0",
                                        "available": "10"})
    assert api.get("/v1/inventory/lisbon/COFFEE").json == r.json
    r = api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": "7.125"})
    assert (r.status, r.json["on_hand"], r.json["available"]) == (200, "7.125", "7.125")
    r = api.put("/v1/inventory/lisbon/BEANS-1KG", raw='{"on_hand": 0.1}')
    assert r.status == 200
    # Quantities are JSON numbers written from their decimal digits, never through a float.
    assert (r.json["on_hand"], r.json["available"], r.json["reserved"]) == ("0.1", "0.1", "0")
    assert api.put("/v1/inventory/lisbon/BEANS-1KG", {"on_hand": 0}).json["available"] == "0"


def test_stock_is_per_store(api, shop):
    api.post("/v1/stores", {"code": "porto", "name": "Porto"})
    api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 3})
    api.put("/v1/inventory/porto/COFFEE", {"on_hand": 40})
    assert api.get("/v1/inventory/lisbon/COFFEE").json["available"] == "3"
    assert api.get("/v1/inventory/porto/COFFEE").json["available"] == "40"


def test_stock_of_unknown_store_or_product_is_404(api, shop):
    r = api.put("/v1/inventory/nowhere/COFFEE", {"on_hand": 1})
    assert (r.status, error_shape(r)) == (404, "store_not_found")
    r = api.put("/v1/inventory/lisbon/NOPE", {"on_hand": 1})
    assert (r.status, error_shape(r)) == (404, "product_not_found")
    r = api.get("/v1/inventory/lisbon/COFFEE")
    assert (r.status, error_shape(r)) == (404, "stock_not_found")
    for path in ("/v1/inventory/nowhere/COFFEE", "/v1/inventory/lisbon/NOPE", "/v1/inventory/BAD%20CODE/X",
                 "/v1/inventory/lisbon/a%23b"):
        r = api.get(path)
        assert (r.status, error_shape(r)) == (404, "stock_not_found"), path


@pytest.mark.parametrize("raw", [
    '{"on_hand": -1}', '{"on_hand": "-0.001"}', '{"on_hand": 1.0001}', '{"on_hand": "abc"}',
    '{"on_hand": true}', '{"on_hand": null}', '{"on_hand": "NaN"}', '{"on_hand": "Infinity"}',
    '{"on_hand": 1e400}', '{"on_hand": 99999999999999999999}', '{}', '{"on_hand": 1, "reserved": 0}',
    '[1]', '"1"', '{"on_hand": [1]}',
])
def test_invalid_stock_bodies_are_400_and_change_nothing(api, shop, raw):
    assert api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 5}).status == 200
    r = api.put("/v1/inventory/lisbon/COFFEE", raw=raw)
    assert r.status == 400, r.json
    error_shape(r)
    assert api.get("/v1/inventory/lisbon/COFFEE").json["on_hand"] == "5"
    r = api.put("/v1/inventory/lisbon/BEANS-1KG", raw=raw)
    assert r.status == 400
    assert api.get("/v1/inventory/lisbon/BEANS-1KG").status == 404


def test_on_hand_below_reserved_is_409_and_changes_nothing(api, hub, shop):
    api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 10})
    hub.inventory.stock.create_holds("lisbon", "pos:T1", [{"sku": "COFFEE", "qty": Decimal(4)}])
    r = api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": "3.5"})
    assert (r.status, error_shape(r)) == (409, "below_reserved")
    assert r.json["error"]["details"] == {"store_code": "lisbon", "sku": "COFFEE", "on_hand": "3.5",
                                          "reserved": "4"}
    assert api.get("/v1/inventory/lisbon/COFFEE").json == {"store_code": "lisbon", "sku": "COFFEE",
                                                           "on_hand": "10", "reserved": "4", "available": "6"}
    r = api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 4})
    assert (r.status, r.json["reserved"], r.json["available"]) == (200, "4", "0")


def test_expired_holds_do_not_count_as_reserved(api, hub, shop):
    api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 10})
    hub.inventory.stock.create_holds("lisbon", "pos:T1", [{"sku": "COFFEE", "qty": Decimal(4)}],
                                     ttl_minutes=1, now="2020-01-01T00:00:00Z")
    assert api.get("/v1/inventory/lisbon/COFFEE").json["available"] == "10"
    r = api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 2})
    assert (r.status, r.json) == (200, {"store_code": "lisbon", "sku": "COFFEE", "on_hand": "2", "reserved": "0",
                                        "available": "2"})


def test_hold_sweeper_schedule(api, hub, shop):
    api.put("/v1/inventory/lisbon/COFFEE", {"on_hand": 10})
    hub.inventory.stock.create_holds("lisbon", "pos:OLD", [{"sku": "COFFEE", "qty": 1}], ttl_minutes=1,
                                     now="2020-01-01T00:00:00Z")
    hub.inventory.stock.create_holds("lisbon", "pos:NEW", [{"sku": "COFFEE", "qty": 2}])
    event = api.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
    assert api.client.lambda_.invoke("hold_sweeper", event).payload == {"released": 1}
    assert api.client.lambda_.invoke("hold_sweeper", event).payload == {"released": 0}
    stock = hub.inventory.store.get_stock("lisbon", "COFFEE")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 2, 8)


def test_junk_never_500s(api, shop):
    for method, path in (("POST", "/v1/stores"), ("POST", "/v1/products"), ("PUT", "/v1/inventory/lisbon/COFFEE"),
                         ("PUT", "/v1/inventory/%00/%FF")):
        for raw in ("null", "[]", "{}", '"x"', "{" * 500, '{"on_hand": {"a": 1}}', '{"code": {"a": 1}}'):
            r = api.request(method, path, raw=raw)
            assert 400 <= r.status < 500, (method, path, raw, r.body)
            error_shape(r)
