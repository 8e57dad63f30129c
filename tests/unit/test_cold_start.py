"""What `import app` leaves for later, so the cold start stays small (docs/benchmarks.md, "Cold start").

Each check imports the app in a fresh interpreter (the test process has imported everything already) and looks at
what it holds: modules not imported, route modules not run, pydantic models not built, the collector back on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

INSPECT = """
import gc, json, sys
import app
from pydantic import BaseModel, TypeAdapter

def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)

ours = {f"{m.__module__}.{m.__qualname__}": m for m in models(BaseModel) if m.__module__.startswith("chalicelib.")}
print(json.dumps({
    "modules": sorted(sys.modules),
    "not_run": sorted(n for n, m in sys.modules.items() if n.startswith("chalicelib.") and "__file__" in vars(m)
                      and not any(not k.startswith("__") for k in vars(m))),
    "built": sorted(name for name, model in ours.items() if model.__pydantic_complete__),
    "adapters_built": sorted(f"{n}.{k}" for n, m in list(sys.modules.items()) if n.startswith("chalicelib.")
                             for k, v in list(vars(m).items()) if isinstance(v, TypeAdapter) and v.pydantic_complete),
    "adapters": sum(isinstance(v, TypeAdapter) for n, m in list(sys.modules.items()) if n.startswith("chalicelib.")
                    for v in list(vars(m).values())),
    "models": len(ours),
    "gc_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


@pytest.fixture(scope="module")
def imported_app() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", INSPECT], cwd=ROOT, env=dict(os.environ),  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_app_leaves_the_heavy_modules_for_what_needs_them(imported_app: dict[str, Any]) -> None:
    loaded = set(imported_app["modules"])
    # The X-Ray SDK: only for a traced invocation. Powertools idempotency: the first command. The batch utility:
    # never (the worker reports partial failures itself). SQLite and the search engine: the first search.
    heavy = {"aws_xray_sdk", "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.batch",
             "sqlite3", "chalicelib.search.engine", "chalicelib.search.index_store"}
    assert heavy & loaded == set()


def test_import_app_runs_no_route_module(imported_app: dict[str, Any]) -> None:
    # `from chalicelib.http import api, ...` in app.py gives modules that run at their first route.
    not_run = set(imported_app["not_run"])
    for route_module in ("api", "direct_api", "inventory_api", "keys_api", "lifecycle_api", "search_api"):
        assert f"chalicelib.http.{route_module}" in not_run
    assert "chalicelib.services.idempotency" not in imported_app["modules"]  # imported by the route modules


def test_import_app_builds_no_model_but_the_settings(imported_app: dict[str, Any]) -> None:
    # Every model and module-level TypeAdapter of chalicelib says defer_build=True: built at its first use.
    # The settings are validated at start.
    assert imported_app["models"] > 40
    assert imported_app["built"] == ["chalicelib.config.Settings"]
    assert imported_app["adapters"] >= 2
    assert imported_app["adapters_built"] == []


def test_the_collector_is_back_on_after_start_up_with_start_up_frozen(imported_app: dict[str, Any]) -> None:
    assert imported_app["gc_enabled"] is True
    assert imported_app["frozen"] > 10_000  # what start-up made (~110,000 objects), out of every collection's way
