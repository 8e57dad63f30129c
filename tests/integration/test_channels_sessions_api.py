"""Channels and sessions: creation, validation, conditional replacement, listings."""

from __future__ import annotations

import pytest


def test_health(api):
    r = api.get("/v1/health")
    assert (r.status, r.json) == (200, {"stage": "test", "status": "ok"})


def test_create_get_and_list_channels(api):
    created = api.channel("pos", pricing_policy="internal")
    assert (created["version"], created["edit_policy"], created["config"]["checks"]) == (1, "open", {})
    api.channel("web", pricing_policy="external")
    r = api.get("/v1/channels/pos")
    assert (r.status, r.headers["etag"], r.json["name"]) == (200, '"1"', "POS")
    listed = api.get("/v1/channels").json
    assert [c["code"] for c in listed["items"]] == ["pos", "web"]
    assert listed["next_cursor"] is None
    page = api.get("/v1/channels?limit=1").json
    assert [c["code"] for c in page["items"]] == ["pos"]
    rest = api.get(f"/v1/channels?limit=1&cursor={page['next_cursor']}").json
    assert [c["code"] for c in rest["items"]] == ["web"]


def test_duplicate_channel_is_409(api):
    api.channel("pos")
    r = api.post("/v1/channels", {"code": "pos", "name": "Again"})
    assert (r.status, r.error_code()) == (409, "channel_exists")


@pytest.mark.parametrize("body", [
    {"name": "no code"},
    {"code": "Bad Code!", "name": "x"},
    {"code": "x", "name": ""},
    {"code": "x", "name": "x", "pricing_policy": "cheap"},
    {"code": "x", "name": "x", "edit_policy": "sometimes"},
    {"code": "x", "name": "x", "config": {"required_checks_on_commit": ["stock"]}},
    {"code": "x", "name": "x", "config": {"order_flow": {"initial_status": "nowhere", "transitions": {"a": ["b"]}}}},
    {"code": "x", "name": "x", "config": {"order_flow": {"transitions": {"new": ["done"], "done": ["new"]},
                                                          "terminal_statuses": ["done"]}}},
    {"code": "x", "name": "x", "config": {"post_commit_directives": ["nobody.handles.this"]}},
    {"code": "x", "name": "x", "config": {"checks": {"stock": {"directive_topic": "nobody.handles.this"}}}},
    {"code": "x", "name": "x", "surprise": True},
    ["not", "an", "object"],
])
def test_invalid_channels_are_refused_and_nothing_is_stored(api, body):
    r = api.post("/v1/channels", body)
    assert r.status in (400, 422), r.json
    assert set(r.json["error"]) == {"code", "message", "details"}
    assert api.get("/v1/channels").json["items"] == []


def test_contrib_config_keys_are_kept(api):
    created = api.channel("pos", config={"pricing": {"prices": {"A": 1}}, "loyalty": {"points": 2}})
    assert created["config"]["pricing"] == {"prices": {"A": 1}}
    assert api.get("/v1/channels/pos").json["config"]["loyalty"] == {"points": 2}


def test_replace_channel_is_conditional_on_its_version(api):
    api.channel("pos")
    r = api.put("/v1/channels/pos", {"name": "Counter", "edit_policy": "locked"}, headers={"If-Match": '"1"'})
    assert (r.status, r.json["version"], r.json["edit_policy"], r.headers["etag"]) == (200, 2, "locked", '"2"')
    r = api.put("/v1/channels/pos", {"name": "Late"}, headers={"If-Match": '"1"'})
    assert (r.status, r.error_code(), r.json["error"]["details"]["current_version"]) == (409, "stale_version", 2)
    r = api.put("/v1/channels/pos", {"name": "Late", "expected_version": 1})
    assert r.status == 409
    assert api.get("/v1/channels/pos").json["name"] == "Counter"
    r = api.put("/v1/channels/pos", {"code": "other", "name": "x"})
    assert (r.status, r.error_code()) == (422, "code_mismatch")
    assert api.put("/v1/channels/ghost", {"name": "x"}, headers={"If-Match": '"1"'}).status == 404
    assert api.get("/v1/channels/ghost").status == 404


