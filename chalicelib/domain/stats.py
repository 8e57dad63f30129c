"""Order statistics as counters: what each order change adds to its day's counters. Pure.

Counters belong to the day the order was created, per scope (all orders, its channel, its store, both). An order
counts once in `orders`, once in `count_<its current status>`, and contributes `total_q - refunded_q` to
`revenue_q` while its status is one that earns (not rejected, cancelled or failed). Every change adds the
difference between the order's contribution after and before it, so refunds and cancels are taken off once.
"""

from __future__ import annotations

from .models import Order

NON_REVENUE = frozenset({"rejected", "cancelled", "failed"})


def store_of(order: Order) -> str | None:
    value = order.snapshot.data.get("store_code")
    return value if isinstance(value, str) else None


def scopes(order: Order) -> list[str]:
    found = ["all", f"ch:{order.channel_code}"]
    store = store_of(order)
    if store:
        found += [f"st:{store}", f"cs:{order.channel_code}:{store}"]
    return found


def day_of(order: Order) -> str:
    return order.created_at[:10]


def _contribution(order: Order) -> dict[str, int]:
    earns = order.status not in NON_REVENUE
    return {"orders": 1, f"count_{order.status}": 1, "revenue_q": order.total_q - order.refunded_q if earns else 0,
            "revenue_orders": 1 if earns else 0}


def deltas(before: Order | None, after: Order) -> dict[str, int]:
    """What to ADD to the counters of `after`'s day for this change (nothing that does not move)."""
    new = _contribution(after)
    old = _contribution(before) if before is not None else {}
    moved = {name: new.get(name, 0) - old.get(name, 0) for name in set(new) | set(old)}
    return {name: value for name, value in moved.items() if value}
