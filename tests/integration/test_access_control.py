"""API keys and scopes: every route but health and the API description needs a key, and a key reaches only what its
scopes name."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid

import pytest

from tests.conftest import ADMIN_KEY

PATH_PARAMS = {"code": "pos", "key": "OPEN", "check_code": "stock", "store_code": "main", "sku": "COFFEE",
               "namespace": "marketplace", "value": "MK-1", "asset": "app.js"}
# Public: liveness, the API's description of itself (client generators fetch it without a key), and the operator
# console's page and assets. None holds data: every call the console makes needs a key.
PUBLIC_ROUTES = [("/console", "GET"), ("/console/{asset}", "GET"), ("/v1/docs", "GET"), ("/v1/health", "GET"),
                 ("/v1/openapi.json", "GET")]


@pytest.fixture
def world(api, pos, web):
    """A pos order, an open pos session, a web order, a directive, a store and a product."""
    def order(channel: str, key: str, **line: object) -> str:
        api.session(channel, key)
        assert api.modify(channel, key, {"op": "add_line", "sku": "COFFEE", "qty": 1, **line}).status == 200
        return api.commit(channel, key, f"idem-{key}").json["order_ref"]

    pos_ref, web_ref = order("pos", "S1"), order("web", "W1", unit_price_q=300)
    api.session("pos", "OPEN")
    api.post("/v1/stores", {"code": "main", "name": "Main"})
    api.post("/v1/products", {"sku": "COFFEE", "name": "Coffee", "price_q": 500})
    directive = api.get(f"/v1/directives?order_ref={web_ref}").json["items"][0]["id"]
    key_id = api.get("/v1/me").json["key_id"]
    return {"pos_ref": pos_ref, "web_ref": web_ref, "directive_id": directive, "key_id": key_id}


def app_routes():
    import app

    return app.route.specs, app.app.routes


def fill(path: str, world: dict[str, str], ref: str | None = None) -> str:
    values = {**PATH_PARAMS, "ref": ref or world["pos_ref"], "directive_id": world["directive_id"],
              "key_id": world["key_id"]}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def call(client, method: str, path: str):
    body = {} if method in ("POST", "PUT") else None
    if (method, path) == ("POST", "/v1/orders"):  # the channel a direct order is for is in its body
        body = {"channel": "pos", "store_code": "main", "items": [{"sku": "COFFEE", "quantity": 1}]}
    # Money moves need a key: send one everywhere, so each answer is about access, not about a missing key.
    headers = {"Idempotency-Key": f"matrix-{uuid.uuid4()}"} if method == "POST" else None
    return client.request(method, path, body, headers=headers)


def test_every_route_declares_its_access_and_only_what_holds_no_data_is_public(chalice_app):
    specs, routes = app_routes()
    declared = {(path, method) for path, methods in routes.items() for method in methods}
    assert declared == set(specs)
    assert sorted(key for key, spec in specs.items() if spec.access.kind == "public") == PUBLIC_ROUTES
    # Provider webhooks carry the provider's signature instead of a key.
    assert sorted(key for key, spec in specs.items() if spec.access.kind == "signed") == [
        ("/v1/webhooks/payment", "POST"), ("/v1/webhooks/shipping", "POST")]


def test_a_route_missing_from_the_table_is_closed(api, chalice_app, world):
    from chalice.test import Client

    from tests.conftest import ROOT, Api

    # A view registered on the app directly, bypassing the table, must not be reachable.
    @chalice_app.route("/v1/bypass", methods=["GET"])
    def bypass():
        return {"leaked": True}

    try:
        with Client(chalice_app, stage_name="dev", project_dir=str(ROOT)) as client:
            r = Api(client).get("/v1/bypass")
        assert (r.status, r.error_code()) == (403, "forbidden")
    finally:
        del chalice_app.routes["/v1/bypass"]


def right_scopes(access, method: str) -> list[str]:
    if access.kind == "scope":
        return [access.scope]
    if access.kind in ("channel_read", "key") or (access.kind == "resource" and method == "GET"):
        return ["channel:pos:read"]
    return ["channel:pos"]


def test_access_matrix_over_every_route(api, hub, world, monkeypatch):
    """No key, an unknown key, a revoked key -> 401; another channel's key, a read-only key on a write -> 403;
    the right key gets past the gate (whatever the route then answers)."""
    monkeypatch.setattr(hub.settings, "auth_failure_limit_per_minute", 10_000)  # this test fails auth on purpose
    specs, _ = app_routes()
    revoked = api.new_key("admin", name="revoked")
    revoked_id = revoked.get("/v1/me").json["key_id"]
    assert api.post(f"/v1/keys/{revoked_id}/revoke").status == 200
    other = api.new_key("channel:web", name="web-till")
    reader = api.new_key("channel:pos:read", name="pos-reader")
    keys = {}
    for (path, method), spec in sorted(specs.items()):
        url = fill(path, world)
        if spec.access.kind == "public":
            assert call(api.as_key(None), method, url).status == 200
            continue
        if spec.access.kind == "signed":  # a key opens nothing here: only the provider's signature does
            for client in (api.as_key(None), api):
                r = call(client, method, url)
                assert (r.status, r.error_code()) == (401, "invalid_signature"), (method, path)
            continue
        for name, client in (("none", api.as_key(None)), ("unknown", api.as_key("omk_ffffffffffff_" + "x" * 43)),
                             ("revoked", revoked)):
            r = call(client, method, url)
            assert (r.status, set(r.json["error"])) == (401, {"code", "message", "details"}), (name, method, path)
            assert r.headers["www-authenticate"].startswith("Bearer")
        scopes = tuple(right_scopes(spec.access, method))
        if scopes not in keys:
            keys[scopes] = api.new_key(*scopes, name="right-" + "-".join(s.replace(":", ".") for s in scopes))
        r = call(keys[scopes], method, url)
        assert r.status not in (401, 403), (method, path, scopes, r.json)
        if spec.access.kind in ("channel_read", "channel_write", "resource"):
            assert call(other, method, url).status == 403, (method, path)
        writes = method != "GET" or spec.access.kind == "scope"
        if writes and spec.access.kind != "key":
            r = call(reader, method, url)
            assert (r.status, r.error_code()) == (403, "forbidden"), (method, path, r.json)


def test_a_channel_key_never_sees_or_changes_another_channels_data(api, world):
    pos = api.new_key("channel:pos", name="pos-till")
    web_ref = world["web_ref"]
    listed = pos.get("/v1/orders").json["items"]
    assert listed and {o["channel_code"] for o in listed} == {"pos"}
    assert {o["channel_code"] for o in pos.get("/v1/orders?status=new").json["items"]} == {"pos"}
    assert pos.get("/v1/orders?channel=web").status == 403
    assert pos.get("/v1/orders?channel=web&status=new").status == 403
    assert [c["code"] for c in pos.get("/v1/channels").json["items"]] == ["pos"]
    for method, path, body in (("GET", f"/v1/orders/{web_ref}", None), ("GET", f"/v1/orders/{web_ref}/events", None),
                               ("POST", f"/v1/orders/{web_ref}/transition", {"status": "confirmed"}),
                               ("GET", "/v1/channels/web", None), ("GET", "/v1/channels/web/sessions", None),
                               ("GET", "/v1/channels/web/sessions/W1", None),
                               ("POST", "/v1/channels/web/sessions", {"session_key": "X"}),
                               ("POST", "/v1/channels/web/sessions/W1/abandon", {}),
                               ("GET", f"/v1/directives?order_ref={web_ref}", None),
                               ("GET", f"/v1/directives/{world['directive_id']}", None)):
        r = pos.request(method, path, body)
        assert (r.status, r.error_code()) == (403, "forbidden"), (method, path, r.json)
    assert api.get(f"/v1/orders/{web_ref}").json["status"] == "new"  # nothing moved
    # A key for two channels lists both, narrowed inside the query.
    both = api.new_key("channel:pos:read", "channel:web:read", name="both")
    assert {o["channel_code"] for o in both.get("/v1/orders").json["items"]} == {"pos", "web"}
    assert {c["code"] for c in both.get("/v1/channels").json["items"]} == {"pos", "web"}
    # An operator reads every channel and runs order commands, but does not edit sessions or keys.
    operator = api.new_key("operator", name="ops")
    assert operator.get(f"/v1/orders/{web_ref}").status == 200
    assert operator.post(f"/v1/orders/{web_ref}/transition", {"status": "confirmed"}).status == 200
    assert operator.post("/v1/channels/pos/sessions", {"session_key": "OPS"}).status == 403
    assert operator.get("/v1/keys").status == 403


def test_keys_are_shown_once_and_only_their_hash_is_stored(api, hub, world, caplog, capsys):
    # Everything the product logs, at its most verbose (the SDK's own wire logs are not the product's).
    caplog.set_level(logging.DEBUG)
    for sdk in ("botocore", "boto3", "moto", "urllib3"):
        caplog.set_level(logging.WARNING, logger=sdk)
    created = api.post("/v1/keys", {"name": "till-7", "scopes": ["channel:pos", "channel:pos"]})
    assert created.status == 201, created.json
    secret, key_id = created.json["secret"], created.json["key_id"]
    assert secret.startswith(f"omk_{key_id}_") and created.headers["cache-control"] == "no-store"
    assert created.json["scopes"] == ["channel:pos"] and created.json["revoked"] is False
    stored = hub.db.get({"pk": f"KEY#{key_id}", "sk": "KEY"})
    assert secret not in json.dumps(stored, default=str)
    till = api.as_key(secret)
    assert till.get("/v1/me").json == {"key_id": key_id, "name": "till-7", "scopes": ["channel:pos"]}
    answers = [api.get("/v1/keys").body, api.get(f"/v1/keys/{key_id}").body, till.get("/v1/orders").body,
               api.post(f"/v1/keys/{key_id}/revoke").body, api.post(f"/v1/keys/{key_id}/revoke").body,
               till.get("/v1/orders").body, api.as_key(secret + "x").get("/v1/orders").body]
    logs = caplog.text + capsys.readouterr().err
    for text in [*(a.decode() for a in answers), logs]:
        assert stored["secret_hash"] not in text
        assert secret not in text
    assert json.loads(answers[1])["last_used_at"]  # the till's request was recorded
    assert json.loads(answers[3])["revoked"] is True and json.loads(answers[4])["revoked"] is True
    assert json.loads(answers[5])["error"]["code"] == "revoked_key"
    listed = json.loads(answers[0])["items"]
    assert {k["name"] for k in listed} >= {"test-admin", "till-7"} and all("secret_hash" not in k for k in listed)


@pytest.mark.parametrize("body", [{"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]},
                                  {"name": "x y", "scopes": ["admin"]}, {"name": "x", "scopes": ["channel:POS"]},
                                  {"name": "x", "scopes": [7]}, {"name": "x", "scopes": ["admin"], "extra": 1},
                                  {"name": "x", "scopes": ["admin"], "rate_limit_per_minute": 0}])
def test_bad_key_requests_are_refused(api, body):
    r = api.post("/v1/keys", body)
    assert (r.status, r.error_code()) == (400, "validation_error"), r.json


def test_both_headers_are_accepted_and_a_malformed_authorization_is_refused(api, world):
    assert api.as_key(None).get("/v1/me", headers={"X-Api-Key": ADMIN_KEY}).status == 200
    for value in ("Basic abc", "Bearer", ADMIN_KEY):
        r = api.as_key(None).get("/v1/me", headers={"Authorization": value})
        assert r.status == 401, value


def test_price_override_needs_its_scope_and_the_audit_names_the_key(api, world):
    till = api.new_key("channel:pos", name="till")
    r = till.modify("pos", "OPEN", {"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 0})
    assert (r.status, r.error_code()) == (403, "price_override_forbidden"), r.json
    assert api.get("/v1/channels/pos/sessions/OPEN").json["rev"] == 0  # nothing stored
    staff = api.new_key("channel:pos", "price:override", name="manager")
    r = staff.modify("pos", "OPEN", {"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 0, "reason": "comp"})
    assert r.status == 200, r.json
    [audit] = r.json["audit"]
    assert (audit["actor"], audit["details"]["key_id"]) == ("manager", staff.get("/v1/me").json["key_id"])


def test_the_actor_defaults_to_the_keys_name_and_x_actor_stays_bounded(api, world):
    till = api.new_key("channel:pos", name="till-3")
    api.session("pos", "A1")
    assert till.modify("pos", "A1", {"op": "add_line", "sku": "TEA", "qty": 1}).status == 200
    ref = till.commit("pos", "A1", "a1").json["order_ref"]
    assert api.get(f"/v1/orders/{ref}/events").json["items"][0]["metadata"]["actor"] == "till-3"
    for bad in ("a b", "x" * 129, "caf\u00e9"):
        r = till.post(f"/v1/orders/{ref}/transition", {"status": "confirmed"}, headers={"X-Actor": bad})
        assert (r.status, r.error_code()) == (400, "invalid_actor"), bad


def wait_out_window_edge(margin: float = 8.0) -> None:
    """The sliding window is exact within one window; start a burst well inside one."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


