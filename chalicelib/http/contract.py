"""What a route promises, declared beside it in app.py: its body, query, headers, answers and error codes.

The route table keeps one `Contract` per route; `openapi.py` turns them into the OpenAPI document and the tests
hold every answer the API gives to it. Nothing here runs per request, and no model is built here: a model class is
only named, so `import app` stays as cheap as it was (models with `defer_build=True` stay unbuilt until the
document is first asked for).

Errors are `(status, code)` pairs, composed with `|`: `E(404, "order_not_found") | E(409, "invalid_transition")`.
A route names the errors its own logic raises; the ones the HTTP layer adds are added by `openapi.py` from what
the route declares (a body, a key, a header, a query), so they are written once, where their cause is.

The value types are NamedTuples: every function's cold start defines them, and a frozen dataclass costs about four
times as much to define (docs/benchmarks.md, cold start).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

Errors = frozenset[tuple[int, str]]


class Named(NamedTuple):
    """A model by its module and name, imported when the OpenAPI document is first built (resolve)."""

    module: str
    name: str

    def resolve(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)


class Models:
    """Names models without importing them: `Models("chalicelib.services").commit.CommitBody` is
    `Named("chalicelib.services.commit", "CommitBody")` (a lower-case attribute is a submodule, any other a model).
    app.py names its routes' models this way, so declaring them imports no service or schema module: a cold start
    pays for neither, and a route's services are still imported by its first request."""

    def __init__(self, module: str):
        self._module = module

    def __getattr__(self, name: str) -> Models | Named:
        if name.startswith("__"):
            raise AttributeError(name)
        return Models(f"{self._module}.{name}") if name[:1].islower() else Named(self._module, name)


def resolve(model: Any) -> Any:
    return model.resolve() if isinstance(model, Named) else model


def E(status: int, *codes: str) -> Errors:  # noqa: N802: reads like the status table it builds
    """Error codes a route may answer with `status`, in the one error shape."""
    if not 400 <= status <= 599 or not codes:
        raise ValueError(f"an error needs a 4xx/5xx status and at least one code, not {status} {codes}")
    return frozenset((status, code) for code in codes)


NO_ERRORS: Errors = frozenset()
# A code an extension chooses (a registered validator's refusal): the status is documented, the codes stay open.
OWN_CODES = "*"


def extension_codes(*statuses: int) -> Errors:
    return frozenset((status, OWN_CODES) for status in statuses)


class Header(NamedTuple):
    """A request header a route reads, and the error codes a bad value of it gets."""

    name: str
    description: str
    schema: Mapping[str, Any] = MappingProxyType({"type": "string"})
    required: bool = False
    errors: Errors = NO_ERRORS

    def but_required(self, *more: Errors) -> Header:
        extra = frozenset().union(*more) if more else NO_ERRORS
        return Header(self.name, self.description, self.schema, True, self.errors | extra)


class Body(NamedTuple):
    """The request body: a pydantic model (or its name), and whether it may be left out (then `{}` is assumed)."""

    model: Any
    required: bool = True


def optional(model: Any) -> Body:
    return Body(model, required=False)


class Media(NamedTuple):
    """An answer that is not a JSON model: its media type (or the types it may be) and the schema of its content."""

    media_type: str | tuple[str, ...]
    schema: Mapping[str, Any]
    description: str = ""

    def media_types(self) -> tuple[str, ...]:
        return (self.media_type,) if isinstance(self.media_type, str) else self.media_type


class Page(NamedTuple):
    """A list answer, `{"items": [<model>...], "next_cursor": str | null}`; built into a pydantic model only when the
    document is (a generic parametrized at import would cost every cold start)."""

    item: Any  # a model or its Named


# What a route answers per status: a pydantic model (or its Named), a Page of one, or a Media.
Answer = Any


class Contract(NamedTuple):
    body: Body | None = None
    query: Any = None  # a pydantic model (or its Named): one query parameter per field; `errors` for bad values
    headers: tuple[Header, ...] = ()
    returns: Mapping[int, Answer] = MappingProxyType({})
    errors: Errors = NO_ERRORS
    # False when the route says nothing about its body: a body route must say `body=None` to take none.
    body_declared: bool = False

    def resolved(self) -> Contract:
        """The same contract with every named model imported."""
        returns = {status: Page(resolve(answer.item)) if isinstance(answer, Page) else resolve(answer)
                   for status, answer in self.returns.items()}
        body = self.body._replace(model=resolve(self.body.model)) if self.body is not None else None
        return self._replace(body=body, query=resolve(self.query), returns=returns)


UNDECLARED = object()  # the default of `body=`: a POST/PUT that says nothing about its body fails the contract tests


def contract(*, body: Any = UNDECLARED, query: Any = None, headers: tuple[Header, ...] = (),
             returns: Mapping[int, Answer] | Answer | None = None,
             errors: Errors = NO_ERRORS) -> Contract:
    """`returns=Model` is `{200: Model}`; `body=Model` a required body, `body=optional(Model)` one that may be left out,
    `body=None` none at all."""
    if returns is None:
        answers: Mapping[int, Answer] = {}
    elif isinstance(returns, Mapping):
        answers = dict(returns)
    else:
        answers = {200: returns}
    if body is UNDECLARED or body is None:
        declared_body = None
    elif isinstance(body, Body):
        declared_body = body
    else:
        declared_body = Body(body)
    return Contract(body=declared_body, query=query, headers=headers, returns=answers, errors=errors,
                    body_declared=body is not UNDECLARED)
