"""Directive drain figures on the embedded emulator: 200 directives through the local SQS worker loop.

Run with `make bench`. Prints figures; never fails on a timing. moto is far slower than SQS and DynamoDB,
so these compare changes to this code, not this code to production.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3

from benchmarks.emulated import Calls, emulated_hub
from devstack.lambdas import Function
from devstack.poller import QueuePoller

COUNT = 200


def enqueue(hub: Any, count: int, tag: str) -> list[str]:
    from chalicelib.domain.clock import now_iso
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.models import Directive

    now = now_iso()
    directives = [Directive(id=new_id("D"), topic="notification.send", payload={"n": i, "run": tag},
                            created_at=now, updated_at=now) for i in range(count)]
    for start in range(0, count, 50):  # the outbox write, 50 per transaction as commits would
        hub.db.transact(hub.directives.create_requests(directives[start:start + 50]))
    assert hub.queue.dispatch(directives) == count
    return [d.id for d in directives]


def drain(hub: Any, pollers: int) -> float:
    from chalicelib.directives import worker

    def handler(event: dict[str, Any], context: Any) -> Any:
        return worker.handle_batch(hub, event, context)

    started = time.perf_counter()
    threads = []
    for _ in range(pollers):
        poller = QueuePoller(boto3.client("sqs"), hub.settings.directives_queue,
                             Function("directive_worker", handler), wait_seconds=0)
        thread = threading.Thread(target=lambda p=poller: _until_empty(p))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _until_empty(poller: QueuePoller) -> None:
    misses = 0
    while misses < 2:  # moto may briefly hide in-flight messages from a concurrent receive
        misses = misses + 1 if poller.poll_once() == 0 else 0


def main() -> None:
    with emulated_hub() as hub:
        calls = Calls(hub.db.client)
        print(f"{COUNT} notification.send directives, written to the outbox, sent, drained by the local worker loop")
        for pollers in (1, 2):
            ids = enqueue(hub, COUNT, f"p{pollers}")
            calls.take()
            elapsed = drain(hub, pollers)
            per_directive = sum(calls.take().values()) / COUNT
            statuses = {hub.directives.get(i).status for i in ids}
            print(f"  {pollers} poller(s): {COUNT / elapsed:.0f} directives/s ({elapsed:.1f} s), "
                  f"{per_directive:.1f} DynamoDB requests per directive, statuses {sorted(statuses)}")


if __name__ == "__main__":
    main()
