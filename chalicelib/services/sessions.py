"""Session use cases other than modify and commit: create, read, list, abandon."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.clock import now_iso
from ..domain.errors import InvalidInput
from ..domain.ids import new_id
from ..domain.limits import JsonObject
from ..domain.models import Key, Session
from ..domain.pipeline import ensure_open
from ..domain.reactions import reaction_directives
from ..storage.db import ConditionFailed, Page
from .hub import Hub
from .retry import optimistic
from .validation import parse

STATES = ("open", "committed", "abandoned")


class CreateSessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_key: Key | None = None
    data: JsonObject = Field(default_factory=dict)


def create(hub: Hub, channel_code: str, body: Any, actor: str) -> Session:
    req = parse(CreateSessionBody, body if body is not None else {})
    hub.channels.get(channel_code)
    now = now_iso()
    session = Session(
        session_key=req.session_key or new_id("S"),
        channel_code=channel_code,
        data=req.data,
        created_at=now,
        updated_at=now,
    )
    hub.sessions.create(session)
    hub.registry.fire("session.created", session, {"actor": actor})
    return session


def get(hub: Hub, channel_code: str, session_key: str) -> Session:
    return hub.sessions.get(channel_code, session_key)


def list_sessions(hub: Hub, channel_code: str, state: str | None, limit: int, cursor: str | None) -> Page:
    if state is not None and state not in STATES:
        raise InvalidInput(f"`state` must be one of {', '.join(STATES)}", code="invalid_filter")
    hub.channels.get(channel_code)
    return hub.sessions.list(channel_code, state, limit, cursor)


def abandon(hub: Hub, channel_code: str, session_key: str) -> Session:
    channel = hub.channels.get(channel_code)
    for _ in optimistic():
        session, seq = hub.sessions.get_with_seq(channel_code, session_key)
        ensure_open(session)
        now = now_iso()
        abandoned = session.model_copy(update={"state": "abandoned", "abandoned_at": now, "updated_at": now})
        # e.g. stock.release: written with the abandon itself, so holds are never left behind
        requests = hub.registry.reactions("session.abandoned", abandoned, channel, {})
        directives = reaction_directives(requests, [new_id("D") for _ in requests], now,
                                         channel_code=channel_code, session_key=session_key)
        try:
            if directives:
                hub.db.transact([hub.sessions.save_request(abandoned, session, seq),
                                 *hub.directives.create_requests(directives)])
            else:
                hub.sessions.save(abandoned, session, seq)
        except ConditionFailed:
            continue  # re-read: it was modified, committed or abandoned meanwhile
        hub.queue.dispatch(directives)
        return abandoned
    raise AssertionError("unreachable")
