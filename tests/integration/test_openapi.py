"""The OpenAPI document: valid OpenAPI 3.1, generated from the route table, exactly the routes app.py defines, each
with its contract; the page that shows it; and the checks that hold every answer to it (tests/contract.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from openapi_spec_validator import validate

from chalicelib.http.routes import BODY_METHODS
from tests.conftest import ROOT
from tests.contract import broken_promise

JSON = {"content-type": "application/json"}


def test_the_document_is_openapi_31_and_served_without_a_key(api):
    r = api.as_key(None).get("/v1/openapi.json")
    assert r.status == 200, r.json
    assert r.headers["content-type"] == "application/json"
    validate(r.json)  # OpenAPI 3.1 (the validator picks the version the document names)
    assert r.json["openapi"] == "3.1.0"
    assert r.json["servers"] == [{"url": "http://localhost"}]
    assert set(r.json["components"]["securitySchemes"]) == {"bearer", "apiKey"}


def test_it_lists_exactly_the_routes_app_py_defines(api, chalice_app):
    paths = api.get("/v1/openapi.json").json["paths"]
    documented = {(path, method.upper()) for path, operations in paths.items() for method in operations}
    defined = {(path, method) for path, methods in chalice_app.routes.items() for method in methods}
    assert defined - documented == set(), "routes the document leaves out"
    assert documented - defined == set(), "operations no route serves"
    assert len(defined) > 50


def test_every_route_declares_its_contract(chalice_app):
    import app

    missing = []
    for (path, method), spec in sorted(app.route.specs.items()):
        c = spec.contract
        if not any(200 <= status < 300 for status in c.returns):
            missing.append(f"{method} {path}: no answer (returns=Model or returns={{201: Model}})")
        if method in BODY_METHODS and not c.body_declared:
            missing.append(f"{method} {path}: no body (body=Model, body=optional(Model) or body=None)")
        if method not in BODY_METHODS and c.body is not None:
            missing.append(f"{method} {path}: a body on a {method}")
    assert not missing, "\n".join(["Routes without their contract (see README, Extending it):", *missing])


def test_every_operation_names_its_access_answers_and_error_codes(api):
    doc = api.get("/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            access = op["x-omniman-access"]["kind"]
            assert op["description"].startswith("Access: "), where
            statuses = {int(s) for s in op["responses"]}
            assert any(200 <= s < 300 for s in statuses), where
            if access in ("public", "signed"):
                assert op["security"] == [], where
            else:
                assert op["security"] == [{"bearer": []}, {"apiKey": []}], where
                assert {401, 403, 429} <= statuses, where
            assert {415, 500} <= statuses, where  # a Content-Type the route does not take; the unexpected
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[-1] in schemas, where
                assert {400, 413} <= statuses, where
            assert set(re.findall(r"\{(\w+)\}", path)) == {p["name"] for p in op["parameters"] if p["in"] == "path"}
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    assert answer["x-omniman-error-codes"], (where, status)
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_one_error_shape_is_a_component(api):
    error = api.get("/v1/openapi.json").json["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert api.get("/v1/openapi.json").json["components"]["schemas"]["ErrorDetail"]["required"] == [
        "code", "message", "details"]


def test_headers_and_queries_a_route_reads_are_parameters(api):
    paths = api.get("/v1/openapi.json").json["paths"]

    def params(path: str, method: str) -> dict[str, dict]:
        return {p["name"]: p for p in paths[path][method]["parameters"]}

    pay = params("/v1/orders/{ref}/pay", "post")
    assert pay["Idempotency-Key"]["required"] is True and pay["Idempotency-Key"]["in"] == "header"
    assert params("/v1/channels/{code}/sessions/{key}/commit", "post")["Idempotency-Key"]["required"] is False
    assert "If-Match" in params("/v1/channels/{code}", "put")
    stats = params("/v1/orders/stats", "get")
    assert set(stats) == {"channel", "store", "from", "to"} and not any(p["required"] for p in stats.values())
    limit = params("/v1/orders", "get")["limit"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert "invalid_limit" in paths["/v1/orders"]["get"]["responses"]["400"]["x-omniman-error-codes"]


def test_a_wrong_type_a_missing_field_or_a_stray_one_breaks_the_promise(api, pos):
    r = api.post("/v1/channels/pos/sessions", {"session_key": "S1"})
    path = "/v1/channels/pos/sessions/S1"
    good = r.json
    assert broken_promise("GET", path, 200, JSON, json.dumps(good).encode()) is None
    for bad in ({**good, "rev": "1"}, {k: v for k, v in good.items() if k != "items"}, {**good, "stray": 1},
                {**good, "items": [{"line_id": "L1"}]}):
        assert "breaks its schema" in broken_promise("GET", path, 200, JSON, json.dumps(bad).encode())


def test_an_unlisted_status_or_error_code_breaks_the_promise(api):
    error = json.dumps({"error": {"code": "teapot", "message": "m", "details": {}}}).encode()
    assert "not among the codes" in broken_promise("GET", "/v1/orders/O-1", 404, JSON, error)
    assert "does not list" in broken_promise("GET", "/v1/orders/O-1", 418, JSON, error)
    listed = json.dumps({"error": {"code": "order_not_found", "message": "m", "details": {}}}).encode()
    assert broken_promise("GET", "/v1/orders/O-1", 404, JSON, listed) is None
    assert "documented as" in broken_promise("GET", "/v1/orders/O-1", 404, {"content-type": "text/html"}, listed)


def test_the_docs_page_shows_every_operation_without_fetching_anything(api):
    r = api.as_key(None).get("/v1/docs")
    assert r.status == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = r.body.decode()
    doc = api.get("/v1/openapi.json").json
    for operations in doc["paths"].values():
        for op in operations.values():
            assert f"id='{op['operationId']}'" in page
    for name in doc["components"]["schemas"]:
        assert f"id='schema-{name}'" in page
    assert "<script" not in page and not re.search(r"""(src|href)=['"]?(https?:)?//""", page)


def test_importing_the_app_builds_no_deferred_model_and_no_document():
    # The document is built on first request; `import app` only names the models (cold start).
    probe = ("import app\n"
             "from chalicelib.http import docs_api, schemas\n"
             "from chalicelib.services.modify import ModifyBody\n"
             "built = [m.__name__ for m in (schemas.Paid, schemas.Stats, schemas.Error, ModifyBody) "
             "if m.__pydantic_complete__]\n"
             "print(built, docs_api._document.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=os.environ,  # noqa: S603 - the test's own code
                         capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "[] 0"
