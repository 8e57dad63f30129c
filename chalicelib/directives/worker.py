"""The SQS directive worker: runs each directive's handler, at most once per directive while it succeeds (I6).

SQS delivers at least once. The directive record itself is the guard: a delivery must first claim it
(`queued`/`failed` -> `running`, a conditional write that also hands the worker the directive), so a duplicate of
a running or finished directive does nothing, and a `running` one whose worker died is taken over once its lease
ends. A failing record is reported in batchItemFailures so only it returns, after an exponential backoff; after
its topic's last attempt the worker marks it dead and moves it to the dead-letter queue itself.
A directive costs two writes: the claim and the finish.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from ..domain.clock import now_iso
from ..observability import metrics
from ..services.hub import Hub
from ..storage.db import ConditionFailed
from .contract import DirectiveContext, PermanentFailure

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

log = logging.getLogger(__name__)

Outcome = Literal["done", "failed", "dead", "skipped"]

# Below the queues' 360 s visibility timeout, so a retry never waits longer than a stuck invocation would.
MAX_RETRY_DELAY_SECONDS = 300
# Without a Lambda context (scripts), a claim is held this long; in Lambda, until the invocation's timeout.
DEFAULT_LEASE_SECONDS = 120
LEASE_MARGIN_SECONDS = 5


class RetryRecord(Exception):
    pass


def retry_delay_seconds(receive_count: int, base_seconds: int) -> int:
    """Exponential backoff between attempts: base, 2x base, 4x base, ... capped."""
    return min(MAX_RETRY_DELAY_SECONDS, base_seconds * 2 ** max(receive_count - 1, 0))


def handle_batch(hub: Hub, event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    # Imported here: every function imports app.py, and only the workers process batches (a cold start of the
    # API function should not load Powertools' batch utility and the event classes behind it).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    outcomes: list[Outcome] = []

    def record_handler(record: SQSRecord) -> None:
        outcome = process_record(hub, record, lambda_context)
        outcomes.append(outcome)
        if outcome == "failed":
            # Back off instead of waiting out the whole visibility timeout (6 minutes) before the next attempt.
            receives = int(record.attributes.approximate_receive_count or 1)
            delay = retry_delay_seconds(receives, hub.settings.directive_retry_base_seconds)
            hub.queue.retry_later(record.event_source_arn, record.receipt_handle, delay)
            raise RetryRecord(outcome)

    # One processor per batch: the local poller runs queues on separate threads. A batch whose records
    # all failed is reported record by record too, rather than raised, so every path looks the same.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=lambda_context)
    for status, name in (("done", "DirectivesDone"), ("failed", "DirectivesFailed"), ("dead", "DirectivesDead")):
        count = outcomes.count(status)
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return response


def process_record(hub: Hub, record: SQSRecord, lambda_context: Any) -> Outcome:
    try:
        body = json.loads(record.body)
        directive_id = str(body["directive_id"])
        named_topic = body.get("topic")
    except (ValueError, KeyError, TypeError, AttributeError):
        # Nothing could ever process it: retrying would only delay its way to the dead-letter queue.
        return _dead_letter(hub, record, "malformed message: expected a JSON object with a directive_id")
    if isinstance(named_topic, str) and hub.registry.handler(named_topic) is None:
        # Known from the message alone: no attempt could run it, so it goes dead without being claimed.
        reason = f"no handler is registered for topic {named_topic!r}"
        try:
            hub.directives.mark_dead(directive_id, named_topic, now_iso(), reason)
            return _dead_letter(hub, record, reason)
        except ConditionFailed as exc:
            stored = exc.current
            if stored is None or stored.get("status") in ("done", "dead"):
                return _unclaimable(hub, record, directive_id, stored)
            if stored.get("topic") == named_topic:
                # Running (claimed when a handler still existed): this message can never run it, here or later.
                return _dead_letter(hub, record, reason)
            # The message named another topic than its directive's: the directive's own decides, below.

    now = datetime.now(UTC)
    try:
        claimed = hub.directives.claim(directive_id, _iso(now), _iso(now + _lease(lambda_context)))
    except ConditionFailed as exc:
        return _unclaimable(hub, record, directive_id, exc.current)
    handler = hub.registry.handler(claimed.topic)
    if handler is None:  # a message without the topic, or with another one
        reason = f"no handler is registered for topic {claimed.topic!r}"
        with contextlib.suppress(ConditionFailed):
            hub.directives.finish(claimed, "dead", now_iso(), error=reason)
        return _dead_letter(hub, record, reason)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    max_attempts = hub.settings.max_attempts(claimed.topic, hub.registry.handler_max_attempts(claimed.topic))
    ctx = DirectiveContext(hub=hub, idempotency_key=claimed.id, attempt=receive_count, max_attempts=max_attempts)
    try:
        result = handler(claimed, ctx)
    except Exception as exc:
        dead = isinstance(exc, PermanentFailure) or ctx.final_attempt
        status: Outcome = "dead" if dead else "failed"
        log.exception("directive %s (%s) %s on attempt %d of %d", claimed.id, claimed.topic, status,
                      receive_count, max_attempts)
        error = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(ConditionFailed):  # taken over meanwhile: the new owner records the outcome
            hub.directives.finish(claimed, status, now_iso(), error=error)
        hub.registry.fire("directive.failed", claimed, exc, {"attempt": receive_count, "dead": dead})
        return _dead_letter(hub, record, error) if dead else "failed"
    result = result if isinstance(result, dict) else {"result": result}
    with contextlib.suppress(ConditionFailed):  # a duplicate delivery finished it first
        hub.directives.finish(claimed, "done", now_iso(), result=result)
    hub.registry.fire("directive.completed", claimed, result, {"attempt": receive_count})
    return "done"


def _unclaimable(hub: Hub, record: SQSRecord, directive_id: str, stored: dict[str, Any] | None) -> Outcome:
    """Settles a delivery whose directive could not be claimed, from the item the refused write returned."""
    if stored is None:
        return _dead_letter(hub, record, f"directive {directive_id!r} does not exist")
    if stored.get("status") == "dead":
        # Marked dead by an attempt whose move to the dead-letter queue did not happen: finish that move.
        return _dead_letter(hub, record, str(stored.get("last_error") or "dead"))
    # Done, or running under another delivery's live lease (its own message comes back if that worker dies).
    return "skipped"


def _dead_letter(hub: Hub, record: SQSRecord, reason: str) -> Outcome:
    log.error("dead-lettering message %s: %s", record.message_id, reason)
    try:
        hub.queue.dead_letter(record.event_source_arn, record.body, reason)
    except Exception:
        # The record is retried; its next delivery finds the directive dead and tries the move again.
        log.exception("could not move message %s to the dead-letter queue", record.message_id)
        return "failed"
    return "dead"


def _lease(lambda_context: Any) -> timedelta:
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else DEFAULT_LEASE_SECONDS
    return timedelta(seconds=seconds + LEASE_MARGIN_SECONDS)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
