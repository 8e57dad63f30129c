"""Where the local stack's AWS resources live, and the environment the app is imported with.

app.py validates its configuration at import (I10), so everything here runs before `import app`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

import boto3

from .resources import env_for_stage

STAGE = "local"
DEFAULT_API_PORT = 8000
TRUTHY = {"1", "true", "yes", "on"}

# Only filled in when unset: a developer's own region, credentials or Powertools switches win.
DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would drown the console; nothing reads them locally
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon to send segments to
    # Lets a channel try the webhook notification backend locally; deployed stages set their own secret.
    "OMNIMAN_WEBHOOK_SECRET": "local-only-webhook-secret",
    "OMNIMAN_CURSOR_SECRET": "local-only-cursor-secret",
    # The simulated payment and shipping providers sign their webhooks with these (see contrib/payments.py).
    "OMNIMAN_PAYMENT_WEBHOOK_SECRET_SIMULATOR": "local-only-payment-simulator-secret",
    "OMNIMAN_SHIPPING_WEBHOOK_SECRET_SIMULATOR": "local-only-shipping-simulator-secret",
}
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class Target:
    """Which AWS the stack talks to: the embedded emulator, an emulator the user runs, or real AWS."""

    embedded: bool
    endpoint_url: str | None  # None on real AWS (boto3 picks each service's endpoint)

    @property
    def description(self) -> str:
        if self.embedded:
            return f"{self.endpoint_url} (embedded moto; state lives as long as this process)"
        return self.endpoint_url or "real AWS (your credentials)"


def choose_target(environ: MutableMapping[str, str]) -> Target:
    """The user's OMNIMAN_AWS_ENDPOINT_URL (e.g. LocalStack) or OMNIMAN_USE_AWS=1 skip the embedded emulator."""
    endpoint = environ.get("OMNIMAN_AWS_ENDPOINT_URL")
    if endpoint:
        return Target(embedded=False, endpoint_url=endpoint)
    if environ.get("OMNIMAN_USE_AWS", "").lower() in TRUTHY:
        return Target(embedded=False, endpoint_url=None)
    return Target(embedded=True, endpoint_url=None)


def emulator_port(environ: MutableMapping[str, str]) -> int:
    """OMNIMAN_EMULATOR_PORT, or 0: the OS picks a free port, so two stacks can run side by side."""
    return _port(environ, "OMNIMAN_EMULATOR_PORT", 0)


def api_port(environ: MutableMapping[str, str]) -> int:
    return _port(environ, "OMNIMAN_PORT", DEFAULT_API_PORT)


def prepare(environ: MutableMapping[str, str], target: Target) -> None:
    """Sets, in place, what the app and the AWS clients read from the environment."""
    environ.update(env_for_stage(STAGE))
    for name, value in DEFAULTS.items():
        environ.setdefault(name, value)
    if target.embedded or (target.endpoint_url and not _has_credentials()):
        # Emulators accept any credentials but boto3 still needs some to sign with. For the embedded one they
        # are set unless given, so nothing goes looking for a profile or an instance role; for the user's own
        # emulator (LocalStack) only when boto3 finds none, so a profile the user set up still wins.
        for name, value in EMULATOR_CREDENTIALS.items():
            environ.setdefault(name, value)
    if target.endpoint_url:
        environ["OMNIMAN_AWS_ENDPOINT_URL"] = target.endpoint_url
    else:
        environ.pop("OMNIMAN_AWS_ENDPOINT_URL", None)


def _has_credentials() -> bool:
    return boto3.Session().get_credentials() is not None


def _port(environ: MutableMapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"{name} must be a port number, not {raw!r}")
    return int(raw)
