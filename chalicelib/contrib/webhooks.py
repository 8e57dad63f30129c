"""Signed webhooks: how Omniman signs what it POSTs, and how a receiver checks it.

`Omniman-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>`.
Signing the timestamp with the body lets a receiver refuse replays of an old request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from ..directives.contract import PermanentFailure

SIGNATURE_HEADER = "Omniman-Signature"
# Worth another attempt: the receiver may recover. Any other 4xx means the request itself is refused.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class WebhookUnavailable(Exception):
    """The receiver could not take it now; the directive is retried with backoff."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_seconds: int = 300) -> bool:
    """For receivers: the signature matches this body and was made within the tolerance."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        expected = sign(secret, body, timestamp)
    except (ValueError, KeyError):
        return False
    fresh = abs((time.time() if now is None else now) - timestamp) <= tolerance_seconds
    return fresh and hmac.compare_digest(expected, header)


def post(url: str, payload: dict[str, Any], secret: str, *, idempotency_key: str, timeout_seconds: float) -> int:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return post_raw(url, body, secret, idempotency_key=idempotency_key, timeout_seconds=timeout_seconds)


def post_raw(url: str, body: bytes, secret: str, *, idempotency_key: str, timeout_seconds: float) -> int:
    if not url.startswith(("https://", "http://")):
        raise PermanentFailure(f"webhook URL {url!r} is not http(s)")
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 (http(s) only)
        "Content-Type": "application/json",
        "User-Agent": "omniman-webhooks/1",
        "Idempotency-Key": idempotency_key,
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (http(s) only)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in RETRYABLE_STATUSES:
            raise WebhookUnavailable(f"{url} answered {exc.code}") from None
        raise PermanentFailure(f"{url} refused the webhook with {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookUnavailable(f"{url} unreachable: {exc}") from None
