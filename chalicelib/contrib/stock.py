"""Stock: holds while a session is open, deduction once it is an order, release when it is not.

- `stock.hold` (the `stock` check's directive, sent by modify): holds the session's lines in the channel's
  store (`checks.stock.store_code`, default `main`) for `hold_ttl_minutes`, atomically, and writes the check
  against the rev it saw. Shortages become blocking `insufficient_stock` issues (actions `adjust_qty`,
  `remove_item`), unknown skus `product_not_found` issues.
- `stock.commit` (a post-commit directive): turns the order's holds into deductions, once.
- `stock.release`: sent by the abandon of a session and the cancel of an unfulfilled order (reactions,
  so it is written in the same transaction): gives held stock back, and puts a cancelled order's back. A direct
  order (`POST /v1/orders`) took its stock straight from the DynamoDB inventory, without holds: its release names
  the lines and puts them back there, exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..directives.contract import DirectiveContext, PermanentFailure
from ..domain.errors import Unprocessable
from ..domain.models import Channel, CheckConfig, Directive, Issue, IssueAction, Line, Order, Session
from ..domain.registry import DirectiveRequest, Registry
from ..inventory.backend import StockBackend
from ..inventory.errors import (
    HoldsCommitted,
    InsufficientStock,
    LapsedHoldUnavailable,
    StaleHoldRequest,
    TooManySkus,
    UnknownSku,
)
from ..inventory.models import Hold, Shortage
from ..lazy import deferred
from ..services.hub import Hub

# Only the check worker's stock.hold writes a result: the API never loads the check service (and the modify pipeline
# behind it) for this module.
checks = deferred("chalicelib.services.checks")

CHECK = "stock"
HOLD, COMMIT, RELEASE = "stock.hold", "stock.commit", "stock.release"
DEFAULT_STORE = "main"
# Once an order reached one of these, cancelling it no longer puts its goods back on the shelf; a channel
# with other names sets `checks.stock.fulfilled_statuses`.
FULFILLED_STATUSES = frozenset({"dispatched", "shipped", "delivered", "fulfilled", "completed", "returned"})


def owner(channel_code: str, session_key: str) -> str:
    return f"{channel_code}:{session_key}"


def backend(hub: Hub, registry: Registry) -> StockBackend:
    """A registered ("stock", "default") backend replaces the DynamoDB inventory (e.g. an ERP adapter)."""
    try:
        return registry.backend("stock")
    except LookupError:
        return hub.inventory.stock


def stock_check(channel: Channel) -> CheckConfig | None:
    return next((check for check in channel.config.checks.values() if check.directive_topic == HOLD), None)


def fulfilled_statuses(check: CheckConfig) -> frozenset[str]:
    configured = getattr(check, "fulfilled_statuses", None)
    if not isinstance(configured, list):
        return FULFILLED_STATUSES
    # Free-form channel config: only strings can name a status (a list or an object in a frozenset would raise).
    return frozenset(status for status in configured if isinstance(status, str))


# --- stock.hold -------------------------------------------------------------------------------------------------


def hold(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    channel_code, session_key, rev, check_code = p["channel_code"], p["session_key"], p["rev"], p["check_code"]
    config = p.get("config", {})
    store_code = str(config.get("store_code") or DEFAULT_STORE)
    lines = [Line.model_validate(item) for item in p["items"]]
    stock = backend(ctx.hub, registry)
    who = owner(channel_code, session_key)
    payload: dict[str, Any] = {"store_code": store_code, "holds": []}
    issues: list[Issue] = []
    try:
        # Fenced by the rev: a delivery for an older rev arriving late cannot replace a newer rev's holds.
        holds = stock.create_holds(store_code, who, [{"sku": line.sku, "qty": line.qty} for line in lines],
                                   ttl_minutes=int(config.get("hold_ttl_minutes", 15)), fence=rev)
        payload["holds"] = [_hold_json(h) for h in holds]
        payload["hold_expires_at"] = min((h.expires_at for h in holds), default=None)
    except (StaleHoldRequest, HoldsCommitted):
        # A newer rev's holds exist, or the session became an order meanwhile: this rev's result is moot.
        return {"outcome": "stale", "held": 0, "issues": []}
    except InsufficientStock as exc:
        issues = [shortage_issue(check_code, s, lines) for s in exc.shortages]
        payload["shortages"] = [s.model_dump(mode="json") for s in exc.shortages]
    except UnknownSku as exc:
        issues = [unknown_issue(check_code, sku, lines) for sku in exc.skus]
    except TooManySkus as exc:
        issues = [Issue(id=f"{check_code}:too_many_skus", source=check_code, code="too_many_skus", blocking=True,
                        message=exc.message, context=exc.details)]
    outcome = checks.apply_check_result(ctx.hub, channel_code, session_key, check_code, expected_rev=rev,
                                        payload=payload, issues=issues)
    if outcome == "stale" and ctx.hub.sessions.get(channel_code, session_key).state == "abandoned":
        stock.release_holds(who)  # abandoned while this ran: what it just held must not wait for expiry
    return {"outcome": outcome, "held": len(payload["holds"]), "issues": [i.code for i in issues]}


def shortage_issue(source: str, shortage: Shortage, lines: list[Line]) -> Issue:
    line_ids = [line.line_id for line in lines if line.sku == shortage.sku]
    available = max(shortage.available, Decimal(0))
    actions = [IssueAction(id="adjust_qty", label=f"Adjust to {available}", params={"qty": str(available)})] \
        if available > 0 else []
    actions.append(IssueAction(id="remove_item", label="Remove item"))
    return Issue(
        id=f"{source}:{shortage.sku}", source=source, code="insufficient_stock", blocking=True,
        message=f"only {available} of {shortage.sku} available, {shortage.requested} requested",
        context={"sku": shortage.sku, "line_ids": line_ids, "requested": str(shortage.requested),
                 "available": str(available)},
        actions=actions,
    )


def unknown_issue(source: str, sku: str, lines: list[Line]) -> Issue:
    return Issue(
        id=f"{source}:{sku}", source=source, code="product_not_found", blocking=True,
        message=f"{sku} is not sold here",
        context={"sku": sku, "line_ids": [line.line_id for line in lines if line.sku == sku]},
        actions=[IssueAction(id="remove_item", label="Remove item")],
    )


def _hold_json(h: Hold) -> dict[str, Any]:
    return {"hold_id": h.hold_id, "sku": h.sku, "qty": str(h.qty), "expires_at": h.expires_at}


# --- resolver: an action becomes ops, applied by modify -----------------------------------------------------------


def resolve(session: Session, issue: Issue, action: IssueAction, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    sku = issue.context.get("sku")
    lines = [line for line in session.items if line.sku == sku]
    if action.id == "remove_item":
        return [{"op": "remove_line", "line_id": line.line_id} for line in lines]
    # adjust_qty: the sku's lines keep, in order, as much as is available; lines left with nothing go.
    left = _quantity(action.params.get("qty", issue.context.get("available", "0")), issue, action)
    ops: list[dict[str, Any]] = []
    for line in lines:
        keep = min(line.qty, max(left, Decimal(0)))
        left -= keep
        if keep <= 0:
            ops.append({"op": "remove_line", "line_id": line.line_id})
        elif keep != line.qty:
            ops.append({"op": "set_qty", "line_id": line.line_id, "qty": str(keep)})
    return ops


def _quantity(raw: Any, issue: Issue, action: IssueAction) -> Decimal:
    # Issues come from check results a client may write: their quantities are data, not trusted numbers.
    try:
        value = None if isinstance(raw, bool | list | dict) else Decimal(str(raw))
    except ArithmeticError:  # decimal.InvalidOperation: not a number at all
        value = None
    if value is None or not value.is_finite():
        raise Unprocessable(f"action {action.id!r} of issue {issue.id!r} carries no usable quantity",
                            code="invalid_action_params", details={"issue_id": issue.id, "action_id": action.id})
    return value


# --- stock.commit and stock.release -------------------------------------------------------------------------------


def commit(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    try:
        committed = backend(ctx.hub, registry).commit_holds(owner(p["channel_code"], p["session_key"]),
                                                           p["order_ref"])
    except LapsedHoldUnavailable as exc:
        # Retrying cannot make the stock reappear: an operator restocks, then retries the directive.
        raise PermanentFailure(str(exc)) from None
    return {"committed": committed}


def release(directive: Directive, ctx: DirectiveContext, registry: Registry) -> dict[str, Any]:
    p = directive.payload
    if "deducted" in p:
        # Where the direct order deducted, whatever backend sessions hold through.
        return {"restocked": ctx.hub.inventory.stock.restock_deducted(p["order_ref"], p["store_code"],
                                                                      p["deducted"])}
    stock = backend(ctx.hub, registry)
    who = owner(p["channel_code"], p["session_key"])
    if p.get("order_ref"):
        return {"restocked": stock.restock_order(who, p["order_ref"])}
    return {"released": stock.release_holds(who)}


def on_abandon(session: Session, channel: Channel, ctx: dict[str, Any]) -> list[DirectiveRequest]:
    if stock_check(channel) is None:
        return []
    return [(RELEASE, {"channel_code": channel.code, "session_key": session.session_key, "reason": "abandoned"})]


def on_status_change(order: Order, channel: Channel, ctx: dict[str, Any]) -> list[DirectiveRequest]:
    check = stock_check(channel)
    fulfilled = fulfilled_statuses(check) if check is not None else FULFILLED_STATUSES
    if order.status != "cancelled" or fulfilled & set(order.status_timestamps):
        return []  # not a cancel, or the goods left the shelf: then it is a refund matter, not a restock
    data = order.snapshot.data
    if data.get("direct"):
        if data.get("stock_deducted") is not True:
            return []  # rejected: nothing was deducted
        return [(RELEASE, {"channel_code": channel.code, "session_key": order.session_key, "order_ref": order.ref,
                           "reason": "cancelled", "store_code": data["store_code"],
                           "deducted": [{"sku": line.sku, "qty": str(line.qty)} for line in order.items]})]
    if check is None:
        return []
    return [(RELEASE, {"channel_code": channel.code, "session_key": order.session_key, "order_ref": order.ref,
                       "reason": "cancelled"})]


def register(registry: Registry) -> None:
    registry.register_handler(HOLD)(lambda directive, ctx: hold(directive, ctx, registry))
    registry.register_handler(COMMIT)(lambda directive, ctx: commit(directive, ctx, registry))
    registry.register_handler(RELEASE)(lambda directive, ctx: release(directive, ctx, registry))
    registry.register_resolver(CHECK)(resolve)
    registry.register_resolver(HOLD)(resolve)  # for channels that name their stock check otherwise
    registry.register_reaction("session.abandoned", "stock.release")(on_abandon)
    registry.register_reaction("order.status_changed", "stock.release")(on_status_change)
