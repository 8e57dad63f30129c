"""The operator console's files as the API serves them: public, complete, and locked to themselves."""

from __future__ import annotations

import re

import pytest

from chalicelib.console import STATIC
from chalicelib.domain.status_flow import DEFAULT_FLOW

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}


def referenced(api, name: str) -> set[str]:
    """The console's files that `name` loads: the page's script and stylesheet, a module's imports."""
    text = api.as_key(None).get(f"/console/{name}" if name != "index.html" else "/console").body.decode()
    return set(re.findall(r'(?:src|href)="console/([^"]+)"', text)) | set(re.findall(r'from "\./([^"]+)"', text))


def test_the_page_and_every_file_it_loads_are_served_without_a_key(api):
    seen, todo = set(), {"index.html"}
    while todo:
        name = todo.pop()
        seen.add(name)
        r = api.as_key(None).get("/console" if name == "index.html" else f"/console/{name}")
        assert r.status == 200, name
        assert r.headers["content-type"].startswith(TYPES[name[name.rindex("."):]]), name
        assert r.headers["x-content-type-options"] == "nosniff"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        todo |= referenced(api, name) - seen
    # Every shipped file is reachable from the page: nothing dead ships, nothing the page needs is missing.
    assert seen == {p.name for p in STATIC.iterdir()}


def test_the_default_status_flow_is_the_domains(api):
    r = api.as_key(None).get("/console/defaults.json")
    assert r.json == {"order_flow": DEFAULT_FLOW.model_dump(mode="json")}


@pytest.mark.parametrize("name", ["app.py", "..%2Fapp.py", "%2E%2E%2F%2E%2E%2Fapp.py", ".env", "APP.JS", "app.js%00",
                                  "__init__.py"])
def test_nothing_else_is_served(api, name):
    r = api.as_key(None).get(f"/console/{name}")
    assert (r.status, r.error_code()) == (404, "not_found"), name


def test_the_page_runs_no_inline_code_and_writes_no_markup():
    page = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\s(on\w+|style)=", page)
    for module in STATIC.glob("*.js"):
        # What the API sends is shown as text: no markup is ever parsed from a string.
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", module.read_text()), module
