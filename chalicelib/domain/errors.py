"""The error vocabulary of the domain.

Every failure a caller may need to tell apart has a code and the HTTP status
that fits it; the HTTP layer renders them, the domain never imports HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        self.headers = headers or {}


class InvalidInput(DomainError):
    """The request is malformed: a missing field, a bad value (400)."""

    status = 400
    code = "invalid_input"


class Unprocessable(DomainError):
    """Well formed, but the domain refuses it (422)."""

    status = 422
    code = "unprocessable"


class Unauthenticated(DomainError):
    """No API key, or one that is unknown or revoked (401)."""

    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    """A valid key outside its scopes (403)."""

    status = 403
    code = "forbidden"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The stored state does not allow it now (409)."""

    status = 409
    code = "conflict"


class Gone(DomainError):
    """What the request points at existed but is no longer kept (410): an expired feed cursor."""

    status = 410
    code = "gone"


class PayloadTooLarge(DomainError):
    """The request body is larger than the API reads (413)."""

    status = 413
    code = "payload_too_large"


class PreconditionRequired(DomainError):
    """A write that would replace state blindly must name the version it read (428)."""

    status = 428
    code = "precondition_required"


class StaleRev(Conflict):
    code = "stale_rev"

    def __init__(self, current_rev: int, expected_rev: int):
        super().__init__(
            f"session is at rev {current_rev}, not {expected_rev}",
            details={"current_rev": current_rev, "expected_rev": expected_rev},
        )
        self.current_rev = current_rev


class ConfigurationError(RuntimeError):
    """The environment is wrong; raised at start so nothing runs half-configured (I10)."""
