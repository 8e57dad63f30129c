"""The route table: every route is declared with the access it requires, or it cannot be declared at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Chalice

from ..domain.access import Access

BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RouteSpec:
    access: Access
    limits: tuple[str, ...] = ()  # per-key limits beyond the default one, e.g. ("commit",)


class RouteTable:
    def __init__(self, app: Chalice):
        self.app = app
        self.specs: dict[tuple[str, str], RouteSpec] = {}

    def __call__(self, path: str, method: str, access: Access, *,
                 limits: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Any]:
        def register(view: Callable[..., Any]) -> Any:
            self.specs[(path, method)] = RouteSpec(access, limits)
            content = {"content_types": BODY_TYPES} if method in BODY_METHODS else {}
            return self.app.route(path, methods=[method], **content)(view)

        return register

    def spec(self, path: str | None, method: str) -> RouteSpec | None:
        return self.specs.get((path or "", method))

    def has_path(self, path: str | None) -> bool:
        return path in self.app.routes
