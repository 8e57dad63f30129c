"""Who may do what: API key scopes, what each route requires, and the checks between them. Pure.

Scopes:
- `admin`: everything, key management included.
- `operator`: reads everything; retries and redrives directives; runs order commands on any channel.
- `channel:<code>`: that channel's sessions, orders, checks and resolves; `channel:<code>:read` reads only.
- `catalog:write`: stores, products, categories, stock counts.
- `price:override`: a client price on an `internal` channel (an audited override).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, NamedTuple

from .errors import Forbidden

ADMIN, OPERATOR, CATALOG_WRITE, PRICE_OVERRIDE = "admin", "operator", "catalog:write", "price:override"
GLOBAL_SCOPES = frozenset({ADMIN, OPERATOR, CATALOG_WRITE, PRICE_OVERRIDE})
SCOPE_PATTERN = re.compile(r"^(admin|operator|catalog:write|price:override|channel:[a-z0-9][a-z0-9_.-]{0,63}(:read)?)$")
_CHANNEL_SCOPE = re.compile(r"^channel:([a-z0-9][a-z0-9_.-]{0,63})(:read)?$")


class Principal(NamedTuple):
    """The caller: one API key, by id and name (never its secret or hash)."""

    key_id: str
    name: str
    scopes: frozenset[str]

    @property
    def admin(self) -> bool:
        return ADMIN in self.scopes

    @property
    def operator(self) -> bool:
        return self.admin or OPERATOR in self.scopes

    def has(self, scope: str) -> bool:
        return self.admin or scope in self.scopes

    def can_read(self, channel: str) -> bool:
        return self.operator or f"channel:{channel}" in self.scopes or f"channel:{channel}:read" in self.scopes

    def can_write(self, channel: str) -> bool:
        return self.admin or f"channel:{channel}" in self.scopes

    def can_command(self, channel: str) -> bool:
        """Order commands (transition, pay, ship, ...): the channel's own writers, or an operator."""
        return self.operator or self.can_write(channel)

    def visible_channels(self) -> frozenset[str] | None:
        """The channels whose data this key may list; None means every channel."""
        if self.operator:
            return None
        return frozenset(m.group(1) for m in map(_CHANNEL_SCOPE.match, self.scopes) if m)

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise Forbidden(f"this key lacks the {scope!r} scope", details={"required": scope})

    def require_read(self, channel: str) -> None:
        if not self.can_read(channel):
            raise Forbidden(f"this key may not read channel {channel!r}",
                            details={"required": f"channel:{channel}:read"})

    def require_write(self, channel: str) -> None:
        if not self.can_write(channel):
            raise Forbidden(f"this key may not change channel {channel!r}", details={"required": f"channel:{channel}"})

    def require_command(self, channel: str) -> None:
        if not self.can_command(channel):
            raise Forbidden(f"this key may not run commands on channel {channel!r} orders",
                            details={"required": f"channel:{channel} or operator"})


# The trusted caller of services run by the system itself (workers, resolvers, the local demo seed).
SYSTEM = Principal(key_id="system", name="system", scopes=frozenset({ADMIN}))


Kind = Literal["public", "signed", "key", "scope", "channel_read", "channel_write", "resource"]


class Access(NamedTuple):
    """What a route demands before it runs. `resource`: any valid key; the service checks the resource's
    channel once it has read it (an order's channel decides who may see or move it)."""

    kind: Kind
    scope: str | None = None
    param: str = "code"  # the path parameter naming the channel, for channel_read / channel_write

    def describe(self) -> str:
        return {"public": "none (public)", "signed": "the provider's webhook signature",
                "key": "any valid key", "resource": "any valid key; the resource's "
                "channel decides", "scope": f"scope {self.scope}", "channel_read": f"channel:{{{self.param}}}:read",
                "channel_write": f"channel:{{{self.param}}}"}[self.kind]


PUBLIC = Access("public")
# Provider webhooks: no key, the provider's HMAC signature over the body (checked by the service).
SIGNED = Access("signed")
ANY_KEY = Access("key")
RESOURCE = Access("resource")
CHANNEL_READ = Access("channel_read")
CHANNEL_WRITE = Access("channel_write")


def scope(name: str) -> Access:
    if name not in GLOBAL_SCOPES:
        raise ValueError(f"unknown scope {name!r}")
    return Access("scope", scope=name)


def authorize(principal: Principal, access: Access, path_params: Mapping[str, str]) -> None:
    """What the route itself can decide; `resource` routes are checked again by their service."""
    if access.kind == "scope" and access.scope:
        principal.require(access.scope)
    elif access.kind == "channel_read":
        principal.require_read(path_params.get(access.param, ""))
    elif access.kind == "channel_write":
        principal.require_write(path_params.get(access.param, ""))
