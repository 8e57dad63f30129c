"""The SQS directive worker: runs each directive's handler, at most once per directive while it succeeds (I6).

SQS delivers at least once. The directive record itself is the guard: a delivery must first claim it
(`queued`/`failed` -> `running`, a conditional write), so a duplicate of a running or finished directive does
nothing, and a `running` one whose worker died is taken over once its lease ends. A failing record is
reported in batchItemFailures so only it returns, after an exponential backoff; after its topic's last
attempt the worker marks it dead and moves it to the dead-letter queue itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ..domain.clock import now_iso
from ..domain.errors import NotFound
from ..observability import metrics
from ..services.hub import Hub
from ..storage.db import ConditionFailed
from .contract import DirectiveContext, PermanentFailure

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
        directive_id = json.loads(record.body)["directive_id"]
        directive = hub.directives.get(str(directive_id))
    except (ValueError, KeyError, TypeError):
        # Nothing could ever process it: retrying would only delay its way to the dead-letter queue.
        return _dead_letter(hub, record, "malformed message: expected a JSON object with a directive_id")
    except NotFound:
        return _dead_letter(hub, record, f"directive {directive_id!r} does not exist")
    if directive.status == "done":
        return "skipped"
    if directive.status == "dead":
        # Marked dead by an attempt whose move to the dead-letter queue did not happen: finish that move.
        return _dead_letter(hub, record, directive.last_error or "dead")
    handler = hub.registry.handler(directive.topic)
    if handler is None:
        reason = f"no handler is registered for topic {directive.topic!r}"
        with contextlib.suppress(ConditionFailed):
            hub.directives.mark_dead(directive, now_iso(), reason)
        return _dead_letter(hub, record, reason)

    now = datetime.now(UTC)
    try:
        claimed = hub.directives.claim(directive, _iso(now), _iso(now + _lease(lambda_context)))
    except ConditionFailed:
        # Another delivery runs it (its own message comes back if that worker dies) or already finished it.
        return "skipped"
    receive_count = int(record.attributes.approximate_receive_count or 1)
    max_attempts = hub.settings.max_attempts(directive.topic, hub.registry.handler_max_attempts(directive.topic))
    ctx = DirectiveContext(hub=hub, idempotency_key=directive.id, attempt=receive_count, max_attempts=max_attempts)
    try:
        result = handler(claimed, ctx)
    except Exception as exc:
        dead = isinstance(exc, PermanentFailure) or ctx.final_attempt
        status: Outcome = "dead" if dead else "failed"
        log.exception("directive %s (%s) %s on attempt %d of %d", directive.id, directive.topic, status,
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
