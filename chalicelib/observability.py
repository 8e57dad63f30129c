"""Structured logs, EMF metrics and traces (Powertools), wired once for every handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from .domain.registry import Registry

logger = Logger(service="omniman")
metrics = Metrics(namespace="Omniman", service="omniman")
tracer = Tracer(service="omniman")


def count(name: str) -> Callable[..., None]:
    def hook(*_: Any) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    return hook


def register_metrics(registry: Registry) -> None:
    registry.register_hook("session.modified")(count("SessionsModified"))
    registry.register_hook("order.created")(count("OrdersCommitted"))
    registry.register_hook("order.status_changed")(count("OrderTransitions"))


def observe(kind: str, correlation_id: str | None, run: Callable[[], Any]) -> Any:
    """Runs one invocation with its correlation id on every log line, a trace segment, and its metrics flushed."""
    logger.set_correlation_id(correlation_id)
    try:
        with tracer.provider.in_subsegment(f"## {kind}"):
            return run()
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
            # With metrics disabled (make run, benchmarks) flush neither prints nor clears, and Powertools would
            # print the set by itself once it holds 100 values: clear it, as every invocation's metrics are done.
            metrics.clear_metrics()
