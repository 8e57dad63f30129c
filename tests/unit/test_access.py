"""Scopes against what routes require: pure, no AWS."""

from __future__ import annotations

import pytest

from chalicelib.domain.access import (
    ANY_KEY,
    CHANNEL_READ,
    CHANNEL_WRITE,
    RESOURCE,
    SCOPE_PATTERN,
    Principal,
    authorize,
    scope,
)
from chalicelib.domain.errors import Forbidden


def key(*scopes: str) -> Principal:
    return Principal(key_id="k", name="k", scopes=frozenset(scopes))


@pytest.mark.parametrize(("scopes", "read", "write", "command", "visible"), [
    (("admin",), True, True, True, None),
    (("operator",), True, False, True, None),
    (("channel:pos",), True, True, True, {"pos"}),
    (("channel:pos:read",), True, False, False, {"pos"}),
    (("channel:web",), False, False, False, {"web"}),
    (("catalog:write",), False, False, False, set()),
])
def test_what_each_scope_reaches_on_the_pos_channel(scopes, read, write, command, visible):
    principal = key(*scopes)
    assert (principal.can_read("pos"), principal.can_write("pos"), principal.can_command("pos")) == (read, write,
                                                                                                     command)
    assert principal.visible_channels() == (None if visible is None else frozenset(visible))


def test_route_requirements_use_the_path_channel():
    till = key("channel:pos")
    authorize(till, CHANNEL_WRITE, {"code": "pos"})
    authorize(till, CHANNEL_READ, {"code": "pos"})
    authorize(till, ANY_KEY, {})
    authorize(till, RESOURCE, {"ref": "O-1"})  # decided by the service, once it has read the order
    with pytest.raises(Forbidden):
        authorize(till, CHANNEL_WRITE, {"code": "web"})
    with pytest.raises(Forbidden):
        authorize(key("channel:pos:read"), CHANNEL_WRITE, {"code": "pos"})
    with pytest.raises(Forbidden) as refused:
        authorize(till, scope("operator"), {})
    assert refused.value.details == {"required": "operator"}
    authorize(key("admin"), scope("operator"), {})


def test_the_scope_grammar():
    good = ["admin", "operator", "catalog:write", "price:override", "channel:pos", "channel:my-shop_2.eu:read"]
    bad = ["root", "channel:", "channel:POS", "channel:pos:write", "channel:pos:read:x", "admin ", "catalog:read"]
    assert all(SCOPE_PATTERN.match(s) for s in good)
    assert not any(SCOPE_PATTERN.match(s) for s in bad)
    with pytest.raises(ValueError):
        scope("channel:pos")  # channel scopes come from the path, never a fixed route requirement
