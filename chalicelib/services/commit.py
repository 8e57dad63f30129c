"""CommitService: a session becomes exactly one immutable order, once per idempotency key (I1)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel, ConfigDict, Field

from ..domain import commit_rules
from ..domain.clock import now_iso
from ..domain.errors import Conflict, InvalidInput, StaleRev, Unprocessable
from ..domain.ids import new_id
from ..domain.ops import OpContext
from ..domain.pipeline import run_validators
from ..storage.db import ConditionFailed
from .hub import Hub
from .retry import optimistic
from .validation import parse

IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
REPLAYED = "__replayed__"


class CommitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: IdempotencyKey | None = None
    expected_rev: Annotated[int, Field(ge=0)] | None = None


class CommitOutcome(BaseModel):
    result: dict[str, Any]
    replayed: bool


def commit(hub: Hub, channel_code: str, session_key: str, body: Any, *, header_key: str | None,
           actor: str, lambda_context: Any = None) -> CommitOutcome:
    req = parse(CommitBody, body if body is not None else {})
    key = _idempotency_key(header_key, req.idempotency_key)
    request = {
        "idempotency_key": key,
        "channel_code": channel_code,
        "session_key": session_key,
        # What must match for a replay: the target session and the request, not who sent it.
        "body": req.model_dump(exclude={"idempotency_key"}),
    }
    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        payload_validation_jmespath="[channel_code, session_key, body]",
        expires_after_seconds=hub.settings.idempotency_ttl_seconds,
        response_hook=_mark_replayed,
        # With the Lambda context, an in-flight record expires with the function's timeout, so a commit whose
        # process died does not lock its key for a day.
        lambda_context=lambda_context,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=hub.commit_idempotency, config=config,
                         key_prefix="omniman.commit")
    def commit_once(request: dict[str, Any]) -> dict[str, Any]:
        return _commit(hub, request["channel_code"], request["session_key"], req.expected_rev, key, actor)

    deadline = time.monotonic() + hub.settings.commit_inflight_wait_ms / 1000
    while True:
        try:
            result = dict(commit_once(request=request))
        except IdempotencyValidationError:
            raise Unprocessable(
                "this idempotency key was already used for a different commit request",
                code="idempotency_key_reused",
            ) from None
        except IdempotencyAlreadyInProgressError:
            # A double-tapped checkout usually finishes within moments: wait for it and replay its answer.
            if time.monotonic() >= deadline:
                raise Conflict("a commit with this idempotency key is still in progress; retry shortly",
                               code="idempotency_in_progress") from None
            time.sleep(0.05)
            continue
        replayed = bool(result.pop(REPLAYED, False))
        return CommitOutcome(result=result, replayed=replayed)


def _idempotency_key(header_key: str | None, body_key: str | None) -> str:
    if header_key and body_key and header_key != body_key:
        raise InvalidInput("Idempotency-Key header and body idempotency_key differ", code="idempotency_key_mismatch")
    key = header_key or body_key
    if not key:
        raise InvalidInput(
            "commit requires an idempotency key (Idempotency-Key header or body idempotency_key)",
            code="missing_idempotency_key",
        )
    parse(CommitBody, {"idempotency_key": key})
    return key


def _mark_replayed(response: Any, data_record: Any) -> Any:
    return {**response, REPLAYED: True}


def _commit(hub: Hub, channel_code: str, session_key: str, expected_rev: int | None, key: str,
            actor: str) -> dict[str, Any]:
    channel = hub.channels.get(channel_code)
    read_rev: int | None = None
    for _ in optimistic(10):
        session, seq = hub.sessions.get_with_seq(channel_code, session_key)
        pinned = expected_rev if expected_rev is not None else read_rev
        if pinned is not None and session.rev != pinned:
            if expected_rev is not None:
                raise StaleRev(session.rev, expected_rev)
            raise Conflict("session changed while committing; re-run its checks and retry",
                           code="session_changed", details={"current_rev": session.rev})
        read_rev = session.rev
        now = now_iso()
        commit_rules.check_committable(session, channel, now)
        run_validators(session, channel, OpContext(channel=channel, actor=actor, now=now), hub.registry, "commit")

        order, events = commit_rules.build_order(session, channel, new_id("O"), actor, now)
        directive_ids = [new_id("D") for _ in channel.config.post_commit_directives]
        directives = commit_rules.post_commit_directives(order, channel, directive_ids, now)
        committed = session.model_copy(update={
            "state": "committed", "committed_at": now, "updated_at": now, "order_ref": order.ref,
        })
        try:
            # Order, its first events, the session's move to committed and the directives: all or nothing.
            hub.db.transact([
                hub.sessions.save_request(committed, session, seq),
                *hub.orders.create_requests(order, events),
                *hub.directives.create_requests(directives),
            ])
            break
        except ConditionFailed:
            # Re-read: committed or abandoned meanwhile is refused by check_committable; a new rev is refused
            # above; the same rev (a check result landed meanwhile) is committed again, checks and all.
            continue
    hub.queue.dispatch(directives)
    hub.registry.fire("session.committed", committed, order, {"actor": actor})
    hub.registry.fire("order.created", order, {"actor": actor})
    return {
        "order_ref": order.ref,
        "status": order.status,
        "total_q": order.total_q,
        "items_count": len(order.items),
        "channel_code": channel_code,
        "session_key": session_key,
        "idempotency_key": key,
        "directives": [d.id for d in directives],
    }
