"""Every op, its errors, and the modify pipeline's guarantees, through the HTTP API."""

from __future__ import annotations

import pytest

from tests.conftest import PRICES


@pytest.fixture
def cart(api, pos):
    api.session("pos", "S1")
    return "S1"


def lines(resp):
    return {line["line_id"]: line for line in resp.json["items"]}


def test_add_line_prices_from_the_channel_and_totals(api, cart):
    r = api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 2},
                   {"op": "add_line", "sku": "CROISSANT", "qty": "1.5", "name": "Butter croissant", "meta": {"n": 1}})
    assert r.status == 200, r.json
    assert r.headers["etag"] == '"1"'
    l1, l2 = r.json["items"]
    assert (l1["line_id"], l1["unit_price_q"], l1["line_total_q"], l1["qty"]) == ("L1", 500, 1000, "2")
    assert (l2["name"], l2["qty"], l2["line_total_q"], l2["meta"]) == ("Butter croissant", "1.5", 1125, {"n": 1})
    assert r.json["pricing"] == {"subtotal_q": 2125, "total_q": 2125}


def test_remove_line(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1}, {"op": "add_line", "sku": "TEA", "qty": 1})
    r = api.modify("pos", cart, {"op": "remove_line", "line_id": "L1"})
    assert [line["sku"] for line in r.json["items"]] == ["TEA"]
    assert r.json["pricing"]["total_q"] == PRICES["TEA"]


def test_set_qty_recomputes_totals(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    r = api.modify("pos", cart, {"op": "set_qty", "line_id": "L1", "qty": 3})
    assert lines(r)["L1"]["line_total_q"] == 1500
    assert r.json["pricing"]["total_q"] == 1500


def test_replace_sku_reprices_and_recomputes(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 2})
    r = api.modify("pos", cart, {"op": "replace_sku", "line_id": "L1", "sku": "TEA", "meta": {"swap": True}})
    line = lines(r)["L1"]
    assert (line["sku"], line["unit_price_q"], line["line_total_q"], line["meta"]) == ("TEA", 400, 800, {"swap": True})
    assert r.json["pricing"]["total_q"] == 800


def test_merge_lines_sums_qty_and_recomputes(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1},
               {"op": "add_line", "sku": "COFFEE", "qty": 2})
    r = api.modify("pos", cart, {"op": "merge_lines", "from_line_id": "L1", "into_line_id": "L2"})
    assert list(lines(r)) == ["L2"]
    assert lines(r)["L2"]["qty"] == "3"
    assert r.json["pricing"]["total_q"] == 1500


def test_merge_lines_refuses_different_skus_and_self(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1}, {"op": "add_line", "sku": "TEA", "qty": 1})
    r = api.modify("pos", cart, {"op": "merge_lines", "from_line_id": "L1", "into_line_id": "L2"})
    assert (r.status, r.error_code()) == (422, "sku_mismatch")
    r = api.modify("pos", cart, {"op": "merge_lines", "from_line_id": "L1", "into_line_id": "L1"})
    assert (r.status, r.error_code()) == (400, "invalid_merge")


def test_set_data_nested_and_removal(api, cart):
    r = api.modify("pos", cart, {"op": "set_data", "path": "customer.name", "value": "Ana"},
                   {"op": "set_data", "path": "table", "value": 12})
    assert r.json["data"] == {"customer": {"name": "Ana"}, "table": 12}
    r = api.modify("pos", cart, {"op": "set_data", "path": "table", "value": None})
    assert r.json["data"] == {"customer": {"name": "Ana"}}


@pytest.mark.parametrize("path", ["items", "pricing.total_q", "checks", "issues", "state", "status", "rev",
                                  "session_key", "channel", "__proto__", "customer.__x"])
def test_set_data_refuses_reserved_paths(api, cart, path):
    r = api.modify("pos", cart, {"op": "set_data", "path": path, "value": 1})
    assert (r.status, r.error_code()) == (400, "reserved_path")


