"""The seed's fail-fast order: every line's stock deducted in one transaction with the order, or none at all.

`POST /v1/orders {"channel", "store_code", "items": [{"sku", "quantity"}]}`: one TransactWriteItems holds, per line,
a stock update conditional on `available >= quantity`, and the order, its first event, its statistics and its
directives (the order confirmation through SQS, the channel's post-commit directives and event handlers). If any
line is short, DynamoDB cancels all of it: nothing is deducted, and the order is stored `rejected` with a
`rejection_reason` naming every short item ("Insufficient stock: <title>: requested 10, available 5").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.access import Principal
from ..domain.clock import now_iso
from ..domain.errors import InvalidInput, Unprocessable
from ..domain.events import ORDER_CREATED, order_event
from ..domain.feed import order_changes
from ..domain.ids import new_id
from ..domain.lifecycle import handler_directives
from ..domain.models import Channel, Code, Directive, Order, OrderLine, OrderSnapshot, Pricing, Qty, Refs
from ..domain.refs import order_holder
from ..domain.totals import line_total_q
from ..inventory.models import Product, Sku
from ..storage.db import ConditionFailed, TransactionConflict
from . import feed
from .hub import Hub
from .retry import optimistic
from .validation import parse

CONFIRMED, REJECTED = "confirmed", "rejected"
CONFIRMATION = "notification.send"
# One transaction holds 100 items: the lines' stock rows and the references (80 together), the order and its event, up
# to 4 statistics counters, its feed entry and pushes (up to 5 subscriptions), and the directives a channel asks for.
MAX_LINES = 80


class DirectItem(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    sku: Sku
    quantity: Qty


class DirectOrderBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    channel: Code
    store_code: Code
    items: Annotated[list[DirectItem], Field(max_length=1000)]
    # A marketplace's own order id, say: a second order with it is 409 `ref_taken` naming the first.
    refs: Refs = Field(default_factory=dict)


def place(hub: Hub, body: Any, *, actor: str, caller: Principal, key: str) -> Order:
    req = parse(DirectOrderBody, body)
    caller.require_write(req.channel)
    if not req.items:
        raise InvalidInput("an order needs at least one item", code="empty_items")
    if len(req.items) + len(req.refs) > MAX_LINES:
        raise InvalidInput(f"at most {MAX_LINES} lines and references together fit one order", code="too_many_lines",
                           details={"max": MAX_LINES, "lines": len(req.items), "refs": len(req.refs)})
    skus = [item.sku for item in req.items]
    duplicates = sorted({s for s in skus if skus.count(s) > 1})
    if duplicates:
        raise InvalidInput("each sku may appear once; add up its quantities", code="duplicate_sku",
                           details={"skus": duplicates})
    channel = hub.channels.get(req.channel)
    if hub.inventory.store.get_store(req.store_code) is None:
        raise Unprocessable(f"store {req.store_code!r} does not exist", code="store_not_found")
    products = hub.inventory.store.products(skus)
    unknown = [s for s in skus if s not in products]
    if unknown:
        raise InvalidInput(f"unknown skus: {', '.join(unknown)}", code="unknown_sku", details={"skus": unknown})
    prices = hub.registry.backend("pricing").prices_for(channel, skus)
    gave_back = False
    for _ in optimistic(30):
        order, events, directives = _build(hub, channel, req, products, prices, actor, key, CONFIRMED)
        holder = order_holder(order)
        hub.refs.ensure_free(req.refs, holder)
        try:
            # The stock rows come first: a cancelled transaction's reasons are read by line below.
            sent = feed.write(hub, channel, order_changes(channel.code, order.session_key, events), [
                *(hub.inventory.store.deduct_available(req.store_code, i.sku, i.quantity) for i in req.items),
                *hub.orders.create_requests(order, events),
                *hub.stats.change_requests(None, order),
                *hub.refs.claim_requests(req.refs, holder, order.created_at),
            ], directives)
        except TransactionConflict:
            continue  # another order held one of these rows at that instant: try again
        except ConditionFailed as exc:
            short = [req.items[i] for i, r in enumerate(exc.reasons[:len(req.items)])
                     if r["code"] == "ConditionalCheckFailed"]
            if not short:
                continue  # a reference taken meanwhile is named by ensure_free on the next round
            if not gave_back:
                # Expired holds still sit in `reserved` until swept: give them back, then try once more.
                gave_back = True
                hub.inventory.stock.release_expired(limit=200)
                continue
            return _reject(hub, channel, req, products, prices, actor, key, short)
        hub.queue.dispatch(sent)
        return order
    raise AssertionError("unreachable")


def _build(hub: Hub, channel: Channel, req: DirectOrderBody, products: dict[str, Product], prices: dict[str, int],
           actor: str, key: str, status: str, reason: str | None = None
           ) -> tuple[Order, list[Any], list[Directive]]:
    now, ref = now_iso(), new_id("O")
    lines = [OrderLine(line_id=f"L{n}", sku=item.sku, name=products[item.sku].title, qty=item.quantity,
                       unit_price_q=prices.get(item.sku, products[item.sku].price_q),
                       line_total_q=line_total_q(item.quantity, prices.get(item.sku, products[item.sku].price_q)))
             for n, item in enumerate(req.items, start=1)]
    total = sum(line.line_total_q for line in lines)
    data: dict[str, Any] = {"store_code": req.store_code, "direct": True}
    if status == CONFIRMED:
        data["stock_deducted"] = True  # what a cancel puts back (the stock contrib's stock.release)
    if reason:
        data["rejection_reason"] = reason
    order = Order(ref=ref, channel_code=channel.code, session_key=f"direct-{ref}", status=status,
                  status_timestamps={status: now}, total_q=total, items=lines,
                  snapshot=OrderSnapshot(session_rev=0, items=lines, pricing=Pricing(subtotal_q=total, total_q=total),
                                         data=data),
                  event_seq=1, refs=dict(req.refs), created_at=now, updated_at=now)
    payload = {"from": None, "to": status, "channel_code": channel.code, "store_code": req.store_code,
               "total_q": total, "items_count": len(lines), "direct": True,
               **({"rejection_reason": reason} if reason else {})}
    events = [order_event(ref, 1, ORDER_CREATED, actor, now, payload=payload, idempotency_key=key)]
    if status != CONFIRMED:
        return order, events, []
    topics = list(dict.fromkeys([CONFIRMATION, *channel.config.post_commit_directives]))
    directives = [Directive(id=new_id("D"), topic=topic, payload={
        "order_ref": ref, "channel_code": channel.code, "store_code": req.store_code, "total_q": total,
        "type": "order_confirmed", "items": [line.model_dump(mode="json") for line in lines]},
        channel_code=channel.code, session_key=order.session_key, order_ref=ref, created_at=now, updated_at=now)
        for topic in topics]
    directives += handler_directives(events, channel.config.event_handlers, hub.registry, channel_code=channel.code,
                                     session_key=order.session_key, now=now)
    return order, events, directives


def _reject(hub: Hub, channel: Channel, req: DirectOrderBody, products: dict[str, Product], prices: dict[str, int],
            actor: str, key: str, short: list[DirectItem]) -> Order:
    parts = []
    for item in short:
        level = hub.inventory.store.get_stock(req.store_code, item.sku)
        available = level.available if level is not None else Decimal(0)
        parts.append(f"{products[item.sku].title}: requested {item.quantity}, available {max(available, Decimal(0))}")
    for _ in optimistic(10):
        order, events, _ = _build(hub, channel, req, products, prices, actor, key, REJECTED,
                                  reason="Insufficient stock: " + "; ".join(parts))
        holder = order_holder(order)
        hub.refs.ensure_free(req.refs, holder)
        try:
            sent = feed.write(hub, channel, order_changes(channel.code, order.session_key, events),
                              [*hub.orders.create_requests(order, events), *hub.stats.change_requests(None, order),
                               *hub.refs.claim_requests(req.refs, holder, order.created_at)], [])
        except ConditionFailed:
            continue  # a reference claimed meanwhile: ensure_free names its holder
        hub.queue.dispatch(sent)
        return order
    raise AssertionError("unreachable")
