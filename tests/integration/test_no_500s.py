"""Nothing a client can send gives a 500: junk bodies and parameters on every route."""

from __future__ import annotations

import json

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
        '{"session_key": "' + "k" * 500 + '"}', "\udcff", "{" * 1000]


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


@pytest.mark.parametrize("query", ["?limit=-1", "?limit=1e3", "?cursor=%00", "?cursor=" + "A" * 5000,
                                   "?state=%00", "?status=" + "x" * 3000, "?channel=%FF", "?topic=a&order_ref=b"])
def test_junk_parameters_never_500(api, world, query):
    for path in ("/v1/channels", "/v1/channels/pos/sessions", "/v1/orders", f"/v1/orders/{world}/events",
                 "/v1/directives", "/v1/inventory/main/COFFEE", "/v1/products/COFFEE", "/v1/stores/main"):
        r = api.get(path + query)
        assert r.status < 500, (path, query, r.body)


@pytest.mark.parametrize("header", [{"If-Match": "*"}, {"If-Match": "-1"}, {"X-Actor": "a b"},
                                    {"Idempotency-Key": "\u00e9\u00e8"}, {"X-Actor": "x" * 500}])
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