@pytest.mark.parametrize(("op", "code"), [
    ({"op": "explode"}, "unsupported_op"),
    ({"sku": "COFFEE"}, "unsupported_op"),
    ({"op": "add_line", "qty": 1}, "missing_sku"),
    ({"op": "add_line", "sku": "", "qty": 1}, "invalid_sku"),
    ({"op": "add_line", "sku": "COFFEE"}, "missing_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": 0}, "invalid_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": -1}, "invalid_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": "abc"}, "invalid_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": True}, "invalid_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": "0.0001"}, "invalid_qty"),
    ({"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 9.5}, "invalid_unit_price_q"),
    ({"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": -1}, "invalid_unit_price_q"),
    ({"op": "add_line", "sku": "COFFEE", "qty": 1, "colour": "red"}, "unknown_field"),
    ({"op": "remove_line"}, "missing_line_id"),
    ({"op": "remove_line", "line_id": "L9"}, "unknown_line_id"),
    ({"op": "set_qty", "line_id": "L9", "qty": 1}, "unknown_line_id"),
    ({"op": "set_qty", "line_id": "L1"}, "missing_qty"),
    ({"op": "set_qty", "line_id": "L1", "qty": 0}, "invalid_qty"),
    ({"op": "replace_sku", "line_id": "L9", "sku": "TEA"}, "unknown_line_id"),
    ({"op": "replace_sku", "line_id": "L1"}, "missing_sku"),
    ({"op": "merge_lines", "from_line_id": "L1"}, "missing_line_id"),
    ({"op": "merge_lines", "from_line_id": "L1", "into_line_id": "L9"}, "unknown_line_id"),
    ({"op": "set_data", "value": 1}, "missing_path"),
    ({"op": "set_data", "path": "a..b", "value": 1}, "invalid_path"),
    ("add_line", "invalid_op"),
])
def test_op_errors_are_specific_400s_and_store_nothing(api, cart, op, code):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    before = api.get(f"/v1/channels/pos/sessions/{cart}").json
    # The bad op comes after a good one: the whole request is refused, the good op is not stored either.
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1}, op)
    assert r.status == 400, r.json
    assert r.error_code() == code
    assert r.json["error"]["details"]["index"] == 1
    assert api.get(f"/v1/channels/pos/sessions/{cart}").json == before


def test_unknown_sku_on_internal_channel_is_422_price_not_found(api, cart):
    r = api.modify("pos", cart, {"op": "add_line", "sku": "CAVIAR", "qty": 1})
    assert (r.status, r.error_code()) == (422, "price_not_found")


@pytest.mark.parametrize("body", [{}, {"ops": []}, {"ops": "add_line"}, [], {"ops": [{"op": "add_line"}] * 101},
                                  {"ops": [{"op": "add_line", "sku": "A", "qty": 1}], "expected_rev": "1"},
                                  {"ops": [{"op": "add_line", "sku": "A", "qty": 1}], "extra": 1}])
def test_bad_modify_bodies_are_400(api, cart, body):
    r = api.post(f"/v1/channels/pos/sessions/{cart}/modify", body)
    assert r.status == 400, r.json
    assert set(r.json["error"]) == {"code", "message", "details"}


def test_invalid_json_is_400(api, cart):
    r = api.request("POST", f"/v1/channels/pos/sessions/{cart}/modify", raw="{not json")
    assert (r.status, r.error_code()) == (400, "invalid_json")
    r = api.request("POST", f"/v1/channels/pos/sessions/{cart}/modify", raw='{"ops": [{"op": "add_line", "qty": NaN}]}')
    assert (r.status, r.error_code()) == (400, "invalid_json")


def test_rev_increments_by_exactly_one_per_modify_and_clears_checks(api, cart):
    for expected in range(1, 6):
        r = api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1},
                       {"op": "add_line", "sku": "TEA", "qty": 1})
        assert r.json["rev"] == expected
        assert r.json["checks"] == {} and r.json["issues"] == []
    assert len(r.json["items"]) == 10


def test_stale_expected_rev_is_409_with_current_rev(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1}, expected_rev=0)
    assert (r.status, r.error_code()) == (409, "stale_rev")
    assert r.json["error"]["details"]["current_rev"] == 1
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1}, expected_rev=1)
    assert (r.status, r.json["rev"]) == (200, 2)


@pytest.mark.parametrize("if_match", ['"0"', "0", 'W/"0"'])
def test_if_match_pins_the_rev(api, cart, if_match):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    r = api.post(f"/v1/channels/pos/sessions/{cart}/modify", {"ops": [{"op": "add_line", "sku": "TEA", "qty": 1}]},
                 headers={"If-Match": if_match})
    assert (r.status, r.error_code()) == (409, "stale_rev")
    ok = api.post(f"/v1/channels/pos/sessions/{cart}/modify", {"ops": [{"op": "add_line", "sku": "TEA", "qty": 1}]},
                  headers={"If-Match": if_match.replace("0", "1")})
    assert ok.status == 200