def test_the_per_key_commit_limit_is_exact_at_60(api, world):
    till = api.new_key("channel:pos", name="busy-till")  # the stage defaults: 60 commits, 600 requests a minute
    wait_out_window_edge()
    answers: list = []
    lock = threading.Lock()

    def commit(n: int) -> None:
        r = till.commit("pos", f"NOPE-{n}", f"k{n}")
        with lock:
            answers.append(r)

    for start in range(0, 61, 8):
        threads = [threading.Thread(target=commit, args=(n,)) for n in range(start, min(start + 8, 61))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    statuses = sorted(r.status for r in answers)
    assert statuses == [404] * 60 + [429], statuses
    [limited] = [r for r in answers if r.status == 429]
    assert limited.json["error"] == {"code": "rate_limited", "message": "Maximum 60 requests per 60 seconds allowed.",
                                     "details": {"retry_after": int(limited.headers["retry-after"]), "limit": 60}}
    assert limited.headers["x-ratelimit-limit"] == "60" and limited.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["x-ratelimit-reset"]) <= 60
    # Other routes keep working under the general limit, and other keys are not affected.
    assert till.get("/v1/channels/pos/sessions/OPEN").status == 200
    assert api.commit("pos", "NOPE-admin", "x").status == 404


def test_a_keys_own_limit_and_the_headers_on_every_answer(api, world):
    slow = api.new_key("channel:pos:read", name="slow", rate_limit_per_minute=3)
    wait_out_window_edge()
    answers = [slow.get("/v1/channels/pos") for _ in range(4)]
    assert [r.status for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert answers[3].headers["retry-after"] == str(answers[3].json["error"]["details"]["retry_after"])


def test_repeated_bad_keys_from_one_address_are_throttled(api, world):
    wait_out_window_edge()
    guesses = [api.as_key(f"omk_{n:012x}_guess-guess-guess-guess").get("/v1/orders") for n in range(21)]
    assert [r.status for r in guesses] == [401] * 20 + [429]
    assert guesses[-1].error_code() == "rate_limited"
    assert api.get("/v1/orders").status == 200  # a valid key from the same address still works


def test_the_local_admin_key_is_refused_outside_the_local_stage(hub):
    from chalicelib.domain.errors import ConfigurationError
    from chalicelib.services.api_keys import bootstrap_local_admin

    with pytest.raises(ConfigurationError):
        bootstrap_local_admin(hub.api_keys, "test", "omk_aaaaaaaaaaaa_a-secret-chosen-by-the-dev")
    with pytest.raises(ConfigurationError):
        bootstrap_local_admin(hub.api_keys, "local", "short")
    record = bootstrap_local_admin(hub.api_keys, "local", "any-shape-of-secret-the-dev-likes")
    assert record["scopes"] == ["admin"]
    assert bootstrap_local_admin(hub.api_keys, "local", "any-shape-of-secret-the-dev-likes") == record  # idempotent
    principal, _ = hub.authenticator.authenticate("any-shape-of-secret-the-dev-likes")
    assert principal.admin


def test_the_local_stack_prints_a_new_admin_key_unless_one_is_chosen(hub):
    from devstack.stack import _admin_key

    printed = _admin_key(hub, {})
    principal, _ = hub.authenticator.authenticate(printed)
    assert principal.admin and principal.name == "local-admin"
    assert _admin_key(hub, {}) != printed  # a fresh one for each start
