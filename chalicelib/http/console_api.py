"""The operator console's two routes: the page and its assets, with headers that keep the page to itself."""

from __future__ import annotations

from chalice.app import Response

from .. import console
from . import wire
from .endpoint import endpoint

# The page runs only its own files and talks only to this API: no inline script or style, no other origin, no
# framing. Chalice's local server and API Gateway serve the page and the API from one origin, so 'self' is the API.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidated on every load: a deploy is seen at once, and no shared cache keeps a copy.
    "Cache-Control": "no-cache, private",
}


@endpoint
def page() -> Response:
    return asset(console.PAGE)


@endpoint
def asset(name: str) -> Response:
    found = console.asset(name)
    if found is None:
        return wire.error(404, "not_found", f"the console has no asset {name[:80]!r}", headers=HEADERS)
    return Response(body=found.body, status_code=200, headers={**HEADERS, "Content-Type": found.content_type})
