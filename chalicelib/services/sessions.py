"""Session use cases other than modify and commit: create, read, list, abandon."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.clock import now_iso
from ..domain.errors import InvalidInput, NotFound
from ..domain.feed import SESSION_ABANDONED, session_change
from ..domain.ids import new_id
from ..domain.limits import JsonObject
from ..domain.models import Channel, Key, Refs, Session
from ..domain.pipeline import ensure_open
from ..domain.reactions import reaction_directives
from ..domain.refs import session_holder
from ..storage import keys
from ..storage.db import ConditionFailed, Page
from ..storage.sessions import from_stored
from . import feed
from .hub import Hub
from .retry import optimistic
from .validation import parse

STATES = ("open", "committed", "abandoned")


class CreateSessionBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    session_key: Key | None = None
    data: JsonObject = Field(default_factory=dict)
    # External references claimed with the session: an importer's second try with the same one is 409 `ref_taken`.
    refs: Refs = Field(default_factory=dict)


def create(hub: Hub, channel_code: str, body: Any, actor: str) -> Session:
    req = parse(CreateSessionBody, body if body is not None else {})
    hub.channels.get(channel_code)
    now = now_iso()
    session = Session(
        session_key=req.session_key or new_id("S"),
        channel_code=channel_code,
        data=req.data,
        refs=req.refs,
        created_at=now,
        updated_at=now,
    )
    if session.refs:
        _create_with_refs(hub, session, now)
    else:
        hub.sessions.create(session)
    hub.registry.fire("session.created", session, {"actor": actor})
    return session


def _create_with_refs(hub: Hub, session: Session, now: str) -> None:
    holder = session_holder(session)
    for _ in optimistic(10):
        hub.refs.ensure_free(session.refs, holder)
        try:
            hub.db.transact([hub.sessions.create_request(session), *hub.refs.claim_requests(session.refs, holder, now)])
            return
        except ConditionFailed as exc:
            if exc.reasons and exc.reasons[0]["code"] == "ConditionalCheckFailed":
                raise hub.sessions.exists_error(session) from None
            # A reference was claimed meanwhile: the next look names its holder.


def get(hub: Hub, channel_code: str, session_key: str) -> Session:
    return hub.sessions.get(channel_code, session_key)


def read_with_channel(hub: Hub, channel_code: str, session_key: str) -> tuple[Channel, Session, int]:
    """The channel, the session and its `write_seq`, in one round trip: what every session write starts from."""
    channel, stored = read_channel_and_stored_session(hub, channel_code, session_key)
    session, seq = session_or_not_found(stored, channel_code, session_key)
    return channel, session, seq


def read_channel_and_stored_session(hub: Hub, channel_code: str,
                                    session_key: str) -> tuple[Channel, dict[str, Any] | None]:
    """The channel and the stored session item (None if there is none) in one strongly consistent BatchGetItem.

    Consistent, so the channel's policies (pricing, edit policy, checks) are as fresh as the GetItem of it used to
    be, and the session as fresh as the write conditional on it needs. An unknown channel is reported first, as
    when the two were read one after the other.
    """
    found = hub.db.batch_get([keys.channel(channel_code), keys.session(channel_code, session_key)], consistent=True)
    # Keys come back stripped: the session item is the one with a `doc` (a Channel forbids unknown fields).
    stored_channel = next((item for item in found if "doc" not in item), None)
    if stored_channel is None:
        raise NotFound(f"channel {channel_code!r} does not exist", code="channel_not_found")
    return Channel.model_validate(stored_channel), next((item for item in found if "doc" in item), None)


def session_or_not_found(stored: dict[str, Any] | None, channel_code: str, session_key: str) -> tuple[Session, int]:
    if stored is None:
        raise NotFound(f"session {session_key!r} does not exist in channel {channel_code!r}",
                       code="session_not_found")
    return from_stored(stored)


def list_sessions(hub: Hub, channel_code: str, state: str | None, limit: int, cursor: str | None) -> Page:
    if state is not None and state not in STATES:
        raise InvalidInput(f"`state` must be one of {', '.join(STATES)}", code="invalid_filter")
    hub.channels.get(channel_code)
    return hub.sessions.list(channel_code, state, limit, cursor)


def abandon(hub: Hub, channel_code: str, session_key: str, actor: str = "system") -> Session:
    channel, session, seq = read_with_channel(hub, channel_code, session_key)
    for attempt in optimistic():
        if attempt:
            session, seq = hub.sessions.get_with_seq(channel_code, session_key)
        ensure_open(session)
        now = now_iso()
        abandoned = session.model_copy(update={"state": "abandoned", "abandoned_at": now, "updated_at": now})
        # e.g. stock.release: written with the abandon itself, so holds are never left behind
        requests = hub.registry.reactions("session.abandoned", abandoned, channel, {})
        directives = reaction_directives(requests, [new_id("D") for _ in requests], now,
                                         channel_code=channel_code, session_key=session_key)
        change = session_change(SESSION_ABANDONED, channel_code, session_key, actor, now)
        # Its references are given up with it (the session keeps them as a record), so they can be used again.
        writes = [hub.sessions.save_request(abandoned, session, seq),
                  *hub.refs.release_requests(session.refs, session_holder(session))]
        try:
            sent = feed.write(hub, channel, [change], writes, directives)
        except ConditionFailed:
            continue  # re-read: it was modified, committed or abandoned meanwhile
        hub.queue.dispatch(sent)
        return abandoned
    raise AssertionError("unreachable")
