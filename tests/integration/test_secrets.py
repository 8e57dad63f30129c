"""Secrets come from an env var locally and from SSM Parameter Store (Powertools parameters) on AWS."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.domain.errors import ConfigurationError
from chalicelib.secrets import Secrets


def test_ssm_secure_string_is_read_through_powertools(aws):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/omniman/test/webhook-secret", Value="from-ssm-0123456789", Type="SecureString")
    secrets = Secrets("/omniman/test/", ssm, environ={})
    assert secrets.get("webhook-secret") == "from-ssm-0123456789"
    assert secrets.get("cursor-secret") is None
    with pytest.raises(ConfigurationError, match="/omniman/test/cursor-secret"):
        secrets.require("cursor-secret")


def test_an_env_var_wins_and_without_a_path_nothing_else_is_asked(aws):
    assert Secrets("/omniman/test/", boto3.client("ssm"),
                   environ={"OMNIMAN_WEBHOOK_SECRET": "from-env"}).get("webhook-secret") == "from-env"
    with pytest.raises(ConfigurationError, match="OMNIMAN_CURSOR_SECRET"):
        Secrets(None, environ={}).require("cursor-secret")


def test_the_webhook_sender_reads_the_secret_when_it_sends(hub, monkeypatch):
    sender = hub.registry.backend("notification", "webhook")
    monkeypatch.delenv("OMNIMAN_WEBHOOK_SECRET", raising=False)
    assert sender.secret() is None
    monkeypatch.setenv("OMNIMAN_WEBHOOK_SECRET", "rotated-0123456789")
    assert sender.secret() == "rotated-0123456789"


def test_infra_secrets_creates_what_is_missing_and_never_changes_a_secret(aws):
    from infra.secrets import ensure

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/omniman/dev/webhook-secret", Value="the-receivers-secret", Type="SecureString")
    assert ensure(ssm, "dev") == ["/omniman/dev/cursor-secret", "/omniman/dev/payment-webhook-secret-simulator",
                                  "/omniman/dev/shipping-webhook-secret-simulator"]
    cursor = ssm.get_parameter(Name="/omniman/dev/cursor-secret", WithDecryption=True)["Parameter"]
    assert cursor["Type"] == "SecureString" and len(cursor["Value"]) >= 48
    assert ensure(ssm, "dev") == []
    assert ssm.get_parameter(Name="/omniman/dev/cursor-secret", WithDecryption=True)["Parameter"]["Value"] == \
        cursor["Value"]
    assert ssm.get_parameter(Name="/omniman/dev/webhook-secret", WithDecryption=True)["Parameter"]["Value"] == \
        "the-receivers-secret"
