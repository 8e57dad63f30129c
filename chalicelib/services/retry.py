from __future__ import annotations

import random
import time
from collections.abc import Iterator

from ..domain.errors import Conflict

# Under API Gateway's 29 s limit, with room for the request's own work.
BUDGET_SECONDS = 20.0


def optimistic(attempts: int = 100, budget_seconds: float = BUDGET_SECONDS) -> Iterator[int]:
    """Attempts of a read-modify-conditional-write loop, bounded in count and time, with jittered backoff.

    Exhausting them is a 409 the client can retry, never a silent overwrite.
    """
    deadline = time.monotonic() + budget_seconds
    for attempt in range(attempts):
        if attempt:
            # Full jitter: contenders spread out instead of colliding again on the next round.
            pause = random.uniform(0, min(0.5, 0.01 * 2 ** min(attempt, 6)))
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        yield attempt
    raise Conflict("too many concurrent writers on this resource; retry", code="contention")
