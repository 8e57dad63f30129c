"""Hands directives to SQS. A send that fails leaves the directive in the outbox for the relay."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.models import Directive
from ..storage.directives import DirectiveStore

log = logging.getLogger(__name__)


class DirectiveQueue:
    def __init__(self, sqs: Any, queue_names: dict[str, str], store: DirectiveStore):
        self.sqs = sqs
        self.queue_names = queue_names
        self.store = store
        self._urls: dict[str, str] = {}

    def url(self, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = self.sqs.get_queue_url(QueueName=self.queue_names[queue])["QueueUrl"]
        return self._urls[queue]

    def retry_later(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Sets when a failed record comes back; best effort: if it fails, the queue's visibility timeout rules."""
        name = queue_arn.rsplit(":", 1)[-1]
        try:
            if name not in self._urls:
                self._urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.sqs.change_message_visibility(QueueUrl=self._urls[name], ReceiptHandle=receipt_handle,
                                               VisibilityTimeout=seconds)
        except (BotoCoreError, ClientError):
            log.exception("could not set the retry delay of a record of %s", name)

    def dispatch(self, directives: list[Directive]) -> int:
        """Sends what it can and returns how many reached their queue; never raises for a send failure."""
        by_queue: dict[str, list[Directive]] = defaultdict(list)
        for directive in directives:
            by_queue[directive.queue].append(directive)
        sent = 0
        for queue, batch in by_queue.items():
            for start in range(0, len(batch), 10):
                sent += self._send_batch(queue, batch[start:start + 10])
        return sent

    def _send_batch(self, queue: str, batch: list[Directive]) -> int:
        try:
            resp = self.sqs.send_message_batch(
                QueueUrl=self.url(queue),
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps({"directive_id": d.id, "topic": d.topic})}
                    for i, d in enumerate(batch)
                ],
            )
        except (BotoCoreError, ClientError):
            log.exception("could not enqueue %d directives; the outbox relay will retry", len(batch))
            return 0
        sent = 0
        for ok in resp.get("Successful", []):
            self.store.mark_enqueued(batch[int(ok["Id"])].id)
            sent += 1
        return sent
