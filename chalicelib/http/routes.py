"""The route table: every route is declared with the access it requires, or it cannot be declared at all, and with
its contract (body, query, headers, answers, error codes: chalicelib/http/contract.py), which the OpenAPI document
is generated from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from chalice import Chalice

from ..domain.access import Access
from .contract import NO_ERRORS, UNDECLARED, Answer, Contract, Errors, Header, Media, Page, contract

BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RouteSpec(NamedTuple):
    access: Access
    limits: tuple[str, ...] = ()  # per-key limits beyond the default one, e.g. ("commit",)
    contract: Contract = Contract()


class RouteTable:
    def __init__(self, app: Chalice):
        self.app = app
        self.specs: dict[tuple[str, str], RouteSpec] = {}

    def __call__(self, path: str, method: str, access: Access, *, limits: tuple[str, ...] = (),
                 body: Any = UNDECLARED, query: type | None = None, headers: tuple[Header, ...] = (),
                 returns: Mapping[int, Answer] | type | Page | Media | None = None,
                 errors: Errors = NO_ERRORS) -> Callable[[Callable[..., Any]], Any]:
        declared = contract(body=body, query=query, headers=headers, returns=returns, errors=errors)

        def register(view: Callable[..., Any]) -> Any:
            self.specs[(path, method)] = RouteSpec(access, limits, declared)
            content = {"content_types": BODY_TYPES} if method in BODY_METHODS else {}
            return self.app.route(path, methods=[method], **content)(view)

        return register

    def spec(self, path: str | None, method: str) -> RouteSpec | None:
        return self.specs.get((path or "", method))

    def has_path(self, path: str | None) -> bool:
        return path in self.app.routes
