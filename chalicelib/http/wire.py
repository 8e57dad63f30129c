"""HTTP wire format: JSON in (no floats), JSON out, and the one error shape."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from chalice.app import Request, Response

from ..domain.errors import InvalidInput

JSON_HEADERS = {"Content-Type": "application/json"}
_ACTOR = re.compile(r"^[\w.@:/+-]{1,128}$")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def body(request: Request) -> Any:
    raw = request.raw_body
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", code="invalid_json") from None


def query(request: Request, name: str) -> str | None:
    params: dict[str, str] = request.query_params or {}
    value = params.get(name)
    return value if value not in (None, "") else None


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value.strip() if value and value.strip() else None


def if_match(request: Request) -> int | None:
    raw = header(request, "if-match")
    if raw is None:
        return None
    value = raw.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput('If-Match must be a rev: "3" or 3', code="invalid_if_match")
    return int(value)


def actor(request: Request) -> str:
    raw = header(request, "x-actor")
    if raw is None:
        return "api"
    if not _ACTOR.match(raw):
        raise InvalidInput("X-Actor must be 1-128 word characters", code="invalid_actor")
    return raw


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(payload, default=_default, separators=(",", ":"), sort_keys=True),
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
    )


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    return respond({"error": {"code": code, "message": message, "details": details or {}}}, status, headers)


def page(items: list[Any], next_cursor: str | None) -> Response:
    return respond({"items": items, "next_cursor": next_cursor})
