"""Demo channels, so a fresh stack can take an order at once. Safe to run on every start."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.inventory import service as inventory
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

# The catalog and the shelf of the `shop` channel: internal prices from the catalog, stock held per session.
STORE = {"code": "main", "name": "Main store", "location": "Local"}
PRODUCTS = [
    {"sku": "SHOE", "name": "Running shoe", "price_q": 8900, "category": "shoes", "on_hand": 10},
    {"sku": "SOCK", "name": "Sock pack", "price_q": 1200, "category": "accessories", "on_hand": 50},
    {"sku": "CAP", "name": "Cap", "price_q": 1900, "category": "accessories", "on_hand": 2},
]

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
        "config": {"order_flow": MARKETPLACE_FLOW, "locked_writable_data": ["notes"]},
    },
    {
        # The event-driven OMS seed, played by itself: OrderCreated -> payment requested of the simulator ->
        # its signed webhook pays the order -> shipping handler -> processing -> shipped -> delivered.
        "code": "oms", "name": "Event-driven OMS (simulated providers)", "pricing_policy": "external",
        "edit_policy": "open",
        "config": {"order_flow": MARKETPLACE_FLOW, "event_handlers": ["payment", "shipping"],
                   "payment": {"backend": "simulator", "simulate_delay_seconds": 1},
                   "shipping": {"backend": "simulator", "simulate_delay_seconds": 1}},
    },
    {
        "code": "shop", "name": "Shop with stock", "pricing_policy": "internal", "edit_policy": "open",
        "config": {
            "checks": {"stock": {"directive_topic": "stock.hold", "hold_ttl_minutes": 15, "store_code": "main"}},
            "required_checks_on_commit": ["stock"],
            "post_commit_directives": ["stock.commit", "notification.send"],
        },
    },
]


def seed(hub: Hub) -> list[str]:
    """Creates the demo catalog, stock and channels that do not exist yet; returns the channel codes it created."""
    _seed_inventory(hub)
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


def _seed_inventory(hub: Hub) -> None:
    try:
        inventory.create_store(hub, STORE)
    except Conflict as exc:
        if exc.code != "store_exists":
            raise
        return  # seeded by an earlier run: stock may have moved since, leave it
    for product in PRODUCTS:
        inventory.create_product(hub, {k: v for k, v in product.items() if k != "on_hand"})
        inventory.set_on_hand(hub, STORE["code"], product["sku"], {"on_hand": product["on_hand"]})
