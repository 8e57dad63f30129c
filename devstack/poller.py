"""A local SQS event source mapping: what Lambda does for an `@app.on_sqs_message` handler, on a thread.

`chalice local` serves HTTP routes only, so the local stack polls each queue itself and calls the handler
exactly as Lambda would: the same event shape, a Lambda context, and ReportBatchItemFailures semantics
(the records the handler lists in `batchItemFailures` stay on the queue, the others are deleted). Failed
records return to the queue when their visibility ends (the worker sets its own retry backoff) and, after
the queue's maxReceiveCount receives, the emulator's redrive policy moves them to the dead-letter queue,
as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Iterable
from typing import Any

from .lambdas import Function

log = logging.getLogger(__name__)


class QueuePoller:
    def __init__(self, sqs: Any, queue_name: str, function: Function, *, batch_size: int = 10,
                 wait_seconds: int = 2):
        self.sqs = sqs
        self.queue_name = queue_name
        self.function = function
        self.batch_size = batch_size
        # Short long-polls: a stop request is noticed within this many seconds.
        self.wait_seconds = wait_seconds
        self.queue_url: str = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.queue_arn: str = sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.region: str = sqs.meta.region_name
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self, stop: threading.Event) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"poll-{self.queue_name}", daemon=True)
        self._thread.start()
        return self._thread

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # Keep polling, as the event source mapping does; an emulator that went away shows up here.
                log.exception("polling %s failed; retrying", self.queue_name)
                stop.wait(1)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # --- one receive -> invoke -> delete cycle -----------------------------------------------------------
    def poll_once(self) -> int:
        """Receives one batch, runs the handler on it, settles each record; returns how many were received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            WaitTimeSeconds=self.wait_seconds,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = lambda_event(messages, self.queue_arn, self.region)
        failed = self._invoke(event)
        # Failed records are left alone: they come back when their visibility ends, which the worker itself
        # shortens to its retry backoff (as it does on AWS).
        self._delete([m for m in messages if m["MessageId"] not in failed])
        return len(messages)

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """Message ids to retry, per the ReportBatchItemFailures contract."""
        ids = {r["messageId"] for r in event["Records"]}
        try:
            response = self.function.handler(event, self.function.context())
        except Exception:
            # An invocation error fails the whole batch, as in Lambda.
            log.exception("%s raised; the whole batch of %d returns to %s", self.function.name, len(ids),
                          self.queue_name)
            return ids
        return failed_ids(response, ids)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        resp = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        for failure in resp.get("Failed", []):
            log.warning("could not delete a message from %s: %s", self.queue_name, failure)


def failed_ids(response: Any, ids: set[str]) -> set[str]:
    """Lambda's reading of a handler response with ReportBatchItemFailures enabled.

    No response, or no/empty `batchItemFailures`: every record succeeded. An identifier that is missing,
    empty or not in the batch, or a response that is not an object, fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        log.error("handler returned %r, not an object: the whole batch fails", type(response).__name__)
        return set(ids)
    failures = response.get("batchItemFailures") or []
    listed = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    if not listed <= ids:
        log.error("batchItemFailures names records not in the batch (%s): the whole batch fails", listed - ids)
        return set(ids)
    return listed  # type: ignore[return-value]  # None was ruled out: ids holds strings only


def lambda_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from ReceiveMessage output (see the SQS event in the Lambda developer guide)."""
    return {"Records": [_record(m, queue_arn, region) for m in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        # ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp (+ FIFO/trace ones)
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {name: _attribute(value) for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    # The event spells message attributes in camelCase and carries binary values base64-encoded.
    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(b) for b in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = _b64(value["BinaryValue"])
    return out


def _b64(raw: bytes | str) -> str:
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
