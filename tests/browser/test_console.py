"""The operator console as an operator uses it: sign in, watch orders arrive live, move one along, resolve a stock
issue, retry a dead directive; a read-only key sees no buttons. Each page is screenshotted under build/console/."""

from __future__ import annotations

import re
import urllib.request
import uuid
from typing import Any

from playwright.sync_api import Request, Route, expect

from tests.browser.conftest import Console
from tests.e2e.test_local_stack import ADMIN_KEY, RunningStack, http, place_order, wait_for
from tests.webhook_receiver import Receiver


def api(stack: RunningStack, method: str, path: str, body: Any = None, key: str = ADMIN_KEY, **headers: str) -> Any:
    reply = http(method, f"{stack.url}{path}", body, headers, key=key)
    assert reply.status < 300, (method, path, reply.status, reply.json)
    return reply.json


def events(stack: RunningStack, ref: str) -> list[str]:
    return [e["event_type"] for e in api(stack, "GET", f"/v1/orders/{ref}/events")["items"]]


def new_key(stack: RunningStack, *scopes: str) -> str:
    return api(stack, "POST", "/v1/keys", {"name": f"console-{uuid.uuid4().hex[:6]}", "scopes": list(scopes)})["secret"]


def shop_cart_short_of_caps(stack: RunningStack) -> str:
    """A shop cart of 3 CAPs (2 exist): the stock check reports insufficient_stock with adjust_qty / remove_item."""
    key = f"CART-{uuid.uuid4().hex[:6]}"
    api(stack, "POST", "/v1/channels/shop/sessions", {"session_key": key})
    api(stack, "POST", f"/v1/channels/shop/sessions/{key}/modify",
        {"ops": [{"op": "add_line", "sku": "CAP", "qty": 3}]})
    wait_for(lambda: api(stack, "GET", f"/v1/channels/shop/sessions/{key}")["issues"], 20, "the stock issue")
    return key


# --- the page itself ----------------------------------------------------------------------------------------------
def test_the_page_is_public_static_and_locked_to_its_own_files(stack: RunningStack) -> None:
    with urllib.request.urlopen(f"{stack.url}/console", timeout=10) as resp:  # noqa: S310 - the local stack
        page, headers = resp.read().decode(), resp.headers
    assert headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" in page and not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script"
    with urllib.request.urlopen(f"{stack.url}/console/app.js", timeout=10) as resp:  # noqa: S310
        assert resp.headers["Content-Type"].startswith("text/javascript")
    missing = http("GET", f"{stack.url}/console/app.py", key=None)
    assert (missing.status, missing.json["error"]["code"]) == (404, "not_found")


