"""Directive use cases: read, list, and the outbox relay that re-sends what never reached SQS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..domain.models import Directive
from ..storage.db import Page
from .hub import Hub

RELAY_GRACE_SECONDS = 30


def get(hub: Hub, directive_id: str) -> Directive:
    return hub.directives.get(directive_id)


def list_directives(hub: Hub, *, topic: str | None, status: str | None, order_ref: str | None,
                    limit: int, cursor: str | None) -> Page:
    return hub.directives.list(topic=topic, status=status, order_ref=order_ref, limit=limit, cursor=cursor)


def relay_outbox(hub: Hub, grace_seconds: int = RELAY_GRACE_SECONDS, batch: int = 100) -> int:
    """Re-sends directives written but not enqueued (their writer died between the write and the send).

    The grace period leaves the writer time to send them itself; a duplicate send is harmless because
    handlers run at most once per directive id.
    """
    cutoff = (datetime.now(UTC) - timedelta(seconds=grace_seconds)).isoformat(timespec="milliseconds")
    pending = hub.directives.pending_outbox(limit=batch, older_than=cutoff.replace("+00:00", "Z"))
    return hub.queue.dispatch(pending)
