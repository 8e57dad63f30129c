"""What every benchmark runs on: the embedded emulator with the stage's resources, and a request counter."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devstack.resources import env_for_stage

STAGE = "bench"
# Before anything builds a client or imports the app: both read the environment.
os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
                   **env_for_stage(STAGE)})

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack.atomic_moto import make_dynamodb_atomic  # noqa: E402
from devstack.resources import deploy  # noqa: E402


class Calls:
    """Counts DynamoDB API calls by operation name."""

    def __init__(self, client: Any):
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def take(self) -> dict[str, int]:
        taken = dict(self.counts)
        self.counts.clear()
        return taken


@contextmanager
def emulated_hub() -> Iterator[Any]:
    """The app's Hub on a fresh embedded emulator with the stage's tables and queues."""
    warnings.filterwarnings("ignore")  # moto's unsupported-resource and Powertools' no-Lambda-context notes
    make_dynamodb_atomic()
    with mock_aws():
        deploy(boto3.client("cloudformation"), STAGE)
        from chalicelib.bootstrap import hub

        yield hub()
