"""Channel use cases: create, replace, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.clock import now_iso
from ..domain.errors import Conflict, Unprocessable
from ..domain.models import Channel, ChannelConfig, Code, EditPolicy, PricingPolicy
from ..storage.db import Page
from .hub import Hub
from .validation import parse


class ChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    pricing_policy: PricingPolicy = "internal"
    edit_policy: EditPolicy = "open"
    config: ChannelConfig = Field(default_factory=ChannelConfig)
    expected_version: int | None = None


def create(hub: Hub, body: Any) -> Channel:
    req = parse(ChannelBody, body)
    if req.code is None:
        raise Unprocessable("`code` is required", code="missing_code")
    _check_topics(hub, req.config)
    now = now_iso()
    channel = Channel(
        code=req.code, name=req.name, pricing_policy=req.pricing_policy, edit_policy=req.edit_policy,
        config=req.config, version=1, created_at=now, updated_at=now,
    )
    hub.channels.create(channel)
    return channel


def replace(hub: Hub, code: str, body: Any, if_match: int | None) -> Channel:
    req = parse(ChannelBody, body)
    if req.code is not None and req.code != code:
        raise Unprocessable("a channel's code cannot change", code="code_mismatch")
    _check_topics(hub, req.config)
    current = hub.channels.get(code)
    expected = req.expected_version if req.expected_version is not None else if_match
    if expected is not None and expected != current.version:
        raise Conflict("channel changed since it was read", code="stale_version",
                       details={"current_version": current.version})
    updated = current.model_copy(update={
        "name": req.name, "pricing_policy": req.pricing_policy, "edit_policy": req.edit_policy,
        "config": req.config, "version": current.version + 1, "updated_at": now_iso(),
    })
    hub.channels.replace(updated, expected_version=current.version)
    return updated


def get(hub: Hub, code: str) -> Channel:
    return hub.channels.get(code)


def list_channels(hub: Hub, limit: int, cursor: str | None) -> Page:
    return hub.channels.list(limit, cursor)


def _check_topics(hub: Hub, config: ChannelConfig) -> None:
    # A directive nobody handles would only ever reach the dead-letter queue: refuse it up front.
    topics = list(config.post_commit_directives) + [c.directive_topic for c in config.checks.values()]
    unknown = sorted({t for t in topics if not hub.registry.has_handler(t)})
    if unknown:
        raise Unprocessable(
            f"no directive handler is registered for: {', '.join(unknown)}",
            code="unknown_directive_topic",
            details={"topics": unknown},
        )