def test_sign_in_keeps_the_key_in_this_tab_only(console: Console) -> None:
    page = console.open().page
    console.sign_in("omk_ffffffffffff_" + "x" * 43)
    expect(console.flash()).to_have_text("the API key is not valid")  # the API's own message
    expect(page.get_by_label("API key")).to_be_visible()
    console.screenshot("sign-in")

    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/v1/" in r.url else None)
    console.sign_in()
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#orders")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('omniman.key')") == ADMIN_KEY
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    assert sent and set(sent) == {f"Bearer {ADMIN_KEY}"}

    page.reload()  # the same tab keeps its key
    expect(page.locator("#orders")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('omniman.key')") is None


# --- orders: live, and moved along ----------------------------------------------------------------------------------
def test_an_order_appears_live_and_is_moved_along_its_flow(console: Console, stack: RunningStack) -> None:
    page = console.open("/orders").sign_in().page
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.evaluate("window.notReloaded = true")

    _, ref = place_order(stack.url, f"live-{uuid.uuid4().hex[:6]}")
    row = page.locator(f"#orders tr[data-ref='{ref}']")
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("new")
    console.screenshot("orders")

    # A status change made elsewhere (another till, a webhook) shows up too.
    api(stack, "POST", f"/v1/orders/{ref}/transition", {"status": "confirmed"})
    expect(row.locator(".badge")).to_have_text("confirmed")
    assert page.evaluate("window.notReloaded") is True

    row.get_by_role("link", name=ref).click()
    actions = page.locator("#order-actions")
    expect(actions.get_by_role("button")).to_have_text(["→ processing", "→ ready", "→ cancelled"])
    actions.get_by_role("button", name="→ processing").click()
    expect(page.locator("#order-status")).to_have_text("processing")
    expect(page.locator(".timeline li").last).to_contain_text("confirmed → processing")
    expect(actions.get_by_role("button")).to_have_text(["→ ready", "→ cancelled"])
    console.screenshot("order")
    assert events(stack, ref) == ["OrderCreated", "OrderStatusChanged", "OrderStatusChanged"]


def test_orders_are_filtered_by_channel_status_and_day(console: Console, stack: RunningStack) -> None:
    _, ref = place_order(stack.url, f"flt-{uuid.uuid4().hex[:6]}")
    day = api(stack, "GET", f"/v1/orders/{ref}")["created_at"][:10]
    page = console.open("/orders").sign_in().page
    form = page.locator("form.filters")
    form.get_by_label("Channel").select_option("pos")
    form.get_by_label("Status").fill("new")
    form.get_by_label("From (UTC)").fill(day)
    form.get_by_label("To (UTC)").fill(day)
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"#/orders\?channel=pos&status=new&from={day}&to={day}$"))
    rows = page.locator("#orders tbody tr")
    expect(rows.filter(has_text=ref)).to_have_count(1)
    listed = api(stack, "GET", "/v1/orders?channel=pos&status=new&limit=200")["items"]
    expect(rows).to_have_count(len([o for o in listed if o["created_at"][:10] == day]))
    for cells in rows.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))"):
        assert (cells[1], cells[2], cells[4][:10]) == ("pos", "new", day), cells

    console.go(f"/orders?channel=web&from={day}")  # another channel: not this order
    expect(page.locator("form.filters").get_by_label("Channel")).to_have_value("web")
    expect(page.locator(".count")).to_have_text(re.compile(r"\d+ shown"))  # read and drawn
    expect(page.locator(f"#orders tr[data-ref='{ref}']")).to_have_count(0)


def test_an_orders_external_references_appear_live(console: Console, stack: RunningStack) -> None:
    _, ref = place_order(stack.url, f"refs-{uuid.uuid4().hex[:6]}")
    page = console.open(f"/orders/{ref}").sign_in().page
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    refs = page.locator("section.card", has=page.get_by_role("heading", name="Refs"))
    expect(refs).to_contain_text("No external references.")
    marketplace_id = f"MK-{uuid.uuid4().hex[:8]}"
    api(stack, "PUT", f"/v1/orders/{ref}/refs/marketplace", {"value": marketplace_id})  # an integration, elsewhere
    expect(refs.locator("tbody tr")).to_have_text([f"marketplace{marketplace_id}"])
    expect(page.locator(".timeline li").last).to_contain_text(f"OrderRefSet marketplace = {marketplace_id}")


def test_a_double_click_acts_once(console: Console, stack: RunningStack) -> None:
    _, ref = place_order(stack.url, f"dbl-{uuid.uuid4().hex[:6]}")
    page = console.open(f"/orders/{ref}").sign_in().page
    keys: list[str] = []
    page.on("request", lambda r: keys.append(r.headers["idempotency-key"]) if r.url.endswith("/transition") else None)
    page.locator("#order-actions").get_by_role("button", name="→ confirmed").dblclick()
    expect(page.locator("#order-status")).to_have_text("confirmed")
    assert len(keys) == 1
    assert events(stack, ref) == ["OrderCreated", "OrderStatusChanged"]


