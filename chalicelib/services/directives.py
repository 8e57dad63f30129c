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
from ..storage.directives import due_at
from .hub import Hub
from .retry import optimistic
from .validation import parse

RELAY_GRACE_SECONDS = 30
# A directive the relay sent waits this long, or as long as it has already waited if that is longer, before the
# relay sends it again: its entry leaves the outbox only when a delivery claims it, and a queue that is behind
# should get one more copy now and then (in case a message was lost), not one a minute.
RELAY_RESEND_SECONDS = 300
MAX_REDRIVE = 1000


def get(hub: Hub, directive_id: str) -> Directive:
    return hub.directives.get(directive_id)


def list_directives(hub: Hub, *, topic: str | None, status: str | None, order_ref: str | None,
                    limit: int, cursor: str | None) -> Page:
    if status is not None and status not in get_args(DirectiveStatus):
        raise InvalidInput(f"`status` must be one of {', '.join(get_args(DirectiveStatus))}", code="invalid_status")
    return hub.directives.list(topic=topic, status=status, order_ref=order_ref, limit=limit, cursor=cursor)


def relay_outbox(hub: Hub, grace_seconds: int = RELAY_GRACE_SECONDS, batch: int = 100) -> int:
    """Sends what is still in the outbox `grace_seconds` after it was due: a directive leaves the outbox when a
    delivery claims it, so this is what never reached SQS (its writer died between the write and the send, or
    the send failed) or reached it and was never delivered. Returns how many it sent.

    The outbox sort key is when a directive is due (created + its delay), so a delayed directive is never sent
    before SQS would release it; what the relay sends is past due and goes without delay. A duplicate send is
    harmless: a delivery must claim its directive before running it.
    """
    now = datetime.now(UTC)
    cutoff = _iso(now - timedelta(seconds=grace_seconds))
    pending = hub.directives.pending_outbox(limit=batch, older_than=cutoff)
    for directive in pending:
        if directive.status != "queued":  # claimed already: its message arrived, there is nothing to send
            hub.directives.leave_outbox(directive)
    sent = hub.queue.send([d for d in pending if d.status == "queued"])
    for directive in sent:
        hub.directives.postpone_outbox(directive.id, cutoff, _iso(now + _resend_after(directive, now)))
    return len(sent)


def _resend_after(directive: Directive, now: datetime) -> timedelta:
    # Doubling: each resend waits as long as the directive has waited since it entered the outbox (at least
    # RELAY_RESEND_SECONDS), so even one that is never claimed costs a handful of messages a day, not 1,440.
    entered = max(directive.updated_at, due_at(directive))
    try:
        waited = now - datetime.fromisoformat(entered)
    except (ValueError, TypeError):
        waited = timedelta(0)
    return max(timedelta(seconds=RELAY_RESEND_SECONDS), waited)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

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
