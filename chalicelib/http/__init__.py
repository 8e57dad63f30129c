"""The HTTP layer. Route modules (`api`, `*_api`) are deferred (chalicelib/lazy.py): `from chalicelib.http import
api` gives the module, and it and the services behind it are imported when a route first uses it, so a worker or
a schedule never imports them and the API imports what its first requests need."""

from __future__ import annotations

from types import ModuleType

from ..lazy import deferred


def __getattr__(name: str) -> ModuleType:  # only reached for a submodule not imported yet
    if name == "api" or name.endswith("_api"):
        return deferred(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
