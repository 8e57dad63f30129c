"""When an invocation is traced, and that the X-Ray SDK (the app's largest import) is loaded only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.observability import tracing_on

ROOT = Path(__file__).resolve().parents[2]
SAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1"
ON_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "_X_AMZN_TRACE_ID": SAMPLED}


@pytest.mark.parametrize(("environ", "traced"), [
    (ON_LAMBDA, True),
    ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
    ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
    ({**ON_LAMBDA, "_X_AMZN_TRACE_ID": SAMPLED.replace("Sampled=1", "Sampled=0")}, False),  # not sampled
    ({"LAMBDA_TASK_ROOT": "/var/task"}, False),  # no trace header: tracing is off for the function
    ({"_X_AMZN_TRACE_ID": SAMPLED}, False),  # not in Lambda
    ({**ON_LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
    ({**ON_LAMBDA, "AWS_CHALICE_CLI_MODE": "true"}, False),
])
def test_an_invocation_is_traced_in_lambda_when_xray_sampled_it(environ: dict[str, str], traced: bool) -> None:
    assert tracing_on(environ) is traced


def run(code: str, **environ: str) -> str:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "_X_AMZN", "AWS_SAM"))}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT,  # noqa: S603 - the test's own code
                          env={**keep, "AWS_DEFAULT_REGION": "us-east-1", **environ},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


OBSERVE = ("import sys; from chalicelib.observability import observe; "
           "print('before', 'aws_xray_sdk' in sys.modules); "
           "print('result', observe('http', 'c-1', lambda: 42)); "
           "print('after', 'aws_xray_sdk' in sys.modules)")


def test_the_xray_sdk_is_not_imported_when_nothing_is_traced() -> None:
    assert run(OBSERVE, POWERTOOLS_TRACE_DISABLED="true", **ON_LAMBDA).split("\n") == [
        "before False", "result 42", "after False"]
    assert run(OBSERVE).split("\n") == ["before False", "result 42", "after False"]


def test_a_traced_invocation_imports_the_sdk_and_runs_inside_a_subsegment() -> None:
    # The SDK's emitter sends UDP to a daemon that is not there: fire and forget, as on a host without one.
    assert run(OBSERVE, AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9", **ON_LAMBDA).split("\n") == [
        "before False", "result 42", "after True"]
