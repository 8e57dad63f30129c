"""The SQS side of directives: sending, retry delays, dead-lettering and moving dead letters back.

A directive stays in the outbox until a delivery claims it, so a send that fails, or a message that never arrives,
leaves it there for the relay; nothing here loses a directive, and a send writes nothing back to the table.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.models import Directive
from ..storage.directives import due_at

MAX_DELAY_SECONDS = 900  # SQS's limit

log = logging.getLogger(__name__)

QUEUES = ("directives", "checks")


class DeadLetter(NamedTuple):
    """A message received from a dead-letter queue, still to be settled with `settle_dead_letter`."""

    queue: str
    body: str
    receipt_handle: str

    @property
    def directive_id(self) -> str | None:
        try:
            value = json.loads(self.body)["directive_id"]
        except (ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, str) else None


class DirectiveQueue:
    def __init__(self, sqs: Any, queue_names: dict[str, str]):
        self.sqs = sqs
        self.queue_names = queue_names
        self._urls: dict[str, str] = {}
        self._dlq_urls: dict[str, str] = {}

    def url(self, queue: str) -> str:
        """`queue` is a logical name (directives, checks) or a real queue name."""
        name = self.queue_names.get(queue, queue)
        if name not in self._urls:
            self._urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[name]

    def dead_letter_url(self, queue: str) -> str:
        """The queue's DLQ, read from its redrive policy: the infra template is the one place that pairs them."""
        if queue not in self._dlq_urls:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.url(queue), AttributeNames=["RedrivePolicy"])
            arn = json.loads(attrs["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
            self._dlq_urls[queue] = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        return self._dlq_urls[queue]

    def retry_later(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Sets when a failed record comes back; best effort: if it fails, the queue's visibility timeout rules."""
        try:
            self.sqs.change_message_visibility(QueueUrl=self.url(_name(queue_arn)), ReceiptHandle=receipt_handle,
                                               VisibilityTimeout=seconds)
        except (BotoCoreError, ClientError):
            log.exception("could not set the retry delay of a record of %s", _name(queue_arn))

    def dead_letter(self, queue_arn: str, body: str, reason: str) -> None:
        """Moves a message to its queue's DLQ now, with why; raises if SQS refuses (the record is then retried)."""
        self.sqs.send_message(
            QueueUrl=self.dead_letter_url(_name(queue_arn)),
            MessageBody=body,
            MessageAttributes={"dead_reason": {"DataType": "String", "StringValue": reason[:1000] or "-"}},
        )

    def dispatch(self, directives: list[Directive]) -> int:
        """Sends what it can and returns how many reached their queue; never raises for a send failure."""
        return len(self.send(directives))

    def send(self, directives: list[Directive]) -> list[Directive]:
        """Sends what it can, each held back for what remains of its delay; returns those that reached a queue."""
        by_queue: dict[str, list[Directive]] = defaultdict(list)
        for directive in directives:
            by_queue[directive.queue].append(directive)
        sent: list[Directive] = []
        now = datetime.now(UTC)
        for queue, batch in by_queue.items():
            for start in range(0, len(batch), 10):
                sent += self._send_batch(queue, batch[start:start + 10], now)
        return sent

    def _send_batch(self, queue: str, batch: list[Directive], now: datetime) -> list[Directive]:
        entries = []
        for i, directive in enumerate(batch):
            delay = remaining_delay(directive, now)
            entries.append({"Id": str(i), "MessageBody": message_body(directive),
                            **({"DelaySeconds": delay} if delay else {})})
        try:
            resp = self.sqs.send_message_batch(QueueUrl=self.url(queue), Entries=entries)
        except (BotoCoreError, ClientError):
            log.exception("could not enqueue %d directives; the outbox relay will retry", len(batch))
            return []
        failed = resp.get("Failed", [])
        if failed:
            log.error("SQS refused %d of %d directives; the outbox relay will retry", len(failed), len(batch))
        return [batch[int(ok["Id"])] for ok in resp.get("Successful", [])]

    # --- dead-letter queues ------------------------------------------------------------------------------
    def receive_dead_letters(self, queue: str, max_messages: int) -> list[DeadLetter]:
        # Hidden for a minute while being settled: one redrive never sees the same message twice.
        resp = self.sqs.receive_message(QueueUrl=self.dead_letter_url(queue), MaxNumberOfMessages=min(max_messages, 10),
                                        WaitTimeSeconds=0, VisibilityTimeout=60)
        return [DeadLetter(queue, m["Body"], m["ReceiptHandle"]) for m in resp.get("Messages", [])]

    def release_dead_letter(self, letter: DeadLetter) -> None:
        """Makes a letter that stays visible again at once, for the next look at the queue."""
        self.sqs.change_message_visibility(QueueUrl=self.dead_letter_url(letter.queue),
                                           ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)

    def delete_dead_letter(self, letter: DeadLetter) -> None:
        self.sqs.delete_message(QueueUrl=self.dead_letter_url(letter.queue), ReceiptHandle=letter.receipt_handle)


def message_body(directive: Directive) -> str:
    # The topic rides along so the worker can tell a directive nobody handles without reading it first.
    return json.dumps({"directive_id": directive.id, "topic": directive.topic})


def remaining_delay(directive: Directive, now: datetime) -> int:
    """Seconds until the directive is due: its whole delay when sent as it is written, none once it is due (the
    relay, a retry), so that it never runs before it is due and never waits twice."""
    if not directive.delay_seconds:
        return 0
    try:
        due = datetime.fromisoformat(due_at(directive))
    except ValueError:
        return directive.delay_seconds
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)  # the product writes UTC ("...Z"); a bare time is read as UTC too
    return max(0, min(MAX_DELAY_SECONDS, math.ceil((due - now).total_seconds())))


def _name(queue_arn: str) -> str:
    return queue_arn.rsplit(":", 1)[-1]