def test_bad_if_match_is_400(api, cart):
    r = api.post(f"/v1/channels/pos/sessions/{cart}/modify", {"ops": [{"op": "add_line", "sku": "TEA", "qty": 1}]},
                 headers={"If-Match": "abc"})
    assert (r.status, r.error_code()) == (400, "invalid_if_match")


def test_modify_of_committed_or_abandoned_session_is_409(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    assert api.commit("pos", cart).status == 201
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1})
    assert (r.status, r.error_code()) == (409, "already_committed")
    api.session("pos", "S2")
    assert api.post("/v1/channels/pos/sessions/S2/abandon").status == 200
    r = api.modify("pos", "S2", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert (r.status, r.error_code()) == (409, "already_abandoned")


def test_locked_channel_is_read_only_but_for_the_data_it_names(api):
    api.channel("kiosk", pricing_policy="external", edit_policy="locked")
    api.session("kiosk", "K1")
    r = api.modify("kiosk", "K1", {"op": "add_line", "sku": "X", "qty": 1, "unit_price_q": 100})
    assert (r.status, r.error_code()) == (409, "locked")
    r = api.modify("kiosk", "K1", {"op": "set_data", "path": "note", "value": "hi"})
    assert (r.status, r.error_code(), r.json["error"]["details"]["writable"]) == (409, "locked", [])
    assert api.get("/v1/channels/kiosk/sessions/K1").json["rev"] == 0
    # The exception is named in the channel: only data under `notes` stays writable, items never.
    api.channel("market", pricing_policy="external", edit_policy="locked",
                config={"locked_writable_data": ["notes"]})
    api.session("market", "M1")
    assert api.modify("market", "M1", {"op": "set_data", "path": "notes.picker", "value": "Ana"}).json["rev"] == 1
    r = api.modify("market", "M1", {"op": "set_data", "path": "notes.x", "value": 1},
                   {"op": "set_data", "path": "customer", "value": "Bob"})
    assert (r.status, r.error_code(), r.json["error"]["details"]["index"]) == (409, "locked", 1)
    assert api.get("/v1/channels/market/sessions/M1").json["data"] == {"notes": {"picker": "Ana"}}


def test_external_channel_requires_and_keeps_client_prices(api, web):
    api.session("web", "W1")
    r = api.modify("web", "W1", {"op": "add_line", "sku": "SHOE", "qty": 1})
    assert (r.status, r.error_code()) == (400, "missing_unit_price_q")
    r = api.modify("web", "W1", {"op": "add_line", "sku": "SHOE", "qty": 2, "unit_price_q": 12_990})
    assert r.json["pricing"]["total_q"] == 25_980
    r = api.modify("web", "W1", {"op": "replace_sku", "line_id": "L1", "sku": "BOOT"})
    assert (r.status, r.error_code()) == (400, "missing_unit_price_q")
    r = api.modify("web", "W1", {"op": "replace_sku", "line_id": "L1", "sku": "BOOT", "unit_price_q": 15_000})
    assert r.json["pricing"]["total_q"] == 30_000
    assert r.json["audit"] == []  # external prices are not overrides


def test_price_override_on_internal_channel_is_audited(api, cart):
    r = api.post(f"/v1/channels/pos/sessions/{cart}/modify",
                 {"ops": [{"op": "add_line", "sku": "COFFEE", "qty": 1, "unit_price_q": 300, "reason": "staff"}]},
                 headers={"X-Actor": "cashier-7"})
    line = r.json["items"][0]
    assert (line["unit_price_q"], line["price_overridden"]) == (300, True)
    [entry] = r.json["audit"]
    assert entry["type"] == "price_overridden"
    assert (entry["actor"], entry["reason"]) == ("cashier-7", "staff")
    assert entry["details"] == {"sku": "COFFEE", "listed_price_q": 500, "unit_price_q": 300, "line_id": "L1",
                                "key_id": "0123456789ab"}  # the tests' admin key
    # The pricing modifier never reprices an overridden line.
    r = api.modify("pos", cart, {"op": "set_qty", "line_id": "L1", "qty": 2})
    assert r.json["items"][0]["unit_price_q"] == 300


def test_internal_prices_follow_the_price_list(api, cart):
    api.modify("pos", cart, {"op": "add_line", "sku": "COFFEE", "qty": 1})
    api.put("/v1/channels/pos", {"name": "POS", "config": {"pricing": {"prices": {**PRICES, "COFFEE": 550}}}},
            headers={"If-Match": '"1"'})
    r = api.modify("pos", cart, {"op": "set_data", "path": "x", "value": 1})
    assert r.json["items"][0]["unit_price_q"] == 550
    assert r.json["pricing"]["total_q"] == 550


def test_unknown_session_and_channel_are_404(api, pos):
    r = api.modify("pos", "nope", {"op": "add_line", "sku": "COFFEE", "qty": 1})
    assert (r.status, r.error_code()) == (404, "session_not_found")
    r = api.modify("nochannel", "x", {"op": "add_line", "sku": "COFFEE", "qty": 1})
    assert (r.status, r.error_code()) == (404, "channel_not_found")


def test_draft_validator_refusal_stores_nothing(api, cart, registry):
    from chalicelib.domain.errors import Unprocessable

    @registry.register_validator("max_three_lines", stage="draft")
    def max_three(session, channel, ctx):
        if len(session.items) > 3:
            raise Unprocessable("at most 3 lines", code="too_many_lines")

    registry.track("validator", "max_three_lines")
    api.modify("pos", cart, *[{"op": "add_line", "sku": "TEA", "qty": 1}] * 3)
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1})
    assert (r.status, r.error_code()) == (422, "too_many_lines")
    assert api.get(f"/v1/channels/pos/sessions/{cart}").json["rev"] == 1


