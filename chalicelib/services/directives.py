"""Directive use cases: read, list, retry, redrive, and the outbox relay that re-sends what never reached SQS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..directives.queue import QUEUES, DeadLetter
from ..domain.clock import now_iso
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.models import Directive, DirectiveStatus
from ..storage.db import ConditionFailed, Page
from .hub import Hub
from .retry import optimistic
from .validation import parse

RELAY_GRACE_SECONDS = 30
MAX_REDRIVE = 1000


def get(hub: Hub, directive_id: str) -> Directive:
    return hub.directives.get(directive_id)


def list_directives(hub: Hub, *, topic: str | None, status: str | None, order_ref: str | None,
                    limit: int, cursor: str | None) -> Page:
    if status is not None and status not in get_args(DirectiveStatus):
        raise InvalidInput(f"`status` must be one of {', '.join(get_args(DirectiveStatus))}", code="invalid_status")
    return hub.directives.list(topic=topic, status=status, order_ref=order_ref, limit=limit, cursor=cursor)


def relay_outbox(hub: Hub, grace_seconds: int = RELAY_GRACE_SECONDS, batch: int = 100) -> int:
    """Re-sends directives written but not enqueued (their writer died between the write and the send).

    The grace period leaves the writer time to send them itself; a duplicate send is harmless because a
    delivery must claim its directive before running it.
    """
    cutoff = (datetime.now(UTC) - timedelta(seconds=grace_seconds)).isoformat(timespec="milliseconds")
    pending = hub.directives.pending_outbox(limit=batch, older_than=cutoff.replace("+00:00", "Z"))
    return hub.queue.dispatch(pending)


def retry(hub: Hub, directive_id: str) -> tuple[Directive, bool]:
    """Requeues a failed or dead directive; returns it and whether this call requeued it.

    Idempotent: a directive already queued or running is returned as is. A done one is never run again.
    """
    for _ in optimistic():
        directive = hub.directives.get(directive_id)
        if directive.status == "done":
            raise Conflict(f"directive {directive_id!r} is done and never runs again", code="directive_done")
        if directive.status == "queued" or (directive.status == "running" and not _lease_over(directive)):
            return directive, False
        try:
            requeued = hub.directives.requeue(directive, now_iso())
        except ConditionFailed:
            continue
        hub.queue.dispatch([requeued])
        return requeued, True
    raise AssertionError("unreachable")


class RedriveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max: Annotated[StrictInt, Field(ge=1, le=MAX_REDRIVE)] = 100


Settled = Literal["moved", "dropped", "kept"]


def redrive_from_body(hub: Hub, body: Any) -> dict[str, int]:
    return redrive(hub, parse(RedriveBody, body if body is not None else {}).max)


def redrive(hub: Hub, max_messages: int = 100) -> dict[str, int]:
    """Moves up to `max_messages` dead letters back to work, from every directive queue's DLQ.

    Each directive is requeued (status and outbox first, so a crash here still gets it sent); letters of
    directives that are done meanwhile are dropped; letters naming no directive stay for an operator.
    """
    counts: dict[str, int] = {"moved": 0, "dropped": 0, "kept": 0}
    kept: list[DeadLetter] = []
    for queue in QUEUES:
        while sum(counts.values()) < max_messages:
            letters = hub.queue.receive_dead_letters(queue, max_messages - sum(counts.values()))
            if not letters:
                break
            for letter in letters:
                outcome = _settle(hub, letter)
                counts[outcome] += 1
                if outcome == "kept":
                    kept.append(letter)
    # Visible again only now: within one run, a kept letter is counted once.
    for letter in kept:
        hub.queue.release_dead_letter(letter)
    return counts


def _settle(hub: Hub, letter: DeadLetter) -> Settled:
    if letter.directive_id is None:
        return "kept"
    try:
        directive, requeued = retry(hub, letter.directive_id)
    except NotFound:
        return "kept"
    except Conflict:  # done: nothing left to do for this letter
        hub.queue.delete_dead_letter(letter)
        return "dropped"
    if directive.status == "running":
        # Being run (a retry was requested meanwhile): the letter is redundant.
        hub.queue.delete_dead_letter(letter)
        return "dropped"
    if not requeued:
        hub.queue.dispatch([directive])  # queued already; the letter may be its only message
    hub.queue.delete_dead_letter(letter)
    return "moved"


def _lease_over(directive: Directive) -> bool:
    # A running directive whose worker died (SQS dead-lettered its message after the crashes) can be retried.
    return directive.lease_until is None or directive.lease_until < now_iso()
