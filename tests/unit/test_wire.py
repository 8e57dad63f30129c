"""The wire format on its own: the body decoder's bounds, header parsing, and Chalice's own errors reshaped."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from chalice import BadRequestError, Chalice, NotFoundError, Response
from chalice.app import Request
from chalice.test import Client

from chalicelib.domain.errors import DomainError
from chalicelib.http import wire


def request(body: str | bytes | None = None, headers: dict[str, str] | None = None) -> Request:
    return Request({
        "multiValueQueryStringParameters": None, "headers": headers or {}, "pathParameters": None,
        "requestContext": {"httpMethod": "POST", "resourcePath": "/x"}, "body": body, "stageVariables": None,
    })


def refused(body: str | bytes) -> DomainError:
    with pytest.raises(DomainError) as caught:
        wire.body(request(body))
    return caught.value


# --- the body -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 5000, "[" * 200_000 + "]" * 200_000, '{"a":[' * 3000])
def test_deep_nesting_is_invalid_json_without_recursing(body: str) -> None:
    # json.loads would raise RecursionError on these (not a ValueError: it would escape as a 500).
    error = refused(body)
    assert (error.status, error.code) == (400, "invalid_json")
    assert "nested deeper" in error.message


def test_nesting_is_counted_on_structure_only() -> None:
    limit = wire.MAX_JSON_DEPTH
    assert wire.body(request("[" * limit + "]" * limit)) is not None
    assert refused("[" * (limit + 1) + "]" * (limit + 1)).code == "invalid_json"
    # Brackets inside strings, escaped quotes included, are text, not nesting.
    text = '{"a": "' + "[{" * 5000 + '", "b": "\\"[[[[\\\\", "c": "\\\\"}'
    assert wire.body(request(text))["a"] == "[{" * 5000
    assert wire.body(request(r'["\\\"[", ["x"]]')) == ['\\"[', ["x"]]


@pytest.mark.parametrize("body", [r'{"session_key":"s1","data":{"a":"\ud800"}}', r'{"\udfff": 1}',
                                  r'["ok", ["\udc00x"]]', r'"\ud83d"', r'{"a": "\ude00\ud83d"}'])
def test_lone_surrogates_are_invalid_json(body: str) -> None:
    assert refused(body).code == "invalid_json"


def test_surrogate_pairs_are_characters() -> None:
    assert wire.body(request(r'{"a": "\ud83d\ude00"}')) == {"a": "\U0001f600"}


def test_bodies_that_are_no_utf8_are_invalid_json() -> None:
    assert refused(b'{"a": "\xff"}').code == "invalid_json"
    assert refused('{"a": "\ud800"}').code == "invalid_json"  # a str event body no encoder accepts


def test_bodies_over_the_limit_are_413() -> None:
    at_limit = b"[" + b" " * (wire.MAX_BODY_BYTES - 2) + b"]"
    assert wire.body(request(at_limit)) == []
    error = refused(at_limit + b" ")
    assert (error.status, error.code, error.details) == (413, "payload_too_large", {"max_bytes": wire.MAX_BODY_BYTES})


def test_empty_bodies_are_none() -> None:
    for body in (None, "", "  \n", b""):
        assert wire.body(request(body)) is None


def test_fractions_are_decimals_and_constants_are_refused() -> None:
    assert wire.body(request('{"q": 1.10, "n": 3}')) == {"q": Decimal("1.10"), "n": 3}
    assert isinstance(wire.body(request("[2.5]"))[0], Decimal)
    for constant in ("NaN", "Infinity", "-Infinity", '{"a": NaN}'):
        assert refused(constant).code == "invalid_json"


@pytest.mark.parametrize("number", ["1" * 39, "-" + "9" * 39, "5" * 5000, "1e400", "1e-200", "-1E+126",
                                    "0.1000000000000000000000000000000000000001"])
def test_numbers_dynamodb_cannot_store_are_refused(number: str) -> None:
    error = refused(f'{{"n": {number}}}')
    assert (error.status, error.code) == (400, "number_out_of_range")
    assert len(error.message) < 200  # a 5,000-digit number is not echoed back whole


@pytest.mark.parametrize("number", ["9" * 38, "-" + "9" * 38, "1e-130", "9.9999999999999999999999999999999999999E+125",
                                    "0", "-0.0", "1e10"])
def test_numbers_dynamodb_stores_are_kept(number: str) -> None:
    assert wire.body(request(f"[{number}]")) == [json.loads(number, parse_float=Decimal)]


# --- headers --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"),
                         [('"3"', 3), ('W/"3"', 3), ("3", 3), (" 12 ", 12), ("9" * 18, 10**18 - 1)])
def test_if_match_reads_versions(raw: str, expected: int) -> None:
    assert wire.if_match(request(headers={"if-match": raw})) == expected


@pytest.mark.parametrize("raw", ["9" * 5000, "9" * 19, "*", "-1", "1.0", '"1", "2"', "\u00b2", "\u0661", "0x1", "1_0"])
def test_if_match_refuses_anything_else(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        wire.if_match(request(headers={"if-match": raw}))
    assert (caught.value.status, caught.value.code) == (400, "invalid_if_match")


def test_if_match_is_optional() -> None:
    assert wire.if_match(request()) is None
    assert wire.if_match(request(headers={"if-match": "  "})) is None


def test_actor_defaults_to_the_callers_name() -> None:
    assert wire.actor(request()) == "api"
    assert wire.actor(request(), "pos-terminal-3") == "pos-terminal-3"
    assert wire.actor(request(headers={"x-actor": "ana@shop.example"}), "key") == "ana@shop.example"
    assert wire.actor(request(headers={"x-actor": "x" * 128})) == "x" * 128


@pytest.mark.parametrize("raw", ["a b", "x" * 129, "jos\u00e9", "\uff41", "\u0661", "a;b", "<script>"])
def test_actor_is_ascii_and_bounded(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        wire.actor(request(headers={"x-actor": raw}))
    assert (caught.value.status, caught.value.code) == (400, "invalid_actor")


# --- Chalice's own answers, produced by Chalice itself --------------------------------------------------------------

@pytest.fixture
def reshaped() -> Client:
    app = Chalice(app_name="wire-test")

    @app.middleware("http")
    def shape(event: Request, get_response: Any) -> Response:
        return wire.reshape_chalice_error(get_response(event))

    @app.route("/things", methods=["GET", "PUT"], content_types=["application/json"])
    def things() -> dict[str, str]:
        return {"Code": "mine", "Message": "a resource that happens to look like an error", "extra": "x"}

    @app.route("/bad", methods=["GET"])
    def bad() -> None:
        raise BadRequestError("no good")

    @app.route("/missing", methods=["GET"])
    def missing() -> None:
        raise NotFoundError("not here")

    @app.route("/boom", methods=["GET"])
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.route("/binary", methods=["GET"])
    def binary() -> Response:
        return Response(body=b"\x00", headers={"Content-Type": "application/octet-stream"})

    @app.route("/ours", methods=["GET"])
    def ours() -> Response:
        return wire.error(409, "stale_rev", "moved", {"current_rev": 2})

    with Client(app) as client:
        yield client


def shaped(response: Any) -> dict[str, Any]:
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def test_chalice_405_becomes_method_not_allowed_and_keeps_allow(reshaped: Client) -> None:
    response = reshaped.http.request("DELETE", "/things")
    error = shaped(response)
    assert (response.status_code, error["code"]) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, PUT"
    assert error["details"] == {"allowed": ["GET", "PUT"]}


def test_chalice_415_becomes_unsupported_media_type(reshaped: Client) -> None:
    response = reshaped.http.put("/things", headers={"Content-Type": "application/xml"}, body=b"<a/>")
    assert (response.status_code, shaped(response)["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/bad", 400, "bad_request"), ("/missing", 404, "not_found"), ("/boom", 500, "internal_error"),
    ("/binary", 400, "bad_request"),
])
def test_chalice_view_errors_take_the_error_shape(reshaped: Client, path: str, status: int, code: str) -> None:
    response = reshaped.http.get(path)
    error = shaped(response)
    assert (response.status_code, error["code"]) == (status, code)
    assert "a bug" not in error["message"]


def test_other_answers_pass_through(reshaped: Client) -> None:
    ok = reshaped.http.get("/things")
    assert (ok.status_code, json.loads(ok.body)["extra"]) == (200, "x")
    ours = reshaped.http.get("/ours")
    assert (ours.status_code, shaped(ours)) == (409, {"code": "stale_rev", "message": "moved",
                                                     "details": {"current_rev": 2}})


def test_reshape_reads_serialised_bodies_too() -> None:
    response = Response(body='{"Code": "MethodNotAllowedError", "Message": "Unsupported method: FOO"}',
                        status_code=405, headers={"Allow": "GET"})
    reshaped = wire.reshape_chalice_error(response)
    assert json.loads(reshaped.body)["error"] == {"code": "method_not_allowed", "message": "Unsupported method: FOO",
                                                  "details": {"allowed": ["GET"]}}
    assert reshaped.headers["Allow"] == "GET"
    unknown = wire.reshape_chalice_error(Response(body={"Code": "SomethingNew", "Message": "m"}, status_code=502))
    assert (unknown.status_code, json.loads(unknown.body)["error"]["code"]) == (502, "internal_error")
