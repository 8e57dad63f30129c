"""HTTP wire format: JSON in (bounded, no floats, no lone surrogates), JSON out, and the one error shape."""

from __future__ import annotations

import json
import re
from decimal import Decimal, DecimalException
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT
from chalice.app import Request, Response

from ..domain.errors import InvalidInput, PayloadTooLarge

JSON_HEADERS = {"Content-Type": "application/json"}
# re.ASCII: `\w` would otherwise admit every Unicode letter and digit into audits and order events.
_ACTOR = re.compile(r"[\w.@:/+-]{1,128}", re.ASCII)
MAX_BODY_BYTES = 1024 * 1024
# Deeper than any body the API defines (free-form data is bounded to 16 levels by the domain, plus its envelope), and
# shallow enough that a client's map stays within DynamoDB's 32 levels even nested in a directive's payload. Checked
# on the raw text: json.loads recurses once per level and a deep enough body exhausts the interpreter's stack.
MAX_JSON_DEPTH = 24
# Every number a client sends may end up a DynamoDB number (channel config, line meta and check payloads are copied
# into item attributes): 38 significant digits, magnitude 1e-130 to under 1e126. Anything else is refused on the way in.
_MIN_EXPONENT, _MAX_EXPONENT = -130, 125
# 18 digits stay below 2**63 and DynamoDB's 38-digit numbers, and far below Python's int-parsing digit limit.
MAX_VERSION_DIGITS = 18
_DIGITS = re.compile("[0-9]+")
_STRUCTURAL = re.compile(r'["\[\]{}]')
_STRING_STOP = re.compile(r'["\\]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class _UnstorableNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _storable(text: str) -> Decimal:
    try:
        value = DYNAMODB_CONTEXT.create_decimal(text)  # traps rounding, overflow and underflow
    except DecimalException:
        raise _UnstorableNumber(text) from None
    if value and not _MIN_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
        raise _UnstorableNumber(text)
    return Decimal(text)


def _parse_int(text: str) -> int:
    # Checked before int(): Python refuses to parse more than 4,300 digits, and DynamoDB stores at most 38.
    return int(_storable(text))


def _parse_decimal(text: str) -> Decimal:
    return _storable(text)  # Decimal, never float: JSON fractions are never turned into money


def body(request: Request) -> Any:
    """The request's JSON body (None when empty), or a 400 `invalid_json` / 413 `payload_too_large`."""
    try:
        raw = request.raw_body
    except ValueError as exc:  # a str body holding a lone surrogate (no UTF-8), or base64 that is not base64
        raise _invalid_json(f"undecodable body: {exc}") from None
    if raw and len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes",
                              details={"max_bytes": MAX_BODY_BYTES})
    if not raw or not raw.strip():
        return None
    return decode_json(raw)


def decode_json(raw: bytes | str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise _invalid_json(f"not UTF-8: {exc}") from None
    if _nesting_exceeds(text, MAX_JSON_DEPTH):
        raise _invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_float=_parse_decimal, parse_int=_parse_int, parse_constant=_reject_constant)
    except _UnstorableNumber as exc:
        shown = str(exc) if len(str(exc)) <= 40 else str(exc)[:40] + "..."
        raise InvalidInput(f"number {shown} is out of range: at most 38 significant digits, magnitude 1e-130 to "
                           "1e126", code="number_out_of_range") from None
    except ValueError as exc:
        raise _invalid_json(str(exc)) from None
    if _has_lone_surrogate(value):
        # json.loads turns "\ud800" into a str no UTF-8 encoder accepts: it could be neither stored nor answered.
        raise _invalid_json("a string holds a lone UTF-16 surrogate")
    return value


def _invalid_json(reason: str) -> InvalidInput:
    return InvalidInput(f"request body is not valid JSON: {reason}", code="invalid_json")


def _nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit`, brackets inside strings not counted.

    A loop, not recursion, jumping from one structural character to the next; malformed text is left to json.loads.
    """
    depth = 0
    pos = 0
    while (found := _STRUCTURAL.search(text, pos)) is not None:
        char, pos = found.group(), found.end()
        if char == '"':
            pos = _string_end(text, pos)
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _string_end(text: str, pos: int) -> int:
    """Where the string that opened just before `pos` ends (past its closing quote), escapes honoured."""
    while (found := _STRING_STOP.search(text, pos)) is not None:
        if found.group() == '"':
            return found.end()
        pos = found.end() + 1  # a backslash escapes the next character, a quote included
    return len(text)


def _has_lone_surrogate(value: Any) -> bool:
    # Iterative although depth is already bounded: the walk costs nothing extra and cannot fail on the stack.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def query(request: Request, name: str) -> str | None:
    params: dict[str, str] = request.query_params or {}
    value = params.get(name)
    return value if value not in (None, "") else None


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value.strip() if value and value.strip() else None


def bounded_int(raw: str, max_digits: int = MAX_VERSION_DIGITS) -> int | None:
    """`raw` as a non-negative int if it is 1..max_digits ASCII digits, else None (never int()'s ValueError)."""
    # str.isdigit() would accept a superscript two, which int() refuses, or Arabic-Indic digits, which it reads.
    if len(raw) > max_digits or not _DIGITS.fullmatch(raw):
        return None
    return int(raw)


def if_match(request: Request) -> int | None:
    raw = header(request, "if-match")
    if raw is None:
        return None
    value = bounded_int(raw.removeprefix("W/").strip('"'))
    if value is None:
        raise InvalidInput(f'If-Match must be a version of at most {MAX_VERSION_DIGITS} digits: "3" or 3',
                           code="invalid_if_match")
    return value


def actor(request: Request, default: str = "api") -> str:
    raw = header(request, "x-actor")
    if raw is None:
        return default
    if not _ACTOR.fullmatch(raw):
        raise InvalidInput("X-Actor must be 1-128 ASCII characters among letters, digits and _.@:/+-",
                           code="invalid_actor")
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


# --- Chalice's own answers ------------------------------------------------------------------------------------------

# The `Code`s Chalice writes itself (app.py: error_response and ChaliceViewError subclasses).
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "InternalServerError": "internal_error",
    "ChaliceViewError": "internal_error",
    "NotFoundError": "not_found",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "RequestTimeoutError": "request_timeout",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "unprocessable",
    "TooManyRequestsError": "too_many_requests",
}


def reshape_chalice_error(response: Response) -> Response:
    """Chalice answers some requests before (405, 415) or after (400, 500) our routes run, with its own
    `{"Code", "Message"}` body; this gives them the one error shape, keeping the status and headers (Allow)."""
    chalice_body = _chalice_error_body(response.body)
    if chalice_body is None:
        return response
    status = response.status_code
    code = _CHALICE_CODES.get(chalice_body["Code"], "internal_error" if status >= 500 else "bad_request")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
    allow = next((v for k, v in headers.items() if k.lower() == "allow"), None)
    details = {"allowed": [m.strip() for m in allow.split(",") if m.strip()]} if allow else {}
    return error(status, code, chalice_body["Message"], details, headers)


def _chalice_error_body(raw: Any) -> dict[str, str] | None:
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if isinstance(raw, dict) and set(raw) == {"Code", "Message"} and all(isinstance(v, str) for v in raw.values()):
        return raw
    return None
