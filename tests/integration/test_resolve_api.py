"""Resolving an issue: the resolver for its source turns the chosen action into ops, applied by modify."""

from __future__ import annotations

import pytest


@pytest.fixture
def with_issue(api, registry):
    registry.register_handler("test.stock")(lambda directive, ctx: {})
    registry.track("handler", "test.stock")

    # Its own source name: the stock contrib's real "stock" resolver must survive this test.
    @registry.register_resolver("shelf")
    def stock_resolver(session, issue, action, ctx):
        if action.id == "adjust_qty":
            return [{"op": "set_qty", "line_id": issue.context["line_id"], "qty": action.params["qty"]}]
        return [{"op": "remove_line", "line_id": issue.context["line_id"]}]

    registry.track("resolver", "shelf")
    api.channel("shop", pricing_policy="external", config={
        "checks": {"shelf": {"directive_topic": "test.stock"}}, "required_checks_on_commit": ["shelf"]})
    api.session("shop", "S")
    api.modify("shop", "S", {"op": "add_line", "sku": "SHOE", "qty": 5, "unit_price_q": 100})
    api.post("/v1/channels/shop/sessions/S/checks/shelf", {"expected_rev": 1, "issues": [{
        "code": "insufficient_stock", "context": {"line_id": "L1"}, "message": "only 2 left",
        "actions": [{"id": "adjust_qty", "label": "Adjust to 2", "params": {"qty": 2}},
                    {"id": "remove_item", "label": "Remove"}]}]})
    return "shelf-1"


def resolve(api, body, **kw):
    return api.post("/v1/channels/shop/sessions/S/resolve", body, **kw)


def test_resolve_applies_the_action_through_modify(api, with_issue):
    r = resolve(api, {"issue_id": with_issue, "action_id": "adjust_qty"})
    assert r.status == 200, r.json
    assert (r.json["rev"], r.json["items"][0]["qty"], r.json["issues"]) == (2, "2", [])
    assert r.json["pricing"]["total_q"] == 200


def test_resolve_errors(api, with_issue):
    r = resolve(api, {"issue_id": "nope", "action": "adjust_qty"})
    assert (r.status, r.error_code()) == (404, "issue_not_found")
    r = resolve(api, {"issue_id": with_issue, "action_id": "teleport"})
    assert (r.status, r.error_code()) == (422, "unknown_action")
    r = resolve(api, {"issue_id": with_issue, "action": "remove_item", "expected_rev": 0})
    assert (r.status, r.error_code()) == (409, "stale_rev")
    assert resolve(api, {"issue_id": with_issue}).status == 400
    assert resolve(api, {"issue_id": with_issue, "action_id": "remove_item", "extra": 1}).status == 400
    assert api.get("/v1/channels/shop/sessions/S").json["rev"] == 1


def test_issue_of_a_source_without_resolver_is_422(api, with_issue, registry):
    registry.unregister("resolver", "shelf")
    r = resolve(api, {"issue_id": with_issue, "action": "remove_item"})
    assert (r.status, r.error_code()) == (422, "no_resolver")


def test_issue_actions_are_stored_with_their_id(api, with_issue):
    [issue] = api.get("/v1/channels/shop/sessions/S").json["issues"]
    assert [a["id"] for a in issue["actions"]] == ["adjust_qty", "remove_item"]
    assert issue["context"] == {"line_id": "L1"}
    # `action` is the older name of `action_id` and still accepted.
    assert resolve(api, {"issue_id": with_issue, "action": "remove_item"}).json["items"] == []
