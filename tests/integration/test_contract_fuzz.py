"""Schemathesis over the OpenAPI document, against the Chalice test client: every operation, with cases generated
from its own schema, valid ones and invalid ones (negative mode), must answer as the document says: never a 5xx,
a documented status, the documented content type, a body valid against its schema and, for an error, one of the
codes the route lists for that status.

Path parameters name resources that exist three times out of four (the world test_fuzz.py builds: channels, an
open session, an order, a directive, a store, products), so cases get past the 404s into the domain; the admin key
gets them past the guard. Where test_fuzz.py sends what no schema describes (broken JSON, deep nesting,
surrogates, junk headers), this sends what the document describes and its near misses.

OMNIMAN_CONTRACT_EXAMPLES sets the cases per operation (default 10, well under a minute in all); `make fuzz` runs
200.
"""

from __future__ import annotations

import os
import re
from typing import Any

import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_KEY
from tests.contract import ChaliceWsgi, broken_promise_of
from tests.integration.test_fuzz import FRESH, build_world

EXAMPLES = int(os.environ.get("OMNIMAN_CONTRACT_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
SESSIONS = [("pos", "OPEN"), ("pos", "DONE"), ("shop", "CART"), ("web", "WEB")]  # the sessions build_world makes


def test_every_operation_answers_as_the_document_says(api: Any, chalice_app: Any) -> None:
    world = {name: [v for v in values if v is not FRESH] for name, values in build_world(api).items()}
    # A key of its own to read and revoke: the cases' admin key must survive them.
    world["key_id"] = [api.new_key("operator", name="fuzz-target").get("/v1/me").json["key_id"]]
    schema = schemathesis.openapi.from_dict(api.get("/v1/openapi.json").json)
    app = ChaliceWsgi(api.client)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in chalice_app.routes.values())
    broken: list[str] = []
    for operation in operations:
        try:
            _drive(operation, world, app)
        except Exception as exc:  # each operation's first failure, reported together below
            broken.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:3000]}")
    assert not broken, "\n\n".join(broken)


def _drive(operation: Any, world: dict[str, list[str]], app: ChaliceWsgi) -> None:
    names = re.findall(r"\{(\w+)\}", operation.path)
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = {mode: operation.as_strategy(generation_mode=mode) for mode in modes}
    # Valid cases twice as often: they are the ones that get into the domain.
    drawn_modes = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

    # No shrinking: the world changes under the cases, so a shrunk case would not fail the same way; each failure
    # already prints the request that made it.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one_case(data: st.DataObject) -> None:
        case = data.draw(strategies[data.draw(drawn_modes, label="mode")], label="case")
        if data.draw(st.integers(0, 3), label="known resources"):
            # A session is named by its channel and its key together.
            known = dict(zip(("code", "key"), data.draw(st.sampled_from(SESSIONS), label="session"), strict=True)
                         ) if {"code", "key"} <= set(names) else {}
            for name in names:
                if name in known:
                    case.path_parameters[name] = known[name]
                elif world.get(name):
                    case.path_parameters[name] = data.draw(st.sampled_from(world[name]), label=name)
        case.headers = {**(case.headers or {}), **AUTH}
        response = case.call(app=app)
        case.validate_response(response, checks=CHECKS)
        headers = {name: values[0] for name, values in response.headers.items()}
        broken = broken_promise_of(operation.path, operation.method, response.status_code, headers, response.content)
        assert broken is None, f"{broken}\n{case.as_curl_command()}"

    one_case()