def test_modifiers_run_in_order_and_validators_cannot_mutate(api, cart, registry):
    calls = []

    @registry.register_modifier("tag_b", order=200)
    def tag_b(session, channel, ctx):
        calls.append("b")
        session.data["tag"] = session.data.get("tag", "") + "b"

    @registry.register_modifier("tag_a", order=150)
    def tag_a(session, channel, ctx):
        calls.append("a")
        session.data["tag"] = session.data.get("tag", "") + "a"

    @registry.register_validator("sneaky")
    def sneaky(session, channel, ctx):
        session.data["tag"] = "mutated"

    for kind, name in (("modifier", "tag_a"), ("modifier", "tag_b"), ("validator", "sneaky")):
        registry.track(kind, name)
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1})
    assert calls == ["a", "b"]
    assert r.json["data"]["tag"] == "ab"


def test_hooks_fire_after_the_write(api, pos, registry, hub):
    seen = []

    @registry.register_hook("session.modified")
    def on_modified(session, ops, ctx):
        stored = hub.sessions.get("pos", session.session_key)
        seen.append((stored.rev, [op.op for op in ops], ctx["actor"]))

    registry.track("hook:session.modified", on_modified)
    api.session("pos", "H1")
    api.modify("pos", "H1", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert seen == [(1, ["add_line"], "test-admin")]


def test_deeply_nested_values_are_refused(api, cart):
    def nested(levels: int) -> dict:
        deep: dict = {}
        node = deep
        for _ in range(levels):
            node["x"] = {}
            node = node["x"]
        return deep

    # Past the domain's 16 levels but within what the body decoder reads (24, envelope included).
    r = api.modify("pos", cart, {"op": "set_data", "path": "deep", "value": nested(18)})
    assert (r.status, r.error_code()) == (400, "invalid_value")
    r = api.modify("pos", cart, {"op": "add_line", "sku": "TEA", "qty": 1, "meta": nested(18)})
    assert (r.status, r.error_code()) == (400, "invalid_meta")
    # Deeper still, the decoder refuses the body before json.loads recurses into it.
    r = api.modify("pos", cart, {"op": "set_data", "path": "deep", "value": nested(30)})
    assert (r.status, r.error_code()) == (400, "invalid_json")
    assert api.get(f"/v1/channels/pos/sessions/{cart}").json["rev"] == 0


def test_a_session_too_large_to_store_is_422_and_stores_nothing(api, cart):
    api.modify("pos", cart, {"op": "set_data", "path": "a", "value": "x" * 100_000})
    r = api.modify("pos", cart, {"op": "set_data", "path": "b", "value": "y" * 100_000})
    assert (r.status, r.error_code()) == (422, "session_too_large")
    session = api.get(f"/v1/channels/pos/sessions/{cart}").json
    assert (session["rev"], set(session["data"])) == (1, {"a"})
