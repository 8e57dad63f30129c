"""CommitService: a session becomes exactly one immutable order, once per idempotency key (I1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain import commit_rules
from ..domain.clock import now_iso
from ..domain.errors import Conflict, StaleRev
from ..domain.feed import SESSION_COMMITTED, order_changes, session_change
from ..domain.ids import new_id
from ..domain.lifecycle import handler_directives
from ..domain.ops import OpContext
from ..domain.pipeline import run_validators
from ..storage.db import ConditionFailed
from . import feed
from .hub import Hub
from .idempotency import IdempotencyKey, Once, resolve_key, run_once
from .retry import optimistic
from .sessions import read_with_channel
from .validation import parse


class CommitBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    idempotency_key: IdempotencyKey | None = None
    expected_rev: Annotated[int, Field(ge=0)] | None = None


def commit(hub: Hub, channel_code: str, session_key: str, body: Any, *, header_key: str | None,
           actor: str, lambda_context: Any = None) -> Once:
    req = parse(CommitBody, body if body is not None else {})
    key = resolve_key(header_key, req.idempotency_key, required=True, command="commit")
    return run_once(hub, key, command="commit", target={"channel_code": channel_code, "session_key": session_key},
                    body=req.model_dump(exclude={"idempotency_key"}), lambda_context=lambda_context,
                    run=lambda: _commit(hub, channel_code, session_key, req.expected_rev, key, actor))


def _commit(hub: Hub, channel_code: str, session_key: str, expected_rev: int | None, key: str,
            actor: str) -> dict[str, Any]:
    channel, session, seq = read_with_channel(hub, channel_code, session_key)
    read_rev: int | None = None
    for attempt in optimistic(10):
        if attempt:
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

        order, events = commit_rules.build_order(session, channel, new_id("O"), actor, now, idempotency_key=key)
        directive_ids = [new_id("D") for _ in channel.config.post_commit_directives]
        directives = commit_rules.post_commit_directives(order, channel, directive_ids, now)
        directives += handler_directives(events, channel.config.event_handlers, hub.registry,
                                         channel_code=channel_code, session_key=session_key, now=now)
        committed = session.model_copy(update={
            "state": "committed", "committed_at": now, "updated_at": now, "order_ref": order.ref,
        })
        changes = [*order_changes(channel_code, session_key, events),
                   session_change(SESSION_COMMITTED, channel_code, session_key, actor, now, order.ref)]
        try:
            # Order, its first events, the session's move to committed, the directives and the feed: all or nothing.
            sent = feed.write(hub, channel, changes, [
                hub.sessions.save_request(committed, session, seq),
                *hub.orders.create_requests(order, events),
                *hub.stats.change_requests(None, order),
                *hub.refs.move_requests(session, order),
            ], directives)
            break
        except ConditionFailed:
            # Re-read: committed or abandoned meanwhile is refused by check_committable; a new rev is refused
            # above; the same rev (a check result landed meanwhile) is committed again, checks and all.
            continue
    hub.queue.dispatch(sent)
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
