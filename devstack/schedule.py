"""A local EventBridge schedule: calls an `@app.schedule` handler every few seconds on a thread.

Lambda gets a scheduled event and a context; the handler is called the same way here. The deployed rate
(1 minute) is shortened locally so the outbox relay's effect is visible while trying things out.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from .lambdas import Function

log = logging.getLogger(__name__)


class Every:
    def __init__(self, seconds: float, function: Function, region: str):
        self.seconds = seconds
        self.function = function
        self.region = region
        self._thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"every-{self.function.name}",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def run(self, stop: threading.Event) -> None:
        # First run after one period: at start-up there is nothing in the outbox yet.
        while not stop.wait(self.seconds):
            self.fire()

    def fire(self) -> Any:
        try:
            return self.function.handler(scheduled_event(self.region), self.function.context())
        except Exception:
            # A failed scheduled invocation is simply tried again at the next tick, as on AWS.
            log.exception("%s failed", self.function.name)
            return None

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def scheduled_event(region: str) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" shape Chalice's CloudWatchEvent reads."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {},
    }
