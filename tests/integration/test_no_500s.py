"""Nothing a client can send gives a 500: junk bodies and parameters on every route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest

JUNK = ["null", "[]", '"text"', "1", "true", "{}", '{"ops": null}', '{"ops": [null]}', '{"ops": [[]]}',
        '{"ops": [{"op": null}]}', '{"ops": [{"op": "add_line", "sku": {"a": 1}, "qty": [1]}]}',
        '{"ops": [{"op": "add_line", "sku": "COFFEE", "qty": 1e400}]}',
        '{"ops": [{"op": "add_line", "sku": "COFFEE", "qty": "1e5000"}]}',
        '{"ops": [{"op": "add_line", "sku": "COFFEE", "qty": 99999999999999999999}]}',
        '{"ops": [{"op": "set_data", "path": "a", "value": ' + "[" * 200 + "]" * 200 + "}]}",
        '{"ops": [{"op": "set_data", "path": "' + "a." * 300 + 'b", "value": 1}]}',
        '{"status": {"x": 1}}', '{"name": null, "code": 5}', '{"idempotency_key": 5}',
        '{"expected_rev": -1}', '{"expected_rev": 1.5}', '{"issue_id": [], "action": {}}',
        '{"session_key": "' + "k" * 500 + '"}', "\udcff", "{" * 1000, "[" * 5000, '{"a":' * 5000,
        '{"session_key": "s1", "data": {"a": "\\ud800"}}', '{"name": "\\udfff", "code": "x"}',
        '{"ops": [{"op": []}]}', '{"ops": [{"op": {}}]}', '{"ops": [{"op": {"add_line": 1}}]}',
        '{"ops": [{"op": "set_data", "path": "a", "value": 1' + "0" * 5000 + '}]}', '{"config": {"x": 1e400}}',
        '{"name": "n", "config": {"pricing": {"prices": ["COFFEE"]}}, "expected_version": 1}']


@pytest.fixture
def world(api, pos):
    api.session("pos", "S")
    api.modify("pos", "S", {"op": "add_line", "sku": "COFFEE", "qty": 1})
    ref = api.commit("pos", "S", "k").json["order_ref"]
    api.session("pos", "OPEN")
    return ref


def routes(ref):
    return [
        ("POST", "/v1/channels"), ("PUT", "/v1/channels/pos"), ("POST", "/v1/channels/pos/sessions"),
        ("POST", "/v1/channels/pos/sessions/OPEN/modify"), ("POST", "/v1/channels/pos/sessions/OPEN/commit"),
        ("POST", "/v1/channels/pos/sessions/OPEN/resolve"), ("POST", "/v1/channels/pos/sessions/OPEN/abandon"),
        ("POST", "/v1/channels/pos/sessions/OPEN/checks/stock"), ("POST", f"/v1/orders/{ref}/transition"),
        ("POST", "/v1/channels/pos/sessions/OPEN/recheck"), ("POST", "/v1/directives/D-X/retry"),
        ("POST", "/v1/directives/redrive"), ("POST", "/v1/stores"),
        ("POST", "/v1/products"), ("PUT", "/v1/inventory/main/COFFEE"),
    ]


@pytest.mark.parametrize("body", JUNK)
def test_junk_bodies_never_500(api, world, body):
    for method, path in routes(world):
        headers = {"Idempotency-Key": "junk"} if path.endswith("commit") else {}
        r = api.request(method, path, raw=body.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                        headers=headers)
        assert r.status < 500, (method, path, r.body)
        if r.status >= 400:
            assert set(r.json["error"]) == {"code", "message", "details"}, r.json


@pytest.mark.parametrize("query", ["?limit=-1", "?limit=1e3", "?limit=" + "9" * 5000, "?limit=%D9%A5",
                                   "?cursor=%00", "?cursor=" + "A" * 5000,
                                   "?state=%00", "?status=" + "x" * 3000, "?channel=%FF", "?topic=a&order_ref=b"])
def test_junk_parameters_never_500(api, world, query):
    for path in ("/v1/channels", "/v1/channels/pos/sessions", "/v1/orders", f"/v1/orders/{world}/events",
                 "/v1/directives", "/v1/inventory/main/COFFEE", "/v1/products/COFFEE", "/v1/stores/main"):
        r = api.get(path + query)
        assert r.status < 500, (path, query, r.body)


@pytest.mark.parametrize("header", [{"If-Match": "*"}, {"If-Match": "-1"}, {"X-Actor": "a b"},
                                    {"Idempotency-Key": "\u00e9\u00e8"}, {"X-Actor": "x" * 500},
                                    {"If-Match": "9" * 5000}, {"If-Match": "\u00b2"}, {"X-Actor": "\u00e9"}])
def test_junk_headers_never_500(api, world, header):
    r = api.post("/v1/channels/pos/sessions/OPEN/modify",
                 {"ops": [{"op": "add_line", "sku": "TEA", "qty": 1}]}, headers=header)
    assert r.status < 500, r.body
    r = api.post("/v1/channels/pos/sessions/OPEN/commit", {}, headers=header)
    assert r.status < 500, r.body


def test_junk_path_parameters_never_500(api, world):
    for path in ("/v1/channels/%00", "/v1/channels/pos/sessions/" + "x" * 2000, "/v1/orders/" + "%FF" * 10,
                 "/v1/directives/..%2F..", "/v1/channels/pos/sessions/OPEN%23SESSION"):
        r = api.get(path)
        assert r.status < 500, (path, r.body)
    assert json.loads(api.get("/v1/channels/pos/sessions/OPEN").body)["state"] == "open"


def test_hostile_bodies_are_400s_with_their_own_codes(api, world):
    for raw in ("[" * 5000, '{"a":' * 5000, '{"session_key": "s1", "data": {"a": "\\ud800"}}',
                '{"session_key": "s1", "data": {"\\udc00": 1}}'):
        r = api.request("POST", "/v1/channels/pos/sessions", raw=raw)
        assert (r.status, r.error_code()) == (400, "invalid_json"), r.json
    assert api.get("/v1/channels/pos/sessions/s1").status == 404
    r = api.request("POST", "/v1/channels/pos/sessions", raw='{"data": {"n": ' + "9" * 5000 + "}}")
    assert (r.status, r.error_code()) == (400, "number_out_of_range")
    r = api.request("POST", "/v1/channels/pos/sessions", raw='{"data": {"big": "' + "x" * (1024 * 1024) + '"}}')
    assert (r.status, r.error_code()) == (413, "payload_too_large")


@pytest.mark.parametrize("op", [[], {}, {"add_line": 1}, 5, True, None, "drop_table", "x" * 10_000])
def test_an_op_that_names_no_op_is_unsupported_op(api, world, op):
    r = api.post("/v1/channels/pos/sessions/OPEN/modify", {"ops": [{"op": op}]})
    assert (r.status, r.error_code()) == (400, "unsupported_op"), r.json
    assert r.json["error"]["details"]["index"] == 0
    assert len(r.body) < 2000  # a long or structured op is not echoed back whole


def test_long_if_match_is_invalid_if_match(api, world):
    long = {"If-Match": "9" * 5000}
    r = api.put("/v1/channels/pos", {"name": "POS"}, headers=long)
    assert (r.status, r.error_code()) == (400, "invalid_if_match")
    r = api.post("/v1/channels/pos/sessions/OPEN/modify", {"ops": [{"op": "set_data", "path": "a", "value": 1}]},
                 headers=long)
    assert (r.status, r.error_code()) == (400, "invalid_if_match")
    r = api.get("/v1/orders?limit=" + "9" * 5000)
    assert (r.status, r.error_code()) == (400, "invalid_limit")


def _cursor_parts(cursor: str) -> tuple[bytes, dict]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return raw[:32], json.loads(raw[32:])


def _encode(mac: bytes, last_key: dict) -> str:
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def test_edited_or_foreign_cursors_are_invalid_cursor(api, world, web):
    for key in ("W1", "W2"):
        api.session("web", key)
        api.modify("web", key, {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
        assert api.commit("web", key, key).status == 201
    api.modify("pos", "OPEN", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert api.commit("pos", "OPEN", "k2").status == 201
    first = api.get("/v1/orders?channel=pos&limit=1")
    cursor = first.json["next_cursor"]
    assert cursor and re.fullmatch(r"[A-Za-z0-9_-]+", cursor)

    # The decoded key, moved to another channel's partition: with the old signature, or signed with a guess.
    mac, last_key = _cursor_parts(cursor)
    assert last_key["gsi2pk"] == {"S": "ORDERS#CH#pos"}
    moved = {**last_key, "gsi2pk": {"S": "ORDERS#CH#web"}}
    guessed = hmac.new(b"guess", json.dumps(moved).encode(), hashlib.sha256).digest()
    for edited in (_encode(mac, moved), _encode(guessed, moved), _encode(b"\0" * 32, moved), cursor[:-2] + "AA"):
        for listing in ("/v1/orders?channel=pos&limit=1", "/v1/orders?channel=web&limit=1"):
            r = api.get(f"{listing}&cursor={edited}")
            assert (r.status, r.error_code()) == (400, "invalid_cursor"), (listing, r.json)
    # The old format (base64 JSON with a scope tag) is no cursor either.
    unsigned = base64.urlsafe_b64encode(json.dumps({"k": moved, "s": "x"}).encode()).decode().rstrip("=")
    assert api.get(f"/v1/orders?channel=web&limit=1&cursor={unsigned}").error_code() == "invalid_cursor"

    # A real cursor resumes its own listing only.
    for other in ("/v1/orders?channel=web&limit=1", "/v1/orders?limit=1", "/v1/orders?channel=pos&status=new&limit=1",
                  "/v1/directives?limit=1", "/v1/channels?limit=1", f"/v1/orders/{world}/events?limit=1"):
        r = api.get(f"{other}&cursor={cursor}")
        assert (r.status, r.error_code()) == (400, "invalid_cursor"), other
    resumed = api.get(f"/v1/orders?channel=pos&limit=1&cursor={cursor}")
    assert resumed.status == 200, resumed.json
    assert [o["channel_code"] for o in resumed.json["items"]] == ["pos"]
    assert resumed.json["items"][0]["ref"] != first.json["items"][0]["ref"]


def test_malformed_contrib_config_is_read_without_500s(api, world):
    # Channel config is free-form for contribs: a reader meeting the wrong shape must not crash.
    for prices in (["COFFEE"], {"COFFEE": True}, {"COFFEE": -5}, {"COFFEE": [1]}, "cheap"):
        version = api.get("/v1/channels/pos").json["version"]
        r = api.put("/v1/channels/pos", {"name": "POS", "config": {"pricing": {"prices": prices}}},
                    headers={"If-Match": str(version)})
        assert r.status == 200, r.json
        r = api.modify("pos", "OPEN", {"op": "add_line", "sku": "COFFEE", "qty": 1})
        assert (r.status, r.error_code()) == (422, "price_not_found"), (prices, r.json)
    cfg = {"checks": {"stock": {"directive_topic": "stock.hold", "fulfilled_statuses": [[1], {"a": 1}, 5]}}}
    api.channel("shop", pricing_policy="external", config=cfg)
    api.session("shop", "C")
    r = api.modify("shop", "C", {"op": "add_line", "sku": "SOCK", "qty": 2, "unit_price_q": 100})
    assert r.status == 200, r.json
    issues = [{"id": f"i{n}", "code": "insufficient_stock", "context": {"sku": "SOCK"},
               "actions": [{"id": "adjust_qty", "params": {"qty": qty}}]}
              for n, qty in enumerate(["abc", [1], {"q": 1}, "NaN", "Infinity", True])]
    r = api.post("/v1/channels/shop/sessions/C/checks/stock", {"expected_rev": 1, "issues": issues})
    assert r.json == {"applied": True}
    for issue in issues:
        r = api.post("/v1/channels/shop/sessions/C/resolve", {"issue_id": issue["id"], "action_id": "adjust_qty"})
        assert (r.status, r.error_code()) == (422, "invalid_action_params"), (issue, r.json)
    assert api.post("/v1/channels/shop/sessions/C/checks/stock", {"expected_rev": 1}).json == {"applied": True}
    ref = api.commit("shop", "C", "shop-1").json["order_ref"]
    r = api.post(f"/v1/orders/{ref}/transition", {"status": "cancelled"})
    assert r.status == 200, r.json


def test_a_channel_too_large_to_store_is_422(api, world):
    r = api.post("/v1/channels", {"code": "big", "name": "Big", "config": {"blob": "x" * 500_000}})
    assert (r.status, r.error_code()) == (422, "channel_too_large")
    r = api.put("/v1/channels/pos", {"name": "POS", "config": {"blob": "x" * 500_000}}, headers={"If-Match": "1"})
    assert (r.status, r.error_code()) == (422, "channel_too_large")
    assert api.get("/v1/channels/big").status == 404
