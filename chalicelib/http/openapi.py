"""The OpenAPI 3.1 document of the API, generated from the route table and the pydantic models. Pure.

Per operation: the access it needs (`x-omniman-access` and in words), its parameters (path, query, the headers it
reads), its request body, every answer per status and, per error status, the codes it answers with
(`x-omniman-error-codes`) in the one error shape. Errors the HTTP layer adds are derived here from what the route
declares, so a route names only its own: a key (401, 403, 429), a body (400 for one that cannot be read or
validated, 413), each header and query model (their own codes), and 415 and 500 everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.json_schema import models_json_schema

from ..domain.access import Access
from .codes import UNREADABLE_BODY
from .contract import OWN_CODES, E, Errors, Media, Page
from .routes import RouteSpec
from .schemas import Error

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"
KEYED = E(401, "unauthenticated", "invalid_key", "revoked_key", "invalid_authorization") | E(403, "forbidden") | E(
    429, "rate_limited")
BODY = UNREADABLE_BODY | E(400, "invalid_body", "validation_error")
# Chalice checks any request's Content-Type against the route's before the view, a GET's too; and anything else.
EVERYWHERE = E(415, "unsupported_media_type") | E(500, "internal_error")
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer omk_...`: an API key."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The same key, in X-Api-Key."},
}
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    name: str  # the view's name: unique per app, so it is the operationId
    spec: RouteSpec


def document(operations: Iterable[Operation], *, title: str, description: str = "") -> dict[str, Any]:
    # The models app.py names are imported here, the first time the document is built.
    ops = sorted((replace(o, spec=o.spec._replace(contract=o.spec.contract.resolved())) for o in operations),
                 key=lambda o: (o.path, o.method))
    schemas, refs = _schemas(ops)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": API_VERSION, "description": description},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def errors_of(spec: RouteSpec, method: str) -> Errors:
    """Every (status, code) the route may answer: its own and those the HTTP layer adds for what it declares."""
    c = spec.contract
    found = set(c.errors) | EVERYWHERE
    if spec.access.kind not in ("public", "signed"):
        found |= KEYED
    if c.body is not None:
        found |= BODY
    for header in c.headers:
        found |= header.errors
    if c.query is not None:
        found |= getattr(c.query, "errors", frozenset())
    return frozenset(found)


# --- schemas -------------------------------------------------------------------------------------------------------

_PAGE_CONFIG = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


def page_model(item: type) -> type[BaseModel]:
    """`{"items": [...], "next_cursor"}` of `item`, named `<Item>Page`."""
    return create_model(f"{item.__name__}Page", __config__=_PAGE_CONFIG, items=(list[item], ...),  # type: ignore[valid-type]
                        next_cursor=(str | None, ...))


def _schemas(ops: list[Operation]) -> tuple[dict[str, Any], dict[tuple[Any, str], dict[str, Any]]]:
    """All models in one pass, so each is one component however many routes name it: request bodies as pydantic
    validates them, answers as they are serialized (every field they always send required). Returns the
    components and, per (model or Page, mode), its `$ref`."""
    wanted: dict[tuple[Any, str], None] = {(Error, "serialization"): None}
    pages: dict[Page, type[BaseModel]] = {}
    for op in ops:
        c = op.spec.contract
        if c.body is not None:
            wanted[(c.body.model, "validation")] = None
        for answer in c.returns.values():
            if isinstance(answer, Page):
                if answer not in pages:
                    pages[answer] = page_model(answer.item)
                wanted[(pages[answer], "serialization")] = None
            elif not isinstance(answer, Media):
                wanted[(answer, "serialization")] = None
    keyed, top = models_json_schema(list(wanted), ref_template=REF)  # type: ignore[arg-type]
    refs: dict[tuple[Any, str], dict[str, Any]] = dict(keyed)
    refs.update({(page, "serialization"): keyed[(model, "serialization")] for page, model in pages.items()})
    return top.get("$defs", {}), refs


# --- operations ----------------------------------------------------------------------------------------------------

def _operation(op: Operation, refs: Mapping[tuple[Any, str], dict[str, Any]]) -> dict[str, Any]:
    spec, c = op.spec, op.spec.contract
    access = spec.access
    operation: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.name.replace("_", " ").capitalize(),
        "description": _access_text(access, spec.limits),
        "tags": [tag(op.path)],
        "x-omniman-access": {k: v for k, v in {"kind": access.kind, "scope": access.scope,
                                               "channel_param": access.param if access.kind.startswith("channel")
                                               else None}.items() if v is not None},
        "security": [] if access.kind in ("public", "signed") else [{"bearer": []}, {"apiKey": []}],
        "parameters": _parameters(op),
    }
    if spec.limits:
        operation["x-omniman-limits"] = list(spec.limits)
    if c.body is not None:
        operation["requestBody"] = {"required": c.body.required,
                                    "content": {JSON: {"schema": refs[(c.body.model, "validation")]}}}
    responses: dict[str, Any] = {}
    for status, answer in sorted(c.returns.items()):
        responses[str(status)] = _answer(status, answer, refs)
    by_status: dict[int, list[str]] = {}
    for status, code in errors_of(spec, op.method):
        by_status.setdefault(status, []).append(code)
    for status, codes in sorted(by_status.items()):
        listed = sorted(c for c in codes if c != OWN_CODES)
        described = ", ".join(f"`{code}`" for code in listed)
        responses[str(status)] = {
            "description": f"{HTTPStatus(status).phrase}: {described}",
            "content": {JSON: {"schema": refs[(Error, "serialization")]}},
            "x-omniman-error-codes": listed,
        }
        if OWN_CODES in codes:
            responses[str(status)]["description"] += ", and the codes of registered validators"
            responses[str(status)]["x-omniman-open-codes"] = True
    operation["responses"] = responses
    return operation


def _answer(status: int, answer: Any, refs: Mapping[tuple[Any, str], dict[str, Any]]) -> dict[str, Any]:
    if isinstance(answer, Media):
        return {"description": answer.description or HTTPStatus(status).phrase,
                "content": {media: {"schema": dict(answer.schema)} for media in answer.media_types()}}
    return {"description": HTTPStatus(status).phrase, "content": {JSON: {"schema": refs[(answer, "serialization")]}}}


def tag(path: str) -> str:
    """The group an operation is listed under: sessions apart from their channels, else the first segment."""
    segments = [s for s in path.split("/") if s and s != "v1"]
    if "sessions" in segments:
        return "sessions"
    return segments[0].removesuffix(".json") if segments else "root"


def _access_text(access: Access, limits: tuple[str, ...]) -> str:
    text = f"Access: {access.describe()}."
    if limits:
        text += f" Rate-limited also as: {', '.join(limits)}."
    return text


def _parameters(op: Operation) -> list[dict[str, Any]]:
    c = op.spec.contract
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PARAM.findall(op.path)
    ]
    if c.query is not None:
        params += _query_parameters(c.query)
    params += [{"name": h.name, "in": "header", "required": h.required, "description": h.description,
                "schema": dict(h.schema)} for h in c.headers]
    return params


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One parameter per field; `X | None = None` is a parameter that may be left out, so null is dropped."""
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        if prop.get("default", ...) is None:
            del prop["default"]
        branches = [b for b in prop.pop("anyOf", []) if b != {"type": "null"}]
        if len(branches) == 1:
            prop.update(branches[0])
        elif branches:
            prop["anyOf"] = branches
        description = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params
