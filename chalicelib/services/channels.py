"""Channel use cases: create, replace, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..domain.access import Principal
from ..domain.clock import now_iso
from ..domain.errors import Conflict, PreconditionRequired, Unprocessable
from ..domain.models import Channel, ChannelConfig, Code, EditPolicy, PricingPolicy
from ..storage.db import Page
from .hub import Hub
from .validation import parse

# A channel is one DynamoDB item (400 KB at most) read by every request on it, and each check's config is copied
# into that check's directives next to a session's lines: a config stays far below the item limit.
MAX_CONFIG_BYTES = 64_000


class ChannelBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    code: Code | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    pricing_policy: PricingPolicy = "internal"
    edit_policy: EditPolicy = "open"
    config: ChannelConfig = Field(default_factory=ChannelConfig)
    expected_version: Annotated[StrictInt, Field(ge=0)] | None = None


def create(hub: Hub, body: Any) -> Channel:
    req = parse(ChannelBody, body)
    if req.code is None:
        raise Unprocessable("`code` is required", code="missing_code")
    _check_size(req.config)
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
    expected = req.expected_version if req.expected_version is not None else if_match
    if expected is None:
        # A replace rewrites the whole channel (pricing, checks, flow): unpinned, it would undo a concurrent edit.
        raise PreconditionRequired(
            'replacing a channel needs the version it replaces: If-Match: "<version>" or `expected_version`',
        )
    _check_size(req.config)
    _check_topics(hub, req.config)
    current = hub.channels.get(code)
    if expected != current.version:
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


def list_channels(hub: Hub, limit: int, cursor: str | None, caller: Principal) -> Page:
    visible = caller.visible_channels()
    if visible is None:
        return hub.channels.list(limit, cursor)
    # A channel key sees the channels its scopes name: a handful, read in one batch, one page.
    found = hub.channels.get_many(sorted(visible))
    return Page([c.model_dump(mode="json") for c in found], None)


def _check_size(config: ChannelConfig) -> None:
    size = len(config.model_dump_json().encode())
    if size > MAX_CONFIG_BYTES:
        raise Unprocessable(f"a channel's config may take at most {MAX_CONFIG_BYTES} bytes as JSON",
                            code="channel_too_large", details={"bytes": size, "max_bytes": MAX_CONFIG_BYTES})


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
    handlers = sorted({n for n in config.event_handlers if not hub.registry.has_event_handler(n)})
    if handlers:
        raise Unprocessable(f"no event handler is registered as: {', '.join(handlers)}",
                            code="unknown_event_handler", details={"handlers": handlers})
    for kind in ("payment", "shipping"):
        section: Any = getattr(config, kind, None)
        name = section.get("backend") if isinstance(section, dict) else None
        if name is None or name == "manual":
            continue
        try:
            hub.registry.backend(kind, str(name))
        except LookupError:
            raise Unprocessable(f"no {kind} backend is registered as {name!r}", code="unknown_backend",
                                details={kind: name}) from None
