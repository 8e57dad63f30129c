"""Every test runs against moto with the tables and queues deployed from infra/resources.yaml."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Fixtures every suite may use: `receiver`, a local HTTP server that takes webhooks.
pytest_plugins = ["tests.webhook_receiver"]
STAGE = "test"

from devstack.resources import env_for_stage  # noqa: E402

os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "OMNIMAN_COMMIT_INFLIGHT_WAIT_MS": "3000",
    "OMNIMAN_CURSOR_SECRET": "test-cursor-secret",
    "OMNIMAN_SEARCH_CHECK_SECONDS": "0",  # a rebuilt index is seen at the next request
    # Reindex directives run when a test runs them, not when a quiet period ends (the debounce has its own tests).
    "OMNIMAN_REINDEX_QUIET_SECONDS": "0",
    "OMNIMAN_REINDEX_BURST_QUIET_SECONDS": "0",
    "OMNIMAN_PAYMENT_WEBHOOK_SECRET_SIMULATOR": "test-payment-simulator-secret",
    "OMNIMAN_SHIPPING_WEBHOOK_SECRET_SIMULATOR": "test-shipping-simulator-secret",
    **env_for_stage(STAGE),
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("OMNIMAN_AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack.atomic_moto import make_dynamodb_atomic  # noqa: E402
from devstack.resources import deploy  # noqa: E402
from tests.contract import broken_promise  # noqa: E402

make_dynamodb_atomic()


@pytest.fixture
def aws():
    with mock_aws():
        deploy(boto3.client("cloudformation"), STAGE)
        yield


@pytest.fixture
def hub(aws):
    from chalicelib.bootstrap import hub as build

    return build()


@pytest.fixture
def chalice_app(aws):
    import app as app_module

    return app_module.app


# The tests' admin key: limits high enough that no test but the limit tests ever meets them.
ADMIN_KEY = "omk_0123456789ab_tests-admin-key-0000000000"


class Api:
    """The Chalice test client with JSON in and out, sending one API key (the admin key unless told)."""

    def __init__(self, client: Any, key: str | None = ADMIN_KEY):
        self.client = client
        self.key = key

    def as_key(self, key: str | None) -> Api:
        """The same client sending another key (None: none)."""
        return Api(self.client, key)

    def new_key(self, *scopes: str, name: str = "test-key", **limits: int) -> Api:
        """Issues a key with `scopes` through the API and returns a client that sends it."""
        resp = self.as_key(ADMIN_KEY).post("/v1/keys", {"name": name, "scopes": list(scopes), **limits})
        assert resp.status == 201, resp.json
        return self.as_key(resp.json["secret"])

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                raw: str | None = None) -> Response:
        auth = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        hdrs = {"Content-Type": "application/json", **auth, **(headers or {})}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        resp = getattr(self.client.http, method.lower())(path, headers=hdrs, body=data)
        answer = Response(resp.status_code, resp.headers, resp.body)
        # Every answer any test gets is one the OpenAPI document promises (tests/contract.py).
        broken = broken_promise(method, path, answer.status, answer.headers, answer.body)
        assert broken is None, broken
        return answer

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("PUT", path, body, **kw)

    # shortcuts for the common flow
    def channel(self, code: str = "pos", **fields: Any) -> dict[str, Any]:
        body = {"code": code, "name": code.upper(), **fields}
        resp = self.post("/v1/channels", body)
        assert resp.status == 201, resp.json
        return resp.json

    def session(self, channel: str = "pos", key: str | None = None) -> dict[str, Any]:
        resp = self.post(f"/v1/channels/{channel}/sessions", {"session_key": key} if key else {})
        assert resp.status == 201, resp.json
        return resp.json

    def modify(self, channel: str, key: str, *ops: dict[str, Any], **extra: Any) -> Response:
        return self.post(f"/v1/channels/{channel}/sessions/{key}/modify", {"ops": list(ops), **extra})

    def commit(self, channel: str, key: str, idem: str | None = "k1", body: Any = None,
               headers: dict[str, str] | None = None) -> Response:
        hdrs = dict(headers or {})
        if idem is not None:
            hdrs["Idempotency-Key"] = idem
        return self.post(f"/v1/channels/{channel}/sessions/{key}/commit", body if body is not None else {},
                         headers=hdrs)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        json_body = body and self.headers.get("content-type", "application/json").startswith("application/json")
        self.json = json.loads(body) if json_body else None

    def error_code(self) -> str:
        return self.json["error"]["code"]


@pytest.fixture
def api(chalice_app, hub):
    from chalice.test import Client

    from chalicelib.services import search
    from chalicelib.services.api_keys import issue

    hub.authenticator.forget()  # the process outlives each test's emulator state
    search.forget()
    issue(hub.api_keys, {"name": "test-admin", "scopes": ["admin"], "rate_limit_per_minute": 1_000_000,
                         "commit_rate_limit_per_minute": 1_000_000}, created_by="tests", secret=ADMIN_KEY)
    with Client(chalice_app, stage_name="dev", project_dir=str(ROOT)) as client:
        yield Api(client)


PRICES = {"COFFEE": 500, "CROISSANT": 750, "TEA": 400, "WATER": 250}


@pytest.fixture
def pos(api) -> dict[str, Any]:
    """An internal-pricing channel with a price list."""
    return api.channel("pos", pricing_policy="internal", config={"pricing": {"prices": PRICES}})


@pytest.fixture
def web(api) -> dict[str, Any]:
    """An external-pricing channel that notifies after commit."""
    return api.channel("web", pricing_policy="external", config={"post_commit_directives": ["notification.send"]})


@pytest.fixture
def registry():
    """The process registry; registrations a test adds are removed after it."""
    from chalicelib.domain.registry import registry as reg

    added: list[tuple[str, Any]] = []

    class Scoped:
        def __getattr__(self, name: str) -> Any:
            return getattr(reg, name)

        def track(self, kind: str, name: Any) -> None:
            added.append((kind, name))

    yield Scoped()
    for kind, name in added:
        if kind.startswith("hook:"):
            reg.unregister_hook(kind.removeprefix("hook:"), name)
        else:
            reg.unregister(kind, name)
