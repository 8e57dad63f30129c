"""The one place requests are let in: the route's access, the caller's key, its rate limits.

Runs as the app's HTTP middleware, before any view. Services check again only where the resource decides
(an order's channel) and filter lists to what the key may see, through `principal(request)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Request, Response

from ..domain.access import Principal, authorize
from ..domain.errors import DomainError, RateLimited, Unauthenticated
from ..ratelimit import Decision
from ..services.api_keys import presented_key
from ..services.hub import Hub
from . import wire
from .routes import RouteTable

logger = Logger(service="omniman", child=True)
PRINCIPAL = "omniman.principal"


def guard(hub: Hub, routes: RouteTable, request: Request, get_response: Callable[[Request], Response]) -> Response:
    try:
        response = _admit(hub, routes, request, get_response)
    except DomainError as exc:
        return wire.error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except Exception:
        logger.exception("unhandled error while admitting a request")
        return wire.error(500, "internal_error", "an unexpected error occurred; it has been logged")
    return wire.reshape_chalice_error(response)


def principal(request: Request) -> Principal:
    return request.context[PRINCIPAL]


def _admit(hub: Hub, routes: RouteTable, request: Request, get_response: Callable[[Request], Response]) -> Response:
    path = request.context.get("resourcePath")
    spec = routes.spec(path, request.method)
    if spec is None:
        if routes.has_path(path) and request.method in routes.app.routes[path]:
            # Declared on the app but not in the table: fail closed (tests walk the table, so this is a bug).
            logger.error("route %s %s has no access declared", request.method, path)
            return wire.error(403, "forbidden", "this route declares no access and is closed")
        return get_response(request)  # another method on a known path: Chalice answers 405
    if spec.access.kind in ("public", "signed"):
        return get_response(request)
    caller, record = _authenticate(hub, request)
    limits = {"requests": record.get("rate_limit_per_minute") or hub.settings.key_rate_limit_per_minute}
    if "commit" in spec.limits:
        limits["commit"] = record.get("commit_rate_limit_per_minute") or hub.settings.commit_rate_limit_per_minute
    tightest = _within_limits(hub, f"key:{caller.key_id}", limits)
    authorize(caller, spec.access, request.uri_params or {})
    request.context[PRINCIPAL] = caller
    response = get_response(request)
    if tightest is not None:
        # A route with a tighter limit of its own (autocomplete per IP) has set these already: its win.
        for name, value in tightest.headers().items():
            response.headers.setdefault(name, value)
    return response


def _authenticate(hub: Hub, request: Request) -> tuple[Principal, dict[str, Any]]:
    try:
        return hub.authenticator.authenticate(
            presented_key(request.headers.get("authorization"), request.headers.get("x-api-key")))
    except Unauthenticated as exc:
        # Guessing keys from one address: past the limit its failures answer 429 instead of 401.
        _within_limits(hub, f"ip:{source_ip(request)}:auth",
                       {"auth_failures": hub.settings.auth_failure_limit_per_minute})
        exc.headers["WWW-Authenticate"] = 'Bearer realm="omniman"'
        raise


def _within_limits(hub: Hub, bucket: str, limits: dict[str, int]) -> Decision | None:
    decisions = hub.limiter.hit(bucket, limits)
    if not decisions:
        return None
    refused = [d for d in decisions.values() if not d.allowed]
    if refused:
        worst = max(refused, key=lambda d: d.retry_after)
        raise RateLimited(f"Maximum {worst.limit} requests per 60 seconds allowed.",
                          details={"retry_after": worst.retry_after, "limit": worst.limit},
                          headers=worst.headers())
    return min(decisions.values(), key=lambda d: d.remaining)


def source_ip(request: Request) -> str:
    """The address API Gateway saw the request come from; never a client-supplied header."""
    return str((request.context.get("identity") or {}).get("sourceIp") or "unknown")
