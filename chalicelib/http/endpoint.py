from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Response

from ..domain.errors import DomainError
from . import wire

logger = Logger(service="omniman", child=True)


def endpoint(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Every route answers in the one error shape; nothing a client sends can produce a 500."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            headers = {"Retry-After": "1"} if exc.code in ("idempotency_in_progress", "contention") else {}
            return wire.error(exc.status, exc.code, exc.message, exc.details, {**headers, **exc.headers})
        except Exception:
            logger.exception("unhandled error")
            return wire.error(500, "internal_error", "an unexpected error occurred; it has been logged")

    return wrapper
