"""What `make run` starts, in order, and how each piece is stopped again.

  embedded AWS emulator (moto) -> tables and queues from infra/resources.yaml (CloudFormation)
  -> app imported with the local stage's environment -> demo channels
  -> HTTP API (Chalice's local server) + one SQS poller per worker + the outbox relay schedule.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import boto3

from chalicelib.services import api_keys

from . import environment, summary
from .demo import CHANNELS, seed
from .emulator import HOST, PortUnavailable, start_emulator
from .lambdas import PROJECT_DIR, function
from .poller import QueuePoller
from .resources import deploy
from .schedule import Every
from .server import ApiServer

log = logging.getLogger("devstack")

SCHEDULE_EVERY_SECONDS = 10
JOIN_TIMEOUT_SECONDS = 15


class Stack:
    """What has been started, stopped in reverse order, each step on its own so one failure stops no other."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []

    def on_stop(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def stop(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", name)


def start(stack: Stack, stop: threading.Event) -> str:
    """Starts everything, registering each piece on `stack` as soon as it runs; returns the summary to print.

    Background threads end when `stop` is set (stack.stop() joins them).
    """
    env = os.environ
    target = environment.choose_target(env)
    if target.embedded:
        emulator = start_emulator(environment.emulator_port(env))
        stack.on_stop("emulator", emulator.stop)
        target = dataclasses.replace(target, endpoint_url=emulator.url)
    # Before `import app`: it reads (and validates) its configuration at import.
    environment.prepare(env, target)

    log.info("deploying infra/resources.yaml as stage %r to %s", environment.STAGE, target.description)
    deploy(boto3.client("cloudformation", endpoint_url=target.endpoint_url), environment.STAGE)
    if target.embedded:
        log.info("tables and queues are up; the template's CloudWatch alarms are not emulated by moto")

    app_module = _import_app()
    hub = app_module.HUB
    created = seed(hub)
    log.info("demo channels: %s", f"created {', '.join(created)}" if created else "already there")
    admin_key = _admin_key(hub, env)

    port = environment.api_port(env)
    try:
        api = ApiServer(app_module.app, HOST, port)
    except OSError as exc:
        raise PortUnavailable(f"OMNIMAN_PORT={port} is not free ({exc.strerror})") from None
    api.start()
    stack.on_stop("HTTP server", api.stop)
    env.setdefault("OMNIMAN_PUBLIC_API_URL", api.url)  # where the simulated providers send their webhooks

    workers = []
    for queue, name in ((hub.settings.directives_queue, "directive_worker"),
                        (hub.settings.checks_queue, "check_worker")):
        sqs = boto3.client("sqs", endpoint_url=target.endpoint_url)  # built here: client creation is not thread-safe
        poller = QueuePoller(sqs, queue, function(name, getattr(app_module, name), environment.STAGE))
        poller.start(stop)
        stack.on_stop(f"{queue} poller", _joiner(poller))
        workers.append(f"{queue} -> {name}")

    def outbox_relay(event: dict[str, Any], context: Any) -> Any:
        result = app_module.outbox_relay(event, context)
        if isinstance(result, dict) and result.get("relayed"):  # silent when there was nothing to re-send
            log.info("outbox relay re-sent %s directive(s)", result["relayed"])
        return result

    def hold_sweeper(event: dict[str, Any], context: Any) -> Any:
        result = app_module.hold_sweeper(event, context)
        if isinstance(result, dict) and result.get("released"):
            log.info("hold sweeper gave back %s expired hold(s)", result["released"])
        return result

    region = boto3.session.Session().region_name or env["AWS_DEFAULT_REGION"]
    for name, handler, label in (("outbox_relay", outbox_relay, "outbox relay"),
                                 ("hold_sweeper", hold_sweeper, "hold sweeper")):
        schedule = Every(SCHEDULE_EVERY_SECONDS, function(name, handler, environment.STAGE), region)
        schedule.start(stop)
        stack.on_stop(label, _joiner(schedule))
        workers.append(f"{label} every {SCHEDULE_EVERY_SECONDS} s")

    return summary.render(api.url, target.description, workers, [c["code"] for c in CHANNELS], target.embedded,
                          admin_key)


def _admin_key(hub: Any, env: Any) -> str:
    """OMNIMAN_BOOTSTRAP_ADMIN_KEY becomes the admin key (local stage only); else a new one for this start."""
    chosen = env.get("OMNIMAN_BOOTSTRAP_ADMIN_KEY")
    if chosen:
        api_keys.bootstrap_local_admin(hub.api_keys, hub.settings.stage, chosen)
        return chosen
    _, secret = api_keys.issue(hub.api_keys, {"name": "local-admin", "scopes": ["admin"]}, created_by="devstack")
    return secret


def _import_app() -> Any:
    # `python -m devstack` from another folder would not find app.py otherwise.
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    return importlib.import_module("app")


def _joiner(worker: QueuePoller | Every) -> Callable[[], None]:
    # Threads notice the stop event within one long-poll (or one relay run); daemon threads never block exit.
    def join() -> None:
        worker.join(JOIN_TIMEOUT_SECONDS)

    return join
