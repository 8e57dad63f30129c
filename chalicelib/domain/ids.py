from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A time-ordered, collision-resistant id: prefix, 10 chars of ms time, 10 random chars (ULID-like)."""
    ms = int(time.time() * 1000)
    stamp = "".join(_ALPHABET[(ms >> shift) & 31] for shift in range(45, -1, -5))
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{prefix}-{stamp}{rand}"
