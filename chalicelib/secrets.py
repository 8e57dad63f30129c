"""Secrets (cursor signing key, webhook secrets): an env var locally, SSM Parameter Store on AWS.

`Secrets.get("webhook-secret")` reads `OMNIMAN_WEBHOOK_SECRET` when it is set; otherwise, when the stage names
an SSM path (`OMNIMAN_SECRETS_PATH`, e.g. `/omniman/prod/`), the SecureString parameter `{path}webhook-secret`
through Powertools parameters, cached for `max_age` seconds so a rotation reaches warm functions within that.
`python -m infra.secrets --stage <stage>` creates the missing parameters of a stage with random values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .domain.errors import ConfigurationError

# The secrets the product itself reads; providers' webhook secrets are named per provider (see contrib).
CURSOR = "cursor-secret"
WEBHOOK = "webhook-secret"
CACHE_SECONDS = 300


def env_name(name: str) -> str:
    return "OMNIMAN_" + name.upper().replace("-", "_").replace(".", "_")


class Secrets:
    def __init__(self, path: str | None, ssm_client: Any = None, environ: Mapping[str, str] | None = None):
        self.path = path
        self._ssm_client = ssm_client
        self._environ = environ  # None: the process environment, read at each call
        self._provider: Any = None

    def get(self, name: str) -> str | None:
        value = (os.environ if self._environ is None else self._environ).get(env_name(name))
        if value:
            return value
        if not self.path:
            return None
        from aws_lambda_powertools.utilities.parameters import SSMProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._ssm_client)
        try:
            return str(self._provider.get(f"{self.path}{name}", decrypt=True, max_age=CACHE_SECONDS))
        except GetParameterError:
            return None

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            where = f"SSM parameter {self.path}{name}" if self.path else f"environment variable {env_name(name)}"
            raise ConfigurationError(f"secret {name!r} is not configured: set the {where}")
        return value
