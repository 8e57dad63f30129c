"""Property: no request body, path or header makes any route answer 5xx, and every 4xx is in the one error shape.

Every route of the Chalice route table is driven with Hypothesis-made JSON (deep, huge and negative numbers,
decimals, surrogates and control characters, ...), with bodies shaped like the route's own (ops for modify, a
config for channels, issues for check results, ...) and with junk If-Match, X-Actor and Idempotency-Key headers.
Path parameters name resources that exist (channels, an open session, an order, a directive, a store, products)
or junk. The world is built once per run and the fuzz keeps changing it, so later examples meet the states
earlier ones left behind.

OMNIMAN_FUZZ_EXAMPLES sets the number of requests (default 150, about ten seconds); e.g. 5000 for a long run.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("OMNIMAN_FUZZ_EXAMPLES", "150"))
FRESH = object()  # a path parameter meaning: an open session with a line, made for this example

# --- JSON values ----------------------------------------------------------------------------------------------------

# Characters that have broken parsers, encoders and DynamoDB before: lone surrogates, controls, separators, quotes.
NASTY = ["\ud800", "\udfff", "\udc00", "\x00", "\x1f", "\x7f", "\u2028", "\ufeff", "\U0001f600", '"', "\\", "[", "{",
         "#", "/", ".", "%", "$", "\n", "é"]
texts = st.one_of(
    st.text(max_size=12),
    st.text(st.sampled_from(NASTY), max_size=8),
    st.text(st.characters(codec=None, exclude_categories=[]), max_size=8),  # surrogates included
    st.integers(0, 5).map(lambda n: "x" * 10**n),
    st.sampled_from(["", "pos", "COFFEE", "L1", "stock", "main", "new", "cancelled", "add_line", "1", "-1", "1e999",
                     "NaN", "Infinity", "0.0001", "__proto__", "items", "a.b.c", "data.x"]),
)
numbers = st.one_of(
    st.integers(-(2**64), 2**64),
    st.integers(0, 60).map(lambda n: 10**n),
    st.integers(0, 60).map(lambda n: -(10**n) - 1),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("1E+400"), Decimal("-1E-400"), Decimal("0.001"), Decimal("2.5"), Decimal("1E+125"),
                     Decimal("1" * 39), Decimal("0E-10")]),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(texts, inner, max_size=4)),
                           max_leaves=12)
json_objects = st.dictionaries(texts, json_values, max_size=4)


def to_json(value: Any) -> str:
    """JSON text for generated values; Decimals become JSON numbers as they are, never through a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii: a surrogate goes out as the "\ud800" escape a client would send


# --- bodies shaped like each route's ------------------------------------------------------------------------------

def weighted(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 4) -> st.SearchStrategy[Any]:
    """`common` `odds` times out of `odds + 1` (one_of would pick each branch as often)."""
    return st.integers(0, odds).flatmap(lambda n: rare if n == 0 else common)


