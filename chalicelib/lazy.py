"""Modules whose body runs when one of their attributes is first used, not when they are imported.

Every function of the app (the API, the workers, the schedules) imports all of `app.py`, and a route module with the
services behind it is needed only when one of its routes is called. `deferred(name)` puts the module in
`sys.modules` (so importing it again gives the same object) without running it; the first attribute read runs it,
once, whichever thread gets there first, and turns it into a plain module: once loaded, reading its attributes
costs what it costs on any module.

The standard library's `importlib.util.LazyLoader` does the same but, on Python 3.11, lets a second thread see the
module half-run while the first runs it (the local server and the concurrency tests serve requests on threads).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

# One lock for every deferred module: the body of one may use another, on the same thread, under it. So a module's
# body, run by an import, must not read a deferred module's attributes (the route modules are read by requests).
_lock = threading.RLock()
_running: set[str] = set()


class _Deferred(ModuleType):
    def __getattr__(self, name: str) -> Any:  # only reached for what the module lacks: before its body has run
        with _lock:
            if type(self) is _Deferred and self.__name__ not in _running:
                _run(self)
        # Loaded (or being loaded by this very thread, as in a circular import): the module answers for itself.
        return ModuleType.__getattribute__(self, name)


def _run(module: _Deferred) -> None:
    _running.add(module.__name__)
    try:
        module.__spec__.loader.exec_module(module)  # type: ignore[union-attr]
        module.__class__ = ModuleType
    finally:
        # After a failure the module stays deferred: its next use runs the body again, as importing it would.
        _running.discard(module.__name__)


def deferred(name: str) -> ModuleType:
    """The module `name`, imported but not run (or the module itself if it was already imported)."""
    with _lock:  # two threads asking at once get the same module, run once
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _Deferred
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)  # as an import binds a submodule on its package
        return module
