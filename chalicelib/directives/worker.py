"""The SQS directive worker: runs each directive's handler at most once per directive id (I6).

SQS delivers at least once; Powertools idempotency keyed on the directive id turns duplicates into replays.
A failing record is reported in batchItemFailures so only it returns to the queue; on its last allowed
receive the directive is marked dead before SQS moves it to the dead-letter queue.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from ..domain.clock import now_iso
from ..domain.errors import NotFound
from ..domain.models import Directive
from ..observability import metrics
from ..services.hub import Hub
from ..storage.db import ConditionFailed

log = logging.getLogger(__name__)


class UnknownTopic(Exception):
    pass


class DirectiveFailed(Exception):
    pass


@dataclass
class DirectiveContext:
    """What a handler gets beside the directive: the services (to write checks, read orders) and the attempt."""

    hub: Hub
    attempt: int
    final_attempt: bool


Outcome = Literal["done", "failed", "dead", "skipped"]


# Below the queues' 360 s visibility timeout, so a retry never waits longer than a stuck invocation would.
MAX_RETRY_DELAY_SECONDS = 300


def retry_delay_seconds(receive_count: int, base_seconds: int) -> int:
    """Exponential backoff between attempts: base, 2x base, 4x base, ... capped."""
    return min(MAX_RETRY_DELAY_SECONDS, base_seconds * 2 ** max(receive_count - 1, 0))


def handle_batch(hub: Hub, event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    outcomes: list[Outcome] = []

    def record_handler(record: SQSRecord) -> None:
        outcome = process_record(hub, record, lambda_context)
        outcomes.append(outcome)
        if outcome in ("failed", "dead"):
            # Back off instead of waiting out the whole visibility timeout (6 minutes) before the next attempt;
            # a dead one is released at once, so the redrive policy moves it to the dead-letter queue now.
            receives = int(record.attributes.approximate_receive_count or 1)
            delay = 0 if outcome == "dead" else retry_delay_seconds(
                receives, hub.settings.directive_retry_base_seconds)
            hub.queue.retry_later(record.event_source_arn, record.receipt_handle, delay)
            raise DirectiveFailed(outcome)

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
    except (ValueError, KeyError, TypeError):
        # Nothing could ever process it; retrying only delays its way to the dead-letter queue.
        log.error("malformed directive message %s", record.message_id)
        return "dead"
    receive_count = int(record.attributes.approximate_receive_count or 1)
    final = receive_count >= hub.settings.directive_max_receives
    try:
        directive = hub.directives.get(directive_id)
    except NotFound:
        log.warning("directive %s is gone; dropping its message", directive_id)
        return "skipped"
    if directive.status == "done":
        return "skipped"
    try:
        hub.directives.set_status(directive, "running", now_iso(), attempts=directive.attempts + 1)
    except ConditionFailed:
        return "skipped"  # a concurrent delivery finished it
    try:
        result = _run_once(hub, directive, DirectiveContext(hub, receive_count, final), lambda_context)
    except Exception as exc:
        status = "dead" if final else "failed"
        log.exception("directive %s (%s) %s on receive %d", directive.id, directive.topic, status, receive_count)
        _set_status(hub, directive, status, error=f"{type(exc).__name__}: {exc}")
        hub.registry.fire("directive.failed", directive, exc, {"attempt": receive_count})
        return status
    _set_status(hub, directive, "done", result=result)
    hub.registry.fire("directive.completed", directive, result, {"attempt": receive_count})
    return "done"


def _run_once(hub: Hub, directive: Directive, ctx: DirectiveContext, lambda_context: Any) -> dict[str, Any]:
    handler = hub.registry.handler(directive.topic)
    if handler is None:
        raise UnknownTopic(f"no handler registered for topic {directive.topic!r}")
    config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=hub.settings.idempotency_ttl_seconds,
                               lambda_context=lambda_context)

    @idempotent_function(data_keyword_argument="payload", persistence_store=hub.directive_idempotency, config=config,
                         key_prefix="omniman.directive")
    def run(payload: dict[str, Any]) -> dict[str, Any]:
        result = handler(directive, ctx)
        return result if isinstance(result, dict) else {"result": result}

    return run(payload={"id": directive.id})


def _set_status(hub: Hub, directive: Directive, status: str, *, result: dict[str, Any] | None = None,
                error: str | None = None) -> None:
    # A concurrent delivery may have finished it already; done stays done.
    with contextlib.suppress(ConditionFailed):
        hub.directives.set_status(directive, status, now_iso(), result=result, error=error)
