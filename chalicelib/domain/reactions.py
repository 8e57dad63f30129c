"""Directives asked for by reactions to a state change (abandon, status change). Pure."""

from __future__ import annotations

from .models import Directive
from .registry import DirectiveRequest


def reaction_directives(requests: list[DirectiveRequest], ids: list[str], now: str, *, channel_code: str,
                        session_key: str, order_ref: str | None = None) -> list[Directive]:
    return [
        Directive(id=directive_id, topic=topic, payload=payload, channel_code=channel_code, session_key=session_key,
                  order_ref=order_ref, created_at=now, updated_at=now)
        for (topic, payload), directive_id in zip(requests, ids, strict=True)
    ]