def test_a_request_repeated_with_its_key_is_answered_by_the_first_result(console: Console,
                                                                         stack: RunningStack) -> None:
    """The network repeats the console's request (a retry after a dropped answer): the API acts once and replays."""
    _, ref = place_order(stack.url, f"rep-{uuid.uuid4().hex[:6]}")
    page = console.open(f"/orders/{ref}").sign_in().page
    answers: list[tuple[int, str | None]] = []

    def twice(route: Route, request: Request) -> None:
        first = route.fetch()
        second = route.fetch()  # the same request, Idempotency-Key included
        answers.extend([(first.status, first.headers.get("idempotent-replayed")),
                        (second.status, second.headers.get("idempotent-replayed"))])
        route.fulfill(response=second)

    page.route("**/transition", twice)
    page.locator("#order-actions").get_by_role("button", name="→ confirmed").click()
    expect(console.flash()).to_contain_text("first result")
    expect(page.locator("#order-status")).to_have_text("confirmed")
    assert answers == [(200, None), (200, "true")]
    assert events(stack, ref) == ["OrderCreated", "OrderStatusChanged"]


def test_a_refused_action_shows_the_apis_message(console: Console, stack: RunningStack) -> None:
    key = shop_cart_short_of_caps(stack)
    page = console.open("/sessions").sign_in().page
    card = page.locator(f"[data-session='shop/{key}']")
    expect(card.get_by_role("button", name="Remove item")).to_be_visible()
    # Someone else changes the cart after the page was read: the action was for a rev that is gone.
    api(stack, "POST", f"/v1/channels/shop/sessions/{key}/modify", {"ops": [{"op": "set_data", "path": "note",
                                                                            "value": "x"}]})
    card.get_by_role("button", name="Remove item").click()
    expect(console.flash()).to_contain_text("rev")
    message = http("POST", f"{stack.url}/v1/channels/shop/sessions/{key}/resolve",
                   {"issue_id": "stock:CAP", "action_id": "remove_item", "expected_rev": 1}).json["error"]["message"]
    expect(console.flash()).to_have_text(message)
    api(stack, "POST", f"/v1/channels/shop/sessions/{key}/abandon")


# --- sessions: a stock issue resolved -----------------------------------------------------------------------------
def test_a_stock_issue_is_resolved_with_its_action(console: Console, stack: RunningStack) -> None:
    key = shop_cart_short_of_caps(stack)
    page = console.open("/sessions").sign_in().page
    card = page.locator(f"[data-session='shop/{key}']")
    issue = card.locator("[data-issue='stock:CAP']")
    expect(issue).to_contain_text("only 2 of CAP available, 3 requested")
    console.screenshot("sessions")

    issue.get_by_role("button", name="Adjust to 2").click()
    expect(card).to_contain_text("2 \N{MULTIPLICATION SIGN} CAP")
    expect(card.locator("[data-issue]")).to_have_count(0)
    session = api(stack, "GET", f"/v1/channels/shop/sessions/{key}")
    assert ([line["qty"] for line in session["items"]], session["issues"]) == (["2"], [])
    api(stack, "POST", f"/v1/channels/shop/sessions/{key}/abandon")
    # The abandon gives the held CAPs back (stock.release): the next test's cart finds 2 again.
    wait_for(lambda: api(stack, "GET", "/v1/inventory/main/CAP")["available"] == "2", 20, "the CAPs released")


