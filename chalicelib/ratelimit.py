"""Sliding-window rate limits on DynamoDB atomic counters: per API key, per client IP, per route.

Each bucket (e.g. one key) is one item holding a counter per fixed window (`w<window number>`). A hit is one
UpdateItem: ADD to the current window's counters, returning the item, so the previous window's counts come
back in the same request. The estimate is the seed's sliding-window counter,
`previous * (time left in the current window / window) + current`: a client cannot double its budget by
straddling a window boundary. A refused hit takes its increment back, so refused requests do not hold the
window shut. Items expire by TTL once idle; windows older than the previous one are removed as they pass.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from .storage import codec
from .storage.db import Db

WINDOW_SECONDS = 60


class Decision(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the current window ends
    retry_after: int  # when refused: seconds until a request would be allowed again

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                   "X-RateLimit-Reset": str(self.reset_seconds)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    def __init__(self, db: Db, *, enabled: bool = True, window_seconds: int = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.db = db
        self.enabled = enabled
        self.window = window_seconds
        self.clock = clock

    def hit(self, bucket: str, limits: Mapping[str, int]) -> dict[str, Decision] | None:
        """Counts one request against each named limit of `bucket`, all in one write.

        The request is allowed only if every limit allows it. None when rate limiting is switched off.
        """
        if not self.enabled or not limits:
            return None
        now = self.clock()
        window = int(now // self.window)
        elapsed = now - window * self.window
        names = {f"#c{i}": f"{name}_w{window}" for i, name in enumerate(limits)}
        # The window before the previous one is never read again.
        stale = {f"#o{i}": f"{name}_w{window - 2}" for i, name in enumerate(limits)}
        item = self._update(bucket, "ADD " + ", ".join(f"{n} :one" for n in names) + " SET #ttl = :ttl REMOVE "
                            + ", ".join(stale), {**names, **stale, "#ttl": "ttl"},
                            {":one": 1, ":ttl": int(now) + 3 * self.window})
        decisions = {name: self._decide(limit, int(item.get(f"{name}_w{window}", 1)),
                                        int(item.get(f"{name}_w{window - 1}", 0)), elapsed)
                     for name, limit in limits.items()}
        if not all(d.allowed for d in decisions.values()):
            # Not served: give the increments back (best effort; the window expires anyway).
            with contextlib.suppress(BotoCoreError, ClientError):
                self._update(bucket, "ADD " + ", ".join(f"{n} :minus" for n in names), names, {":minus": -1})
        return decisions

    def _update(self, bucket: str, expression: str, names: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
        resp = self.db.client.update_item(
            TableName=self.db.table, Key=codec.to_item({"pk": f"RL#{bucket}", "sk": "RL"}),
            UpdateExpression=expression, ExpressionAttributeNames=names,
            ExpressionAttributeValues=codec.to_item(values), ReturnValues="ALL_NEW",
        )
        return codec.from_item(resp.get("Attributes", {}))

    def _decide(self, limit: int, current: int, previous: int, elapsed: float) -> Decision:
        weight = (self.window - elapsed) / self.window
        estimate = previous * weight + current
        allowed = estimate <= limit
        return Decision(allowed=allowed, limit=limit, remaining=max(0, math.floor(limit - estimate)) if allowed else 0,
                        reset_seconds=max(1, math.ceil(self.window - elapsed)),
                        retry_after=0 if allowed else self._retry_after(limit, current - 1, previous, elapsed))

    def _retry_after(self, limit: int, current: int, previous: int, elapsed: float) -> int:
        """Seconds until `previous * weight + current + 1 <= limit` holds again, as the window slides."""
        left = self.window - elapsed
        if current + 1 <= limit and previous > 0:
            # Within this window, once the previous window's weight has fallen far enough.
            wait = left - (limit - current - 1) * self.window / previous
            return max(1, math.ceil(wait))
        # Only in the next window, where this window's count becomes the weighted one.
        if current <= 0:
            return max(1, math.ceil(left))
        into_next = self.window * (1 - (limit - 1) / current) if current > limit - 1 else 0
        return max(1, math.ceil(left + max(0.0, into_next)))
