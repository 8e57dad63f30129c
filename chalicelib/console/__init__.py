"""The operator console: a static single-page app shipped in the Lambda and served by the API itself.

The page holds no data: every figure it shows comes from the public HTTP API, called with the operator's key. The
files in `static/` are the whole app (plain ES modules, no build step); `defaults.json` is generated here from the
domain so the console never repeats a rule of its own (the status flow of a channel without one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..domain.status_flow import DEFAULT_FLOW

STATIC = Path(__file__).with_name("static")
PAGE = "index.html"
# Flat names only: a name is a key into what ships, never a path, so nothing outside `static/` can be reached.
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,40}\.(html|js|css)")
_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
          "json": "application/json"}


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str


@cache
def assets() -> dict[str, Asset]:
    """Every file the console is made of, read once per process."""
    found = {path.name: Asset(path.read_text("utf-8"), _TYPES[path.suffix.lstrip(".")])
             for path in sorted(STATIC.iterdir()) if _NAME.fullmatch(path.name)}
    defaults = {"order_flow": DEFAULT_FLOW.model_dump(mode="json")}
    found["defaults.json"] = Asset(json.dumps(defaults, sort_keys=True), _TYPES["json"])
    return found


def asset(name: str) -> Asset | None:
    return assets().get(name)
