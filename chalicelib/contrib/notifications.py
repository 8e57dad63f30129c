"""Notifications: the `notification.send` directive handler and its sender backends.

A channel picks its backend in `config.notifications.backend` (`default` logs; `webhook` POSTs a signed
request to `config.notifications.webhook_url`). Other backends (email, SMS) register under their own name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..directives.contract import DirectiveContext, PermanentFailure
from ..domain.models import Directive
from ..domain.registry import Registry
from . import webhooks

log = logging.getLogger(__name__)


class Notification(BaseModel):
    # Built on first use: only the workers that send notifications need it.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str  # the directive id: receivers deduplicate on it
    topic: str
    channel_code: str | None
    order_ref: str | None
    payload: dict[str, Any]
    config: dict[str, Any] = Field(default_factory=dict, exclude=True)  # the channel's `notifications` config


class NotificationSender(Protocol):
    def send(self, notification: Notification) -> dict[str, Any]: ...


class LogSender:
    """Default sender: a structured log line."""

    def send(self, notification: Notification) -> dict[str, Any]:
        log.info("notification", extra={"notification_id": notification.id, "order_ref": notification.order_ref})
        return {"sent": True, "via": "log"}


class WebhookSender:
    """POSTs the notification as JSON, signed with the deployment's webhook secret (see webhooks.py)."""

    def __init__(self, secret: Callable[[], str | None], timeout_seconds: float = 10):
        self.secret = secret
        self.timeout_seconds = timeout_seconds

    def send(self, notification: Notification) -> dict[str, Any]:
        url = notification.config.get("webhook_url")
        if not isinstance(url, str):
            raise PermanentFailure("channel config notifications.webhook_url is not set")
        secret = self.secret()
        if not secret:
            raise PermanentFailure("the webhook secret is not configured: webhooks are never sent unsigned")
        status = webhooks.post(url, notification.model_dump(mode="json"), secret,
                               idempotency_key=notification.id, timeout_seconds=self.timeout_seconds)
        return {"sent": True, "via": "webhook", "status": status}


def register(registry: Registry) -> None:
    registry.register_backend("notification", "default", LogSender())

    @registry.register_handler("notification.send")
    def send_notification(directive: Directive, ctx: DirectiveContext) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if directive.channel_code:
            raw = getattr(ctx.hub.channels.get(directive.channel_code).config, "notifications", None)
            config = raw if isinstance(raw, dict) else {}
        name = config.get("backend", "default")
        try:
            sender: NotificationSender = registry.backend("notification", str(name))
        except LookupError as exc:
            raise PermanentFailure(str(exc)) from None
        return sender.send(Notification(id=directive.id, topic=directive.topic, channel_code=directive.channel_code,
                                        order_ref=directive.order_ref, payload=directive.payload, config=config))


def register_webhook(registry: Registry, secret: Callable[[], str | None]) -> None:
    registry.register_backend("notification", "webhook", WebhookSender(secret))