def route_bodies(wild: bool) -> dict[tuple[str, str], st.SearchStrategy[Any]]:
    """Bodies shaped like each route's own, by route pattern and method (routes not named get generic JSON only).

    Wild: every field is now and then anything, and now and then fields go missing or a stray one comes. Tame:
    plausible values only, so that requests get past validation and drive the domain into its deeper states
    (lines to change, checks to write, orders to move) for the wild ones to meet.
    """

    def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return weighted(strategy, json_values, 8) if wild else strategy

    def maybe_key(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return weighted(strategy, texts) if wild else strategy  # object keys: strings, never unhashable values

    def shaped(required: dict[str, st.SearchStrategy[Any]],
               optional: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
        # The required fields alone or with some optional ones; when wild, now and then any subset and a stray one.
        usual = weighted(st.fixed_dictionaries(required), st.fixed_dictionaries(required, optional=optional or {}), 1)
        loose = st.fixed_dictionaries({}, optional={**required, **(optional or {}), "unexpected": json_values})
        return weighted(usual, loose, 6) if wild else usual

    def odd(usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return weighted(usual, unusual) if wild else usual

    versions = maybe(st.integers(0, 6))
    sku_names = st.sampled_from(["COFFEE", "SOCK", "CAP", "TEA", "NOPE"])
    skus = maybe(sku_names)
    line_ids = maybe(st.sampled_from(["L1", "L2", "L3", "L99"]))
    qtys = maybe(odd(st.one_of(st.integers(1, 5), st.sampled_from(["1", "2.5", "0.5"])),
                     st.one_of(st.integers(-1, 0), st.sampled_from(["0.0001", "1e3", "-1", "abc", "1e-9"]), numbers)))
    prices = maybe(odd(st.integers(0, 2000), st.one_of(st.integers(-5, 10**16), numbers)))
    names = maybe(st.text(max_size=12))
    priced = {"unit_price_q": prices, "name": names, "meta": maybe(json_objects), "reason": names}
    paths = maybe(st.sampled_from(["a", "a.b", "customer.name", "items", "__x", "a..b", "..."]))
    add_line = shaped({"op": st.just("add_line"), "sku": skus, "qty": qtys}, priced)
    others = [
        shaped({"op": st.just("remove_line"), "line_id": line_ids}),
        shaped({"op": st.just("set_qty"), "line_id": line_ids, "qty": qtys}),
        shaped({"op": st.just("replace_sku"), "line_id": line_ids, "sku": skus}, priced),
        shaped({"op": st.just("set_data"), "path": paths, "value": json_values}),
        shaped({"op": st.just("merge_lines"), "from_line_id": line_ids, "into_line_id": line_ids}),
    ]
    # Adding lines most often, so that the other ops find lines to work on.
    ops = weighted(add_line, st.one_of(*others, *([shaped({"op": json_values})] if wild else [])), 1)
    topics = maybe(st.sampled_from(["stock.hold", "stock.commit", "stock.release", "notification.send", "nope.x"]))
    status_names = st.sampled_from(["new", "confirmed", "processing", "ready", "dispatched", "delivered",
                                    "completed", "cancelled", "returned", "shipped", "weird"])
    statuses = maybe(status_names)
    check = shaped({"directive_topic": topics}, {
        "hold_ttl_minutes": maybe(odd(st.integers(1, 60), st.integers(-1, 2000))),
        "store_code": maybe(st.just("main")), "fulfilled_statuses": maybe(st.lists(statuses, max_size=3))})
    channel_config = shaped({}, {
        "pricing": maybe(shaped({"prices": maybe(st.dictionaries(maybe_key(sku_names), prices, max_size=3))})),
        "checks": maybe(st.dictionaries(maybe_key(st.just("stock")), maybe(check), max_size=2)),
        "required_checks_on_commit": maybe(st.lists(maybe(st.just("stock")), max_size=2)),
        "post_commit_directives": maybe(st.lists(topics, max_size=2)),
        "order_flow": maybe(shaped(
            {"transitions": maybe(st.dictionaries(maybe_key(status_names), st.lists(statuses, max_size=3)))},
            {"initial_status": statuses, "terminal_statuses": maybe(st.lists(statuses, max_size=2))})),
        "notifications": maybe(shaped({}, {"backend": maybe(st.sampled_from(["default", "webhook"])),
                                           "webhook_url": maybe(texts)})),
    })
    channel = shaped({"name": names}, {
        "code": maybe(st.sampled_from(["pos", "web", "fz", "Bad Code"])),
        "pricing_policy": maybe(st.sampled_from(["internal", "external"])),
        "edit_policy": maybe(st.sampled_from(["open", "locked"])), "config": maybe(channel_config),
        "expected_version": versions})
    action = shaped({"id": maybe(st.sampled_from(["adjust_qty", "remove_item"]))},
                    {"label": names, "params": maybe(shaped({}, {"qty": qtys}))})
    issue = shaped({"code": maybe(st.just("insufficient_stock"))}, {
        "id": maybe(st.sampled_from(["i1", "stock:SOCK", ""])), "source": names, "message": names,
        "blocking": maybe(st.booleans()), "context": maybe(shaped({}, {"sku": skus, "available": qtys})),
        "actions": maybe(st.lists(action, max_size=2))})
    return {
        ("/v1/channels", "POST"): channel,
        ("/v1/channels/{code}", "PUT"): channel,
        ("/v1/channels/{code}/sessions", "POST"): shaped({}, {"session_key": names, "data": maybe(json_objects)}),
        ("/v1/channels/{code}/sessions/{key}/modify", "POST"): shaped(
            {"ops": maybe(st.lists(ops, min_size=1, max_size=3))}, {"expected_rev": versions}),
        ("/v1/channels/{code}/sessions/{key}/commit", "POST"): shaped(
            {"idempotency_key": maybe(st.sampled_from(["fz-1", "fz-2", "fuzz-done", "fuzz-web"]))},
            {"expected_rev": versions}),
        ("/v1/channels/{code}/sessions/{key}/resolve", "POST"): shaped(
            {"issue_id": maybe(st.sampled_from(["i1", "stock:SOCK", "stock-1"])),
             "action_id": maybe(st.sampled_from(["adjust_qty", "remove_item"]))},
            {"expected_rev": versions}),
        ("/v1/channels/{code}/sessions/{key}/checks/{check_code}", "POST"): shaped(
            {"expected_rev": versions},
            {"payload": maybe(json_objects), "issues": maybe(st.lists(issue, max_size=3))}),
        ("/v1/orders/{ref}/transition", "POST"): shaped({"status": statuses}, {"reason": names}),
        ("/v1/directives/redrive", "POST"): shaped({}, {"max": maybe(odd(st.integers(1, 10), st.integers(-1, 2000)))}),
        ("/v1/stores", "POST"): shaped({"code": names, "name": names}, {"location": names}),
        ("/v1/products", "POST"): shaped({"sku": skus, "name": names, "price_q": prices}, {"category": names}),
        ("/v1/inventory/{store_code}/{sku}", "PUT"): shaped({"on_hand": qtys}),
    }


WILD, TAME = route_bodies(wild=True), route_bodies(wild=False)

raw_bodies = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=[]), max_size=20),  # not JSON, unescaped surrogates too
    st.integers(1, 3000).map(lambda n: "[" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n),
    st.sampled_from(["", " ", "null", "NaN", "[1,]", '{"a":1}}', "\ufeff{}", '{"a": 1e99999}']),
)

