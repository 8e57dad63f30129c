"""What a directive handler is given and what it may raise: the contract between the worker and handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ..services.hub import Hub


class DirectiveContext(NamedTuple):
    """Beside the directive: the services (to write checks, read orders) and where this attempt stands.

    `idempotency_key` is the directive id: a backend that supports idempotency keys (payment providers,
    webhooks) gets it, so a side effect repeated after a crash is recognised on the other side too.
    """

    hub: Hub
    idempotency_key: str
    attempt: int
    max_attempts: int

    @property
    def final_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (a refused request, missing configuration):
    the directive goes dead at once instead of spending its remaining attempts."""
