"""Structured logs with the request's correlation id, EMF metrics, and the one error shape for bugs."""

from __future__ import annotations

import io
import json
import logging

import pytest


@pytest.fixture
def logs():
    """What the Powertools logger writes, in its JSON format, during the test."""
    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger("omniman")
    target.addHandler(handler)
    yield lambda: json_lines(stream.getvalue())
    target.removeHandler(handler)


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_every_response_names_its_request_and_logs_carry_it(api, pos, registry, logs):
    from chalicelib.observability import logger

    @registry.register_hook("session.created")
    def log_it(session, ctx):
        logger.info("session opened", extra={"session_key": session.session_key})

    registry.track("hook:session.created", log_it)
    r = api.post("/v1/channels/pos/sessions", {"session_key": "LOG"})
    request_id = r.headers["x-request-id"]
    [line] = [entry for entry in logs() if entry.get("message") == "session opened"]
    assert (line["correlation_id"], line["session_key"], line["service"]) == (request_id, "LOG", "omniman")


def test_metrics_are_emitted_as_emf(api, pos, monkeypatch, capfd):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    api.session("pos", "M")
    capfd.readouterr()
    api.modify("pos", "M", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert api.commit("pos", "M", "m").status == 201
    emitted = [e for e in json_lines(capfd.readouterr().out) if "_aws" in e]
    names = {m["Name"] for e in emitted for d in e["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"SessionsModified", "OrdersCommitted"} <= names
    assert all(d["Namespace"] == "Omniman" for e in emitted for d in e["_aws"]["CloudWatchMetrics"])


def test_a_bug_is_a_logged_500_in_the_error_shape(api, pos, registry, logs):
    @registry.register_modifier("buggy")
    def buggy(session, channel, ctx):
        raise RuntimeError("boom")

    registry.track("modifier", "buggy")
    api.session("pos", "B")
    r = api.modify("pos", "B", {"op": "add_line", "sku": "TEA", "qty": 1})
    assert (r.status, r.error_code()) == (500, "internal_error")
    assert "boom" not in r.body.decode()  # internals stay in the logs
    assert any("boom" in str(e.get("exception", "")) for e in logs())
    assert api.get("/v1/channels/pos/sessions/B").json["rev"] == 0


@pytest.mark.parametrize("path", ["/v1/orders/x/transition", "/v1/channels"])
def test_wrong_method_is_not_a_500(api, path):
    r = api.request("DELETE", path)
    assert r.status == 405
