"""Demo channels, so a fresh stack can take an order at once. Safe to run on every start."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.services import channels
from chalicelib.services.hub import Hub

PRICES = {"COFFEE": 500, "CROISSANT": 750, "TEA": 400, "WATER": 250}

# An event-driven OMS (marketplace) flow: the marketplace reports payment, shipping and delivery.
MARKETPLACE_FLOW = {
    "initial_status": "pending",
    "transitions": {
        "pending": ["paid", "cancelled", "failed"],
        "paid": ["processing", "cancelled"],
        "processing": ["shipped"],
        "shipped": ["delivered"],
    },
    "terminal_statuses": ["delivered", "cancelled", "failed"],
}

CHANNELS: list[dict[str, Any]] = [
    {
        "code": "pos", "name": "Point of sale", "pricing_policy": "internal", "edit_policy": "open",
        "config": {"pricing": {"prices": PRICES}, "post_commit_directives": ["notification.send"]},
    },
    {
        "code": "web", "name": "Web shop", "pricing_policy": "external", "edit_policy": "open",
        "config": {"post_commit_directives": ["notification.send"]},
    },
    {
        "code": "marketplace", "name": "Marketplace", "pricing_policy": "external", "edit_policy": "locked",
        "config": {"order_flow": MARKETPLACE_FLOW},
    },
]


def seed(hub: Hub) -> list[str]:
    """Creates the demo channels that do not exist yet; returns the codes it created."""
    created = []
    for body in CHANNELS:
        try:
            channels.create(hub, body)
        except Conflict as exc:
            if exc.code != "channel_exists":
                raise
            continue  # an earlier run (or the user) made it: leave it as it is
        created.append(body["code"])
    return created
