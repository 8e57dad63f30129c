"""What every benchmark runs on: the embedded emulator with the stage's resources, the demo catalog, and a way to
run an operation the way a Lambda invocation runs it."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar

from devstack.resources import env_for_stage

STAGE = "bench"
# What .chalice/config.json gives every function of every stage (PYDANTIC_DISABLE_PLUGINS): the app runs here as it
# runs deployed.
DEPLOYED_ENV: dict[str, str] = json.loads(
    (Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text()).get("environment_variables", {})
# Before anything builds a client or imports the app: both read the environment.
# The flows drain their setup's catalog.reindex directives before they measure, so those must be due at once
# (benchmarks/catalog.py measures the product's own quiet periods).
BENCH_ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
             "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
             "OMNIMAN_REINDEX_QUIET_SECONDS": "0", "OMNIMAN_REINDEX_BURST_QUIET_SECONDS": "0", **DEPLOYED_ENV,
             **env_for_stage(STAGE)}
os.environ.update(BENCH_ENV)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack.atomic_moto import make_dynamodb_atomic  # noqa: E402
from devstack.resources import deploy  # noqa: E402

T = TypeVar("T")


@contextmanager
def emulated_hub() -> Iterator[Any]:
    """The app's Hub on a fresh embedded emulator with the stage's tables and queues."""
    warnings.filterwarnings("ignore")  # moto's unsupported-resource and Powertools' no-Lambda-context notes
    # moto logs each template resource it cannot create (the alarms): noise, not a benchmark figure.
    logging.getLogger("moto").setLevel(logging.ERROR)
    make_dynamodb_atomic()
    with mock_aws():
        deploy(boto3.client("cloudformation"), STAGE)
        from chalicelib.bootstrap import hub

        yield hub()


def invoke(kind: str, run: Callable[[], T]) -> T:
    """Runs `run` as one invocation of a function: inside the product's `observe`, as every handler does.

    Then empties Powertools' metric set. With POWERTOOLS_METRICS_DISABLED, `flush_metrics` neither prints nor
    clears it, so values pile up from one invocation to the next; `add_metric` prints the set by itself when a
    metric reaches 100 values, without looking at that switch (Powertools 3.37,
    metrics/provider/cloudwatch_emf/cloudwatch.py). That is the EMF line a long benchmark run used to print.
    """
    from chalicelib.observability import metrics, observe

    try:
        return observe(kind, None, run)
    finally:
        metrics.clear_metrics()


def ensure_stock(hub: Any, store_code: str, skus: list[str], on_hand: int, price_q: int = 100) -> None:
    """A store with these skus on its shelf, whether or not the demo seed (or another benchmark) made some."""
    from chalicelib.domain.errors import Conflict
    from chalicelib.inventory import service

    with suppress(Conflict):
        service.create_store(hub, {"code": store_code, "name": store_code})
    for sku in skus:
        with suppress(Conflict):
            service.create_product(hub, {"sku": sku, "name": sku, "price_q": price_q})
        service.set_on_hand(hub, store_code, sku, {"on_hand": on_hand})


def seed_demo(hub: Any) -> None:
    """The local stack's demo channels (pos, web, marketplace, shop) and catalog: the flows the README shows."""
    from devstack.demo import seed

    seed(hub)


class Worker:
    """A worker function on one queue, fed as the event source mapping feeds it, one record per invocation.

    One record per invocation is what a quiet queue gets on AWS too, and it lets each directive be measured on its
    own: the handler runs as operation "{prefix}: run {topic}" on `function`, and the mapping's own receive and
    delete as "{prefix}: event source mapping" (billed, but not on the function's clock).
    """

    def __init__(self, hub: Any, meter: Any, queue_name: str, function: str, *, batch_size: int = 1) -> None:
        from devstack.lambdas import Function
        from devstack.poller import QueuePoller

        self.hub = hub
        self.meter = meter
        self.function = function
        self.prefix = "worker"
        self.topics: list[str] = []
        sqs = meter.attach(boto3.client("sqs")) if meter is not None else boto3.client("sqs")
        self.poller = QueuePoller(sqs, queue_name, Function(function, self._handle), batch_size=batch_size,
                                  wait_seconds=0)

    def _handle(self, event: dict[str, Any], context: Any) -> Any:
        from chalicelib.directives import worker

        topics = [_topic(r.get("body", "")) for r in event["Records"]]
        self.topics += topics
        scope = self.meter.op(f"{self.prefix}: run {'+'.join(topics)}", self.function) if self.meter else nullcontext()
        with scope:
            return invoke("sqs", lambda: worker.handle_batch(self.hub, event, context))

    def run_one(self, prefix: str) -> str:
        """Delivers the next message; returns its topic. Fails loudly if the queue was empty."""
        self.prefix = prefix
        if self.meter is None:
            received = self.poller.poll_once()
        else:
            with self.meter.op(f"{prefix}: event source mapping", "esm"):
                received = self.poller.poll_once()
        if received != 1:
            raise RuntimeError(f"expected one message on {self.poller.queue_name}, received {received}")
        return self.topics[-1]

    def drain(self) -> int:
        """Delivers until the queue is empty; returns how many messages it delivered."""
        delivered = 0
        while (received := self.poller.poll_once()) > 0:
            delivered += received
        return delivered


def _topic(body: str) -> str:
    try:
        return str(json.loads(body).get("topic", "?"))
    except (ValueError, AttributeError):
        return "?"