# --- headers --------------------------------------------------------------------------------------------------------

header_text = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=20),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.integers(-5, 10**20).map(str),
    st.integers(-5, 20).map(lambda n: f'"{n}"'),
    st.sampled_from(["*", 'W/"1"', '"1", "2"', "\u00b2", "a b", "cashier-7", "x" * 129]),
)
junk_headers = st.fixed_dictionaries({}, optional={
    "If-Match": header_text, "X-Actor": header_text, "Idempotency-Key": header_text,
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "application/xml", "application/json; charset=latin-1", ""]),
})

query_params = st.fixed_dictionaries({}, optional={
    name: st.one_of(header_text, st.sampled_from(["1", "200", "201", "0", "open", "new", "pos", "queued"]))
    for name in ("limit", "cursor", "state", "status", "channel", "topic", "order_ref")
})

# --- the world ------------------------------------------------------------------------------------------------------

PRICES = {"COFFEE": 500, "TEA": 400}


def build_world(api: Any) -> dict[str, list[Any]]:
    """What path parameters may name: existing resources of every kind (plus FRESH open sessions)."""
    api.post("/v1/stores", {"code": "main", "name": "Main"})
    for sku, price in (("SOCK", 300), ("CAP", 900)):
        api.post("/v1/products", {"sku": sku, "name": sku, "price_q": price})
        api.put(f"/v1/inventory/main/{sku}", {"on_hand": 5})
    api.channel("pos", config={"pricing": {"prices": PRICES}})
    api.channel("web", pricing_policy="external", config={"post_commit_directives": ["notification.send"]})
    api.channel("shop", config={"checks": {"stock": {"directive_topic": "stock.hold", "store_code": "main"}},
                                "required_checks_on_commit": ["stock"], "post_commit_directives": ["stock.commit"]})
    api.session("pos", "DONE")
    api.modify("pos", "DONE", {"op": "add_line", "sku": "COFFEE", "qty": 1})
    ref = api.commit("pos", "DONE", "fuzz-done").json["order_ref"]
    api.session("web", "WEB")
    api.modify("web", "WEB", {"op": "add_line", "sku": "X", "qty": 2, "unit_price_q": 100})
    directive_id = api.commit("web", "WEB", "fuzz-web").json["directives"][0]
    api.session("shop", "CART")
    api.modify("shop", "CART", {"op": "add_line", "sku": "SOCK", "qty": 1})
    api.session("pos", "OPEN")
    return {
        "code": ["pos", "web", "shop", "main"], "key": [FRESH, FRESH, FRESH, "OPEN", "DONE", "CART", "WEB"],
        "check_code": ["stock"], "ref": [ref], "directive_id": [directive_id], "store_code": ["main"],
        "sku": ["SOCK", "CAP", "COFFEE"],
    }


