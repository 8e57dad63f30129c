"""Exactly once per idempotency key, for every state-changing command: commit, transition, abandon, resolve,
retry, pay, cancel, ship, deliver, refund (Powertools idempotency on the idempotency table).

The contract, the same for all: the first answer is stored and a repeat with the same key and the same request
replays it (`replayed`); the same key with another request (another command, target or body) is 422
`idempotency_key_reused`; a repeat while the first is still running waits briefly, then is 409
`idempotency_in_progress` with Retry-After; a refused command (any DomainError) stores nothing, so the key can be
used again at once. Keys are one namespace across commands, as a client's retry keys are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from pydantic import Field, TypeAdapter, ValidationError

from ..domain.errors import Conflict, InvalidInput, Unprocessable
from .hub import Hub

IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
_KEY = TypeAdapter(IdempotencyKey)
REPLAYED = "__replayed__"
PREFIX = "omniman.command"


class Once(NamedTuple):
    result: dict[str, Any]
    replayed: bool


def resolve_key(header_key: str | None, body_key: str | None = None, *, required: bool = False,
                command: str = "this command") -> str | None:
    if header_key and body_key and header_key != body_key:
        raise InvalidInput("Idempotency-Key header and body idempotency_key differ", code="idempotency_key_mismatch")
    key = header_key or body_key
    if not key:
        if required:
            raise InvalidInput(f"{command} requires an idempotency key (Idempotency-Key header)",
                               code="missing_idempotency_key")
        return None
    try:
        return _KEY.validate_python(key)
    except ValidationError:
        raise InvalidInput("an idempotency key is 1-200 printable ASCII characters without spaces",
                           code="invalid_idempotency_key") from None


def run_once(hub: Hub, key: str | None, *, command: str, target: dict[str, Any], body: Any,
             run: Callable[[], dict[str, Any]], lambda_context: Any = None) -> Once:
    """Runs `run` once per key; without a key it simply runs (the command is then not protected)."""
    if key is None:
        return Once(run(), False)
    # Imported by the first command: app.py names the command bodies this module serves (for their contracts), and
    # a cold start of any function need not load Powertools idempotency for that.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    request = {"idempotency_key": key, "command": command, "target": target, "body": body}
    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        # What must match for a replay: the command, what it acts on and what it was asked; not who sent it.
        payload_validation_jmespath="[command, target, body]",
        expires_after_seconds=hub.settings.idempotency_ttl_seconds,
        response_hook=_mark_replayed,
        # With the Lambda context, an in-flight record expires with the function's timeout, so a command whose
        # process died does not lock its key for a day.
        lambda_context=lambda_context,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=hub.idempotency, config=config,
                         key_prefix=PREFIX)
    def once(request: dict[str, Any]) -> dict[str, Any]:
        return run()

    deadline = time.monotonic() + hub.settings.commit_inflight_wait_ms / 1000
    while True:
        try:
            result = dict(once(request=request))
        except IdempotencyValidationError:
            raise Unprocessable("this idempotency key was already used for a different request",
                                code="idempotency_key_reused") from None
        except IdempotencyAlreadyInProgressError:
            # A double tap usually finishes within moments: wait for it and replay its answer.
            if time.monotonic() >= deadline:
                raise Conflict("a request with this idempotency key is still in progress; retry shortly",
                               code="idempotency_in_progress", headers={"Retry-After": "1"}) from None
            time.sleep(0.05)
            continue
        replayed = bool(result.pop(REPLAYED, False))
        return Once(result, replayed)


def _mark_replayed(response: Any, data_record: Any) -> Any:
    return {**response, REPLAYED: True}
