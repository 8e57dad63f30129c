"""Notifications: the `notification.send` directive handler and a pluggable sender backend."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..domain.models import Directive
from ..domain.registry import Registry

log = logging.getLogger(__name__)


class NotificationSender(Protocol):
    def send(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]: ...


class LogSender:
    """Default sender: a structured log line. Swap in email/SMS/WhatsApp by registering another backend."""

    def send(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        log.info("notification", extra={"topic": topic, "order_ref": payload.get("order_ref")})
        return {"sent": True, "via": "log"}


def register(registry: Registry) -> None:
    registry.register_backend("notification", "default", LogSender())

    @registry.register_handler("notification.send")
    def send_notification(directive: Directive, ctx: Any) -> dict[str, Any]:
        sender: NotificationSender = registry.backend("notification")
        return sender.send(directive.topic, directive.payload)
