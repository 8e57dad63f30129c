"""Makes moto's DynamoDB apply each request atomically, as DynamoDB does.

moto evaluates a ConditionExpression and then writes without a lock, so two threads can both pass the
same condition: a lost update real DynamoDB never allows. Serialising moto's DynamoDB request handling
restores the per-request atomicity the product's conditional writes rely on, for the local stack and
for the concurrency tests alike. It changes the emulator only, never the application code.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


def make_dynamodb_atomic() -> None:
    if getattr(DynamoHandler.call_action, "_omniman_atomic", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            return original(self)

    call_action._omniman_atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
