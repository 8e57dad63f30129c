"""Direct atomic orders and order statistics."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from ..services import direct_orders, order_stats
from ..services.hub import Hub
from . import wire
from .endpoint import endpoint
from .guard import principal
from .replay import once


@endpoint
def create_order(request: Request, hub: Hub) -> Response:
    caller = principal(request)
    actor = wire.actor(request, caller.name)

    def run(body: Any, key: str | None) -> tuple[int, dict[str, Any]]:
        assert key is not None
        order = direct_orders.place(hub, body, actor=actor, caller=caller, key=key)
        return 201, order.model_dump(mode="json", by_alias=True)

    return once(request, hub, "direct_order", {}, run)


@endpoint
def stats(request: Request, hub: Hub) -> Response:
    return wire.respond(order_stats.stats(hub, channel=wire.query(request, "channel"),
                                          store=wire.query(request, "store"), first=wire.query(request, "from"),
                                          last=wire.query(request, "to"), caller=principal(request)))
