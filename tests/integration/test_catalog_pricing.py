"""Internal pricing reads the catalog; a channel's own price list wins where it names the sku."""

from __future__ import annotations


def test_internal_prices_come_from_the_catalog_unless_the_channel_lists_them(api):
    api.post("/v1/products", {"sku": "SHOE", "name": "Shoe", "price_q": 5000})
    api.post("/v1/products", {"sku": "SOCK", "name": "Sock", "price_q": 500})
    api.channel("store", pricing_policy="internal", config={"pricing": {"prices": {"SOCK": 450}}})
    api.session("store", "S")
    resp = api.modify("store", "S", {"op": "add_line", "sku": "SHOE", "qty": 2},
                      {"op": "add_line", "sku": "SOCK", "qty": 1})
    assert resp.status == 200, resp.json
    assert [line["unit_price_q"] for line in resp.json["items"]] == [5000, 450]
    assert resp.json["pricing"]["total_q"] == 10450
    missing = api.modify("store", "S", {"op": "add_line", "sku": "GHOST", "qty": 1})
    assert (missing.status, missing.error_code()) == (422, "price_not_found")


def test_external_channels_keep_client_prices_even_for_catalog_skus(api):
    api.post("/v1/products", {"sku": "SHOE", "name": "Shoe", "price_q": 5000})
    api.channel("market", pricing_policy="external")
    api.session("market", "S")
    resp = api.modify("market", "S", {"op": "add_line", "sku": "SHOE", "qty": 1, "unit_price_q": 4200})
    assert (resp.json["items"][0]["unit_price_q"], resp.json["pricing"]["total_q"]) == (4200, 4200)
    again = api.modify("market", "S", {"op": "set_qty", "line_id": "L1", "qty": 3})
    assert again.json["pricing"]["total_q"] == 12600