def fresh_session(api: Any, channel: str, serial: int) -> str:
    # Best effort: the fuzz may have changed the channel so that this line is refused; the session still exists.
    key = f"FZ{serial}"
    api.post(f"/v1/channels/{channel}/sessions", {"session_key": key})
    api.modify(channel, key, {"op": "add_line", "sku": "SOCK" if channel == "shop" else "COFFEE", "qty": 1,
                              **({"unit_price_q": 100} if channel == "web" else {})})
    return key


def fill(pattern: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], pattern)


# --- the property ---------------------------------------------------------------------------------------------------

def assert_answer_is_sound(method: str, path: str, headers: dict[str, str], body: str, resp: Any) -> None:
    where = f"{method} {path[:200]} headers={ {k: v[:80] for k, v in headers.items()} } body={body[:300]!r}"
    assert resp.status < 500, f"{resp.status} for {where}: {resp.body[:500]!r}"
    if resp.status >= 400:
        payload = json.loads(resp.body)
        assert isinstance(payload, dict) and set(payload) == {"error"}, f"{where}: {payload}"
        error = payload["error"]
        assert set(error) == {"code", "message", "details"}, f"{where}: {error}"
        assert isinstance(error["code"], str) and re.fullmatch(r"[a-z0-9_]+", error["code"]), error
        assert isinstance(error["message"], str) and isinstance(error["details"], dict), error
    elif resp.body and resp.headers.get("content-type", "").startswith("application/json"):
        json.loads(resp.body)  # the page of the API's description is HTML


def test_no_route_answers_5xx_whatever_it_is_sent(api: Any, chalice_app: Any) -> None:
    world = build_world(api)
    routes = sorted((pattern, method) for pattern, methods in chalice_app.routes.items() for method in methods)
    assert len(routes) > 25, "the route table is walked, not a hand-made list"
    # Bodies are where most of the input is: routes that take one are drawn three times as often.
    with_body = [route for route in routes if route[1] in ("POST", "PUT", "PATCH")]
    without_body = [route for route in routes if route not in with_body]
    serial = iter(range(10**9))

    def path_value(data: st.DataObject, name: str, channel: str, tame: bool) -> str:
        # A parameter of a route added since (no known resources of its kind) gets junk only.
        known = world.get(name)
        if known:
            choice = data.draw(st.sampled_from(known) if tame else weighted(st.sampled_from(known), texts, 6),
                               label=name)
        else:
            choice = data.draw(texts, label=name)
        if choice is FRESH:
            return fresh_session(api, channel, next(serial))
        # surrogatepass: a lone surrogate travels as the bytes a sloppy client would percent-encode.
        return quote(choice.encode("utf-8", "surrogatepass"), safe="") if choice else "x"

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        pattern, method = data.draw(weighted(st.sampled_from(with_body), st.sampled_from(without_body), 3),
                                    label="route")
        tame = data.draw(st.booleans(), label="tame")
        values: dict[str, str] = {}
        for name in re.findall(r"\{(\w+)\}", pattern):
            values[name] = path_value(data, name, values.get("code", "pos"), tame)
        path = fill(pattern, values)
        if method == "GET" and not tame:
            query = data.draw(weighted(st.just({}), query_params, 1), label="query")
            path += "?" + urlencode(query) if query else ""
        anything = st.one_of(json_values.map(to_json), raw_bodies)
        own = (TAME if tame else WILD).get((pattern, method))
        if own is None:
            bodies = st.just("{}") if tame else anything
        else:
            bodies = own.map(to_json) if tame else weighted(own.map(to_json), anything, 8)
        body = data.draw(bodies, label="body") if method in ("POST", "PUT") else ""
        headers = {} if tame else data.draw(weighted(st.just({}), junk_headers, 2), label="headers")
        resp = api.request(method, path, raw=body or None, headers=headers)
        assert_answer_is_sound(method, path, headers, body, resp)

    one_request()
