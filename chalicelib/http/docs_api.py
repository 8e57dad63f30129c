"""The API describing itself: the OpenAPI document and a readable page of it, built on first request and kept."""

from __future__ import annotations

import functools
import json
import threading
from typing import TYPE_CHECKING, Any

from chalice.app import Request, Response

from . import wire
from .endpoint import endpoint
from .routes import RouteTable

if TYPE_CHECKING:
    from .openapi import Operation

TITLE = "Omniman Serverless"
DESCRIPTION = ("A headless omnichannel order hub: Session (mutable, rev-versioned) -> Order (immutable) -> Directive "
               "(an asynchronous side effect). Money is integer minor units (`*_q`); quantities are decimal strings. "
               "Every error is `{\"error\": {\"code\", \"message\", \"details\"}}`; each operation lists its codes "
               "per status (`x-omniman-error-codes`).")
_lock = threading.Lock()


@functools.cache
def _document(routes: RouteTable) -> dict[str, Any]:
    # Imported here, not at the top: the generator and the page (html.entities) cost every cold start otherwise.
    from . import openapi

    return openapi.document(operations(routes), title=TITLE, description=DESCRIPTION)


def document(routes: RouteTable) -> dict[str, Any]:
    with _lock:  # built once per process, even when the local server's threads ask at the same moment
        return _document(routes)


def operations(routes: RouteTable) -> list[Operation]:
    """Every route of the table. One Chalice serves outside it is closed by the guard and left out here (the
    contract tests fail on it)."""
    from .openapi import Operation

    found = []
    for path, methods in routes.app.routes.items():
        for method, entry in methods.items():
            spec = routes.spec(path, method)
            if spec is not None:
                found.append(Operation(path, method, entry.view_name, spec))
    return found


@functools.cache
def _page(routes: RouteTable) -> str:
    from . import docs_page

    return docs_page.render(document(routes))


@endpoint
def openapi_json(request: Request, routes: RouteTable) -> Response:
    served = {**document(routes), "servers": [{"url": base_url(request)}]}
    return Response(body=json.dumps(served, separators=(",", ":")), status_code=200, headers=wire.JSON_HEADERS)


@endpoint
def docs(request: Request, routes: RouteTable) -> Response:
    return Response(body=_page(routes), status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


def base_url(request: Request) -> str:
    """Where this API is served: the host asked, with the stage prefix API Gateway put before the route."""
    host = request.headers.get("host") or "localhost"
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip()
    scheme = forwarded if forwarded in ("http", "https") else "http"
    full, route = request.context.get("path") or "", request.context.get("resourcePath") or ""
    prefix = full[: -len(route)] if route and full.endswith(route) else ""
    return f"{scheme}://{host}{prefix}"
