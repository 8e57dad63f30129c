"""ResolveService: an issue's action, turned into ops by the resolver registered for the issue's source."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictInt

from ..domain.errors import NotFound, StaleRev, Unprocessable
from ..domain.models import Session
from . import modify
from .hub import Hub
from .validation import parse


class ResolveBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    issue_id: Annotated[str, Field(min_length=1)]
    action_id: Annotated[str, Field(min_length=1, validation_alias=AliasChoices("action_id", "action"))]
    expected_rev: Annotated[StrictInt, Field(ge=0)] | None = None


def resolve(hub: Hub, channel_code: str, session_key: str, body: Any, *, if_match: int | None,
            actor: str) -> Session:
    req = parse(ResolveBody, body)
    session = hub.sessions.get(channel_code, session_key)
    pinned = req.expected_rev if req.expected_rev is not None else if_match
    if pinned is not None and pinned != session.rev:
        raise StaleRev(session.rev, pinned)
    issue = next((i for i in session.issues if i.id == req.issue_id), None)
    if issue is None:
        raise NotFound(f"session has no issue {req.issue_id!r}", code="issue_not_found")
    action = next((a for a in issue.actions if a.id == req.action_id), None)
    if action is None:
        raise Unprocessable(f"issue {issue.id!r} offers no action {req.action_id!r}", code="unknown_action",
                            details={"actions": [a.id for a in issue.actions]})
    resolver = hub.registry.resolver(issue.source)
    check = hub.channels.get(channel_code).config.checks.get(issue.source)
    if resolver is None and check is not None:
        # A check may have any name on a channel: its directive topic names who can resolve its issues.
        resolver = hub.registry.resolver(check.directive_topic)
    if resolver is None:
        raise Unprocessable(f"no resolver is registered for {issue.source!r} issues", code="no_resolver")
    ops = resolver(session, issue, action, {"actor": actor})
    # Pinned to the rev the issue was seen at: an issue of an older rev is gone once the session moved.
    return modify.modify(hub, channel_code, session_key, ops, expected_rev=session.rev, actor=actor)
