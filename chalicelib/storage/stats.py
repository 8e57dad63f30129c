"""Statistics counters: `pk=STATS#{scope}#{day}#{shard}`. Hot days are spread over shards (a random one per
write, so concurrent orders rarely touch the same item) and read back with one BatchGetItem per 100 keys."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from ..domain import stats
from ..domain.models import Order
from . import codec
from .db import Db

SHARDS = 8


def _key(scope: str, day: str, shard: int) -> dict[str, str]:
    return {"pk": f"STATS#{scope}#{day}#{shard}", "sk": "STATS"}


class StatsStore:
    def __init__(self, db: Db):
        self.db = db

    def change_requests(self, before: Order | None, after: Order) -> list[dict[str, Any]]:
        """Counter updates to put into the transaction of the order change itself: exact, never recounted."""
        moved = stats.deltas(before, after)
        if not moved:
            return []
        names = {f"#c{i}": name for i, name in enumerate(moved)}
        values = {f":c{i}": value for i, value in enumerate(moved.values())}
        day = stats.day_of(after)
        shard = random.randrange(SHARDS)
        adds = ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))
        return [{"Update": {
            "TableName": self.db.table, "Key": codec.to_item(_key(scope, day, shard)),
            "UpdateExpression": f"ADD {adds} SET #day = :day",
            "ExpressionAttributeNames": {**names, "#day": "day"},
            "ExpressionAttributeValues": codec.to_item({**values, ":day": day}),
        }} for scope in stats.scopes(after)]

    def read(self, scope: str, first: date, last: date) -> dict[str, dict[str, int]]:
        """day -> summed counters, for every day of the range (days without orders are left out)."""
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        items = self.db.batch_get([_key(scope, day, shard) for day in days for shard in range(SHARDS)])
        totals: dict[str, dict[str, int]] = {}
        for item in items:
            bucket = totals.setdefault(item["day"], {})
            for name, value in item.items():
                if name != "day":
                    bucket[name] = bucket.get(name, 0) + int(value)
        return totals
