"""The change feed's route adapter."""

from __future__ import annotations

from chalice.app import Request, Response

from ..services import changes
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint
from .guard import principal


@endpoint
def changes_after(request: Request, hub: Hub) -> Response:
    page = changes.read(hub, principal(request), after=wire.query(request, "after"),
                        channel=wire.query(request, "channel"), types=wire.query(request, "types"),
                        limit=clamp_limit(wire.query(request, "limit")), wait=wire.query(request, "wait"))
    return wire.respond({"items": page.items, "next_cursor": page.next_cursor})