# --- directives: a dead one retried -------------------------------------------------------------------------------
def test_a_dead_directive_is_retried_and_runs(console: Console, stack: RunningStack, receiver: Receiver) -> None:
    """The channel's notification webhook refuses the first delivery (410: final), so notification.send dies for
    real; the receiver then accepts, and the operator's retry delivers it."""
    code = f"hooks{uuid.uuid4().hex[:4]}"
    api(stack, "POST", "/v1/channels", {"code": code, "name": "Hooked shop", "pricing_policy": "external",
                                        "config": {"post_commit_directives": ["notification.send"],
                                                   "notifications": {"backend": "webhook",
                                                                     "webhook_url": receiver.url}}})
    receiver.statuses = [410]
    api(stack, "POST", f"/v1/channels/{code}/sessions", {"session_key": "S1"})
    api(stack, "POST", f"/v1/channels/{code}/sessions/S1/modify",
        {"ops": [{"op": "add_line", "sku": "MUG", "qty": 1, "unit_price_q": 1500}]})
    [directive_id] = api(stack, "POST", f"/v1/channels/{code}/sessions/S1/commit", {},
                         **{"Idempotency-Key": f"{code}-1"})["directives"]
    wait_for(lambda: api(stack, "GET", f"/v1/directives/{directive_id}")["status"] == "dead", 20, "a dead directive")

    page = console.open("/directives").sign_in().page
    row = page.locator(f"tr[data-directive='{directive_id}']")
    expect(row.locator(".badge")).to_have_text("dead")
    expect(row).to_contain_text("410")
    console.screenshot("directives")

    row.get_by_role("button", name="Retry").click()
    expect(row.locator(".badge")).to_have_text("done")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)
    assert [headers["Idempotency-Key"] for headers, _ in receiver.requests] == [directive_id, directive_id]
    assert api(stack, "GET", f"/v1/directives/{directive_id}")["status"] == "done"


# --- inventory and stats ------------------------------------------------------------------------------------------
def test_inventory_lists_low_stock_first(console: Console) -> None:
    page = console.open("/inventory").sign_in().page
    low = page.locator("section.card", has_text="Low stock").locator("tbody tr")
    expect(low.first).to_be_visible()
    for cells in low.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")[:20]:
        assert float(cells[4]) <= float(cells[5]), cells  # available at or under its reorder level
    expect(page.locator("section.card", has_text="All stock").locator("tbody tr").first).to_be_visible()
    console.screenshot("inventory")


def test_stats_are_charted_per_day_and_per_status(console: Console, stack: RunningStack) -> None:
    place_order(stack.url, f"stats-{uuid.uuid4().hex[:6]}")
    today = api(stack, "GET", "/v1/orders/stats")["to"]
    totals = api(stack, "GET", f"/v1/orders/stats?from={today}&to={today}")["totals"]
    page = console.open("/stats").sign_in().page
    expect(page.locator(f"#chart-orders rect[data-label='{today}']")).to_have_attribute(
        "data-value", str(totals["orders"]))
    expect(page.locator(f"#chart-revenue rect[data-label='{today}']")).to_have_attribute(
        "data-value", str(totals["revenue_q"]))
    expect(page.locator("#chart-status rect[data-label='new']")).to_have_attribute(
        "data-value", str(totals["by_status"]["new"]))
    console.screenshot("stats")


# --- a key without the scope --------------------------------------------------------------------------------------
def test_a_read_only_key_sees_the_pages_without_the_buttons(console: Console, stack: RunningStack) -> None:
    _, ref = place_order(stack.url, f"ro-{uuid.uuid4().hex[:6]}")
    cart = shop_cart_short_of_caps(stack)
    page = console.open(f"/orders/{ref}").sign_in(new_key(stack, "channel:pos:read", "channel:shop:read")).page
    expect(page.locator("#order-status")).to_have_text("new")
    expect(page.locator("#order-status").locator("xpath=ancestor::main")).to_contain_text("next: confirmed")
    expect(page.locator("#order-actions button")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Directives need the operator scope.")

    console.go("/sessions")
    issue = page.locator(f"[data-session='shop/{cart}'] [data-issue='stock:CAP']")
    expect(issue).to_contain_text("insufficient_stock")
    expect(issue.get_by_role("button")).to_have_count(0)

    console.go("/directives")
    expect(console.flash()).to_have_text("this key lacks the 'operator' scope")
    expect(page.get_by_role("button", name="Redrive dead letters")).to_have_count(0)
    api(stack, "POST", f"/v1/channels/shop/sessions/{cart}/abandon")
