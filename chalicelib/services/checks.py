"""SessionWriteService.apply_check_result: a check result lands only on the rev it was computed for (I13)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.clock import now_iso
from ..domain.commit_rules import check_directives
from ..domain.errors import Conflict, NotFound
from ..domain.ids import new_id
from ..domain.models import Check, Directive, Issue, Session
from ..domain.pipeline import ensure_open
from ..storage.db import ConditionFailed
from .hub import Hub
from .retry import optimistic
from .sessions import read_channel_and_stored_session, read_with_channel, session_or_not_found
from .validation import parse


class CheckResultBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    expected_rev: Annotated[int, Field(ge=0)]
    payload: dict[str, Any] = Field(default_factory=dict)
    issues: list[Issue] = Field(default_factory=list)


CheckOutcome = Literal["applied", "stale"]


def apply_check_result_from_body(hub: Hub, channel_code: str, session_key: str, check_code: str,
                                 body: Any) -> CheckOutcome:
    req = parse(CheckResultBody, body)
    return apply_check_result(hub, channel_code, session_key, check_code,
                              expected_rev=req.expected_rev, payload=req.payload, issues=req.issues)


def apply_check_result(hub: Hub, channel_code: str, session_key: str, check_code: str, *,
                       expected_rev: int, payload: dict[str, Any], issues: list[Issue]) -> CheckOutcome:
    """A result for another rev, or for a session no longer open, is dropped ("stale"), never merged."""
    channel, stored = read_channel_and_stored_session(hub, channel_code, session_key)
    if check_code not in channel.config.checks:
        raise NotFound(f"channel {channel_code!r} has no check {check_code!r}", code="check_not_found")
    session, seq = session_or_not_found(stored, channel_code, session_key)
    for attempt in optimistic():
        if attempt:
            session, seq = hub.sessions.get_with_seq(channel_code, session_key)
        if session.state != "open" or session.rev != expected_rev:
            return "stale"
        updated = session.model_copy(deep=True)
        updated.checks[check_code] = Check(rev=expected_rev, payload=payload, at=now_iso())
        # This check's issues replace its earlier ones; other sources' issues stay.
        updated.issues = [i for i in updated.issues if i.source != check_code] + [
            issue.model_copy(update={"source": check_code, "id": issue.id or f"{check_code}-{n}"})
            for n, issue in enumerate(issues, start=1)
        ]
        try:
            hub.sessions.save(updated, session, seq)
            return "applied"
        except ConditionFailed:
            continue
    raise AssertionError("unreachable")


def recheck(hub: Hub, channel_code: str, session_key: str) -> tuple[Session, list[Directive]]:
    """Sends the session's checks again for its current rev, without changing it (e.g. after holds expired).

    The directives go through the outbox like any other, so the request may end right after the write.
    """
    channel, session, _ = read_with_channel(hub, channel_code, session_key)
    ensure_open(session)
    if not session.items:
        raise Conflict("an empty session has nothing to check", code="empty_session")
    codes = list(channel.config.checks)
    directives = check_directives(session, channel, codes, [new_id("D") for _ in codes], now_iso())
    if directives:
        hub.db.transact(hub.directives.create_requests(directives))
        hub.queue.dispatch(directives)
    return session, directives
