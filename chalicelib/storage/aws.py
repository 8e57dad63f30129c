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
