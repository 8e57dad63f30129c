"""Structured logs, EMF metrics and traces (Powertools), wired once for every handler.

Tracing is on for an invocation when it runs in a Lambda function (not SAM local or `chalice local`),
POWERTOOLS_TRACE_DISABLED is not true, and X-Ray sampled it (`Sampled=1` in `_X_AMZN_TRACE_ID`, which Lambda sets
for every invocation of a function with active tracing, and for a traced caller's request in pass-through). Only
then is the X-Ray SDK imported (through Powertools' Tracer, which also patches botocore so each AWS call is a
subsegment): it is the largest import of the app (150-350 ms), and a cold start that is not traced, every local
run and every test, never pays for it. Where tracing is on, the first sampled invocation of a process pays it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .domain.registry import Registry

SERVICE = "omniman"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Omniman", service=SERVICE)

_tracer: Any = None
_tracer_lock = threading.Lock()
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})  # what Powertools reads as true


def tracing_on(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this invocation is traced (see the module's docstring)."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    # The conditions Powertools' Tracer disables itself on, outside a real Lambda execution environment.
    if not env.get("LAMBDA_TASK_ROOT") or env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE"):
        return False
    header = env.get("_X_AMZN_TRACE_ID", "")
    return "Sampled=1" in (part.strip() for part in header.split(";"))


def tracer() -> Any:
    """The process's Powertools Tracer, made (and the X-Ray SDK imported) on first use."""
    global _tracer
    if _tracer is None:
        with _tracer_lock:
            if _tracer is None:
                from aws_lambda_powertools import Tracer

                _tracer = Tracer(service=SERVICE)
    return _tracer


def count(name: str) -> Callable[..., None]:
    def hook(*_: Any) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    return hook


def register_metrics(registry: Registry) -> None:
    registry.register_hook("session.modified")(count("SessionsModified"))
    registry.register_hook("order.created")(count("OrdersCommitted"))
    registry.register_hook("order.status_changed")(count("OrderTransitions"))


def observe(kind: str, correlation_id: str | None, run: Callable[[], Any]) -> Any:
    """Runs one invocation with its correlation id on every log line, a trace segment when it is traced, and its
    metrics flushed."""
    logger.set_correlation_id(correlation_id)
    try:
        if not tracing_on():
            return run()
        with tracer().provider.in_subsegment(f"## {kind}"):
            return run()
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
            # With metrics disabled (make run, benchmarks) flush neither prints nor clears, and Powertools would
            # print the set by itself once it holds 100 values: clear it, as every invocation's metrics are done.
            metrics.clear_metrics()
