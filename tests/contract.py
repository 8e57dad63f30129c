"""The API's OpenAPI document as the tests hold it: every answer the test client gets must be one it promises.

`check_answer` is called for every request the `api` fixture sends (tests/conftest.py): the status must be
documented for the route, an error's code must be among the codes the route lists for that status
(`x-omniman-error-codes`), and the body must validate against the documented schema. So the whole integration
suite keeps the document honest, and a route added without its contract fails every test that calls it.
"""

from __future__ import annotations

import functools
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator


@functools.cache
def document() -> dict[str, Any]:
    import app
    from chalicelib.http import docs_api

    return docs_api.document(app.route)


@functools.cache
def _validator(path: str, method: str, status: str, media_type: str) -> Draft202012Validator:
    schema = document()["paths"][path][method]["responses"][status]["content"][media_type]["schema"]
    # The components travel in the schema's own root, so its "#/components/schemas/..." refs resolve there.
    return Draft202012Validator({**schema, "components": document()["components"]})


def route_of(raw_path: str) -> str | None:
    """The route pattern Chalice matches a request path to (static segments win, as in Chalice's own matcher)."""
    from chalice.local import RouteMatcher

    import app

    try:
        return RouteMatcher(list(app.app.routes)).match_route(raw_path).route
    except ValueError:
        return None


def broken_promise(method: str, raw_path: str, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """What is wrong with this answer against the document, or None when it is what the route promises."""
    return broken_promise_of(route_of(raw_path) or "", method, status, headers, body)


def broken_promise_of(route: str, method: str, status: int, headers: dict[str, str], body: bytes) -> str | None:
    operation = document()["paths"].get(route, {}).get(method.lower())
    if operation is None:
        # No route (404 not_found) or not this method (405): Chalice's own answers, described in the README.
        return None
    where = f"{method} {route} answered {status}"
    response = operation["responses"].get(str(status))
    if response is None:
        return f"{where}, which the document does not list (it lists {sorted(operation['responses'])})"
    media_type = (headers.get("content-type") or "").split(";")[0].strip()
    if media_type not in response.get("content", {}):
        return f"{where} as {media_type!r}, documented as {sorted(response.get('content', {}))}"
    if media_type != "application/json":
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return f"{where} with a body that is not JSON: {body[:200]!r}"
    codes = response.get("x-omniman-error-codes")
    if codes is not None:
        code = payload.get("error", {}).get("code") if isinstance(payload, dict) else None
        if code not in codes and not response.get("x-omniman-open-codes"):
            return f"{where} with error code {code!r}, not among the codes it lists for {status}: {codes}"
    errors = sorted(_validator(route, method.lower(), str(status), media_type).iter_errors(payload),
                    key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        at = "/".join(str(p) for p in first.absolute_path) or "(the body)"
        return f"{where} with a body that breaks its schema at {at}: {first.message[:300]}"
    return None


class ChaliceWsgi:
    """A WSGI face for Chalice's test client, so schemathesis's WSGI transport can send its cases through it."""

    def __init__(self, client: Any):
        self.client = client

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        if "?" not in target and environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
                   if name.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        answer = self.client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        start_response(f"{answer.status_code} {HTTPStatus(answer.status_code).phrase}", list(answer.headers.items()))
        return [answer.body if isinstance(answer.body, bytes) else answer.body.encode()]
