"""Search and autocomplete route adapters; autocomplete is limited per client IP, as the seed does."""

from __future__ import annotations

from chalice.app import Request, Response

from ..domain.errors import InvalidInput, RateLimited
from ..services import search
from ..services.hub import Hub
from ..storage.db import clamp_limit
from . import wire
from .endpoint import endpoint
from .guard import source_ip

AUTOCOMPLETE_PER_MINUTE = 20
MAX_QUERY_CHARS = 500


def _money(request: Request, name: str) -> int | None:
    raw = wire.query(request, name)
    if raw is None:
        return None
    value = wire.bounded_int(raw, 15)
    if value is None:
        raise InvalidInput(f"`{name}` must be a whole number of minor units (0 to 15 digits)", code="invalid_filter",
                           details={"parameter": name})
    return value


def _q(request: Request) -> str | None:
    q = wire.query(request, "q")
    if q is not None and len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"`q` is at most {MAX_QUERY_CHARS} characters", code="invalid_query")
    return q


@endpoint
def search_products(request: Request, hub: Hub) -> Response:
    result = search.search(hub, q=_q(request), min_price_q=_money(request, "min_price_q"),
                           max_price_q=_money(request, "max_price_q"), store=wire.query(request, "store"),
                           category=wire.query(request, "category"), limit=clamp_limit(wire.query(request, "limit")),
                           cursor=wire.query(request, "cursor"))
    return wire.page(result.items, result.next_cursor)


@endpoint
def autocomplete(request: Request, hub: Hub) -> Response:
    # The gateway's view of the client, never a header the client sets.
    decisions = hub.limiter.hit(f"ip:{source_ip(request)}:autocomplete", {"autocomplete": AUTOCOMPLETE_PER_MINUTE})
    decision = decisions["autocomplete"] if decisions else None
    if decision is not None and not decision.allowed:
        raise RateLimited(f"Maximum {AUTOCOMPLETE_PER_MINUTE} requests per 60 seconds allowed.",
                          details={"retry_after": decision.retry_after}, headers=decision.headers())
    titles = search.autocomplete(hub, _q(request))
    return wire.respond({"items": titles}, headers=decision.headers() if decision else None)
