from __future__ import annotations

import random
import time
from collections.abc import Iterator

from ..domain.errors import Conflict


def optimistic(attempts: int = 30) -> Iterator[int]:
    """Attempts of a read-modify-conditional-write loop, with jittered backoff between them.

    Exhausting them is a 409 the client can retry, never a silent overwrite.
    """
    for attempt in range(attempts):
        if attempt:
            time.sleep(random.uniform(0, min(0.2, 0.004 * 2 ** min(attempt, 6))))
        yield attempt
    raise Conflict("too many concurrent writers on this resource; retry", code="contention")
