"""The app refuses to start on an incomplete or unsafe environment (I10, I9), and config.json is complete."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chalicelib.config import REQUIRED, load_settings
from chalicelib.domain.errors import ConfigurationError

from .support import ROOT, STAGES, stage_env

COMPLETE = {
    "OMNIMAN_STAGE": "dev",
    "OMNIMAN_TABLE": "omniman-dev-main",
    "OMNIMAN_IDEMPOTENCY_TABLE": "omniman-dev-idempotency",
    "OMNIMAN_DIRECTIVES_QUEUE": "omniman-dev-directives",
    "OMNIMAN_CHECKS_QUEUE": "omniman-dev-checks",
}


def test_complete_environment_loads() -> None:
    settings = load_settings(dict(COMPLETE))
    assert (settings.stage, settings.table, settings.checks_queue) == ("dev", "omniman-dev-main", "omniman-dev-checks")


@pytest.mark.parametrize("missing", REQUIRED)
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in COMPLETE.items() if k != missing}
    with pytest.raises(ConfigurationError, match=missing):
        load_settings(env)


@pytest.mark.parametrize("missing", REQUIRED)
def test_empty_variable_counts_as_missing(missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        load_settings({**COMPLETE, missing: ""})


def test_invalid_value_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="directive_max_attempts"):
        load_settings({**COMPLETE, "OMNIMAN_DIRECTIVE_MAX_ATTEMPTS": "0"})
    with pytest.raises(ConfigurationError, match="directive_topic_max_attempts"):
        load_settings({**COMPLETE, "OMNIMAN_DIRECTIVE_TOPIC_MAX_ATTEMPTS": "stock.commit"})
    with pytest.raises(ConfigurationError, match="directive_topic_max_attempts"):
        load_settings({**COMPLETE, "OMNIMAN_DIRECTIVE_TOPIC_MAX_ATTEMPTS": "stock.commit=21"})


def test_attempts_per_topic() -> None:
    settings = load_settings({**COMPLETE, "OMNIMAN_DIRECTIVE_TOPIC_MAX_ATTEMPTS": "stock.commit=10, a.b=2"})
    assert settings.max_attempts("stock.commit", handler_default=3) == 10
    assert settings.max_attempts("other", handler_default=3) == 3
    assert settings.max_attempts("other") == settings.directive_max_attempts == 5


def test_prod_refuses_the_emulator_endpoint() -> None:
    """I9: a production stage can never talk to an emulator by accident."""
    with pytest.raises(ConfigurationError, match="OMNIMAN_AWS_ENDPOINT_URL"):
        load_settings({**COMPLETE, "OMNIMAN_STAGE": "prod", "OMNIMAN_AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})


def test_emulator_endpoint_is_allowed_outside_prod_or_when_explicit() -> None:
    endpoint = "http://127.0.0.1:5000"
    assert load_settings({**COMPLETE, "OMNIMAN_AWS_ENDPOINT_URL": endpoint}).aws_endpoint_url == endpoint
    explicit = {**COMPLETE, "OMNIMAN_STAGE": "prod", "OMNIMAN_AWS_ENDPOINT_URL": endpoint,
                "OMNIMAN_ALLOW_EMULATOR": "true"}
    assert load_settings(explicit).allow_emulator is True


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_environment_loads_and_targets_aws(stage: str) -> None:
    env = stage_env(stage)
    assert not {"OMNIMAN_AWS_ENDPOINT_URL", "OMNIMAN_ALLOW_EMULATOR", "AWS_ENDPOINT_URL"} & set(env)
    assert load_settings(env).stage == stage


def test_importing_app_without_its_environment_fails_fast() -> None:
    """app.py builds the hub at import: a Lambda with a missing variable fails at init, naming it."""
    env = {k: v for k, v in os.environ.items() if k != "OMNIMAN_CHECKS_QUEUE"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "ConfigurationError" in proc.stderr and "OMNIMAN_CHECKS_QUEUE" in proc.stderr, proc.stderr
