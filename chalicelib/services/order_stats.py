"""`GET /v1/orders/stats`: counts per status, revenue and average order value, per day, from the counters written
with every order change (chalicelib/domain/stats.py); never a recount, never a Scan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..domain.access import Principal
from ..domain.errors import Forbidden, InvalidInput
from .hub import Hub

MAX_DAYS = 366
DEFAULT_DAYS = 30


def _day(raw: str | None, name: str, default: date) -> date:
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a day, YYYY-MM-DD", code="invalid_filter",
                           details={"parameter": name}) from None


def stats(hub: Hub, *, channel: str | None, store: str | None, first: str | None, last: str | None,
          caller: Principal) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    end = _day(last, "to", today)
    start = _day(first, "from", end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end or (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"`from` must be on or before `to`, at most {MAX_DAYS} days apart", code="invalid_filter")
    visible = caller.visible_channels()
    if channel is None and visible is not None and len(visible) == 1:
        channel = next(iter(visible))
    if channel is not None:
        caller.require_read(channel)
    elif visible is not None:
        raise Forbidden("statistics across channels need the operator scope; filter by one of your channels",
                        details={"required": "operator"})
    scope = f"cs:{channel}:{store}" if channel and store else f"ch:{channel}" if channel else (
        f"st:{store}" if store else "all")
    per_day = hub.stats.read(scope, start, end)
    days = [_summary({"day": day}, counters) for day, counters in sorted(per_day.items())]
    totals: dict[str, int] = {}
    for counters in per_day.values():
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + value
    return {"from": start.isoformat(), "to": end.isoformat(), "channel": channel, "store": store,
            "totals": _summary({}, totals), "days": days}


def _summary(head: dict[str, Any], counters: dict[str, int]) -> dict[str, Any]:
    earning = counters.get("revenue_orders", 0)
    revenue = counters.get("revenue_q", 0)
    return {**head, "orders": counters.get("orders", 0),
            "by_status": {k.removeprefix("count_"): v for k, v in sorted(counters.items())
                          if k.startswith("count_") and v},
            "revenue_q": revenue, "average_order_value_q": revenue // earning if earning else 0}