def test_replace_channel_without_a_version_is_428_and_changes_nothing(api):
    api.channel("pos")
    for body, headers in (({"name": "Blind"}, {}), ({"name": "Blind", "expected_version": None}, {"If-Match": " "})):
        r = api.put("/v1/channels/pos", body, headers=headers)
        assert (r.status, r.error_code()) == (428, "precondition_required"), r.json
        assert set(r.json["error"]) == {"code", "message", "details"}
    assert api.put("/v1/channels/ghost", {"name": "x"}).status == 428
    assert api.get("/v1/channels/pos").json["name"] == "POS"
    assert api.get("/v1/channels/pos").json["version"] == 1
    r = api.put("/v1/channels/pos", {"name": "Pinned", "expected_version": 1})
    assert (r.status, r.json["version"]) == (200, 2)
    assert api.get("/v1/channels/ghost").status == 404


def test_sessions_create_with_and_without_key(api, pos):
    given = api.session("pos", "TABLE-7")
    assert (given["session_key"], given["rev"], given["state"]) == ("TABLE-7", 0, "open")
    generated = api.session("pos")
    assert generated["session_key"].startswith("S-")
    r = api.post("/v1/channels/pos/sessions", {"session_key": "TABLE-7"})
    assert (r.status, r.error_code()) == (409, "session_exists")
    r = api.post("/v1/channels/pos/sessions", {"session_key": "has space"})
    assert r.status == 400
    r = api.post("/v1/channels/nope/sessions", {})
    assert (r.status, r.error_code()) == (404, "channel_not_found")
    r = api.post("/v1/channels/pos/sessions", {"data": {"table": 7}, "session_key": "T8"})
    assert r.json["data"] == {"table": 7}
    r = api.get("/v1/channels/pos/sessions/TABLE-7")
    assert (r.status, r.headers["etag"]) == (200, '"0"')
    assert api.get("/v1/channels/pos/sessions/missing").status == 404


def test_same_session_key_in_two_channels_is_two_sessions(api, pos, web):
    api.session("pos", "K")
    api.session("web", "K")
    api.modify("pos", "K", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert api.get("/v1/channels/web/sessions/K").json["items"] == []


def test_listing_sessions_by_every_state_with_pagination(api, pos):
    for key in ("A", "B", "C", "D"):
        api.session("pos", key)
    api.modify("pos", "B", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert api.commit("pos", "B", "kb").status == 201
    api.post("/v1/channels/pos/sessions/C/abandon")

    def keys(query=""):
        return [s["session_key"] for s in api.get(f"/v1/channels/pos/sessions{query}").json["items"]]

    assert keys() == ["D", "C", "B", "A"]
    assert keys("?state=open") == ["D", "A"]
    assert keys("?state=committed") == ["B"]
    assert keys("?state=abandoned") == ["C"]
    page = api.get("/v1/channels/pos/sessions?limit=3").json
    rest = api.get(f"/v1/channels/pos/sessions?limit=3&cursor={page['next_cursor']}").json
    assert [s["session_key"] for s in page["items"] + rest["items"]] == ["D", "C", "B", "A"]
    r = api.get("/v1/channels/pos/sessions?state=lost")
    assert (r.status, r.error_code()) == (400, "invalid_filter")
    assert api.get("/v1/channels/nope/sessions").status == 404


def test_abandon(api, pos):
    api.session("pos", "X")
    r = api.post("/v1/channels/pos/sessions/X/abandon")
    assert (r.status, r.json["state"]) == (200, "abandoned")
    assert r.json["abandoned_at"]
    assert api.post("/v1/channels/pos/sessions/nope/abandon").status == 404


def test_form_encoded_curl_body_is_read_as_json(api, pos):
    r = api.request("POST", "/v1/channels/pos/sessions", raw='{"session_key": "CURL"}',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status, r.json["session_key"]) == (201, "CURL")
