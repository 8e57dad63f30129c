"""boto3 clients pointed at AWS, LocalStack or the embedded emulator, from one setting."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_BOTO_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)


@cache
def client(service: str, endpoint_url: str | None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, config=_BOTO_CONFIG)


class LazyClient:
    """Stands in for `client(service, endpoint_url)` and makes it on first use.

    Making a client loads its service model and endpoint rules (tens of milliseconds, more for SSM's large model):
    every function imports the whole app, and one that never sends a message or reads a secret should not pay for
    those clients at its cold start. Every attribute is the real client's, so callers cannot tell the difference.
    """

    def __init__(self, service: str, endpoint_url: str | None) -> None:
        self.service = service
        self.endpoint_url = endpoint_url

    def __getattr__(self, name: str) -> Any:  # only names the proxy itself lacks get here
        return getattr(client(self.service, self.endpoint_url), name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, {self.endpoint_url!r})"
