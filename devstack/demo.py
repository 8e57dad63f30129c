"""Demo channels, so a fresh stack can take an order at once. Safe to run on every start."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.inventory import seed_data
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
CATEGORIES = [{"id": "shoes", "name": "Shoes"}, {"id": "accessories", "name": "Accessories"}]
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


# The seed_data catalog beside the shop's three products: what search, listings and low-stock reports show.
SEED_PRODUCTS = 60


def catalog_import(products: int = SEED_PRODUCTS, seed: int = 0) -> dict[str, Any]:
    """The seed_data catalog as one import body: its categories, `products` products, 3 stores and their stock.

    Its `main` store is the shop's: the import leaves an existing store as it is, and seed_data's skus
    (FTW-000001, ...) never meet SHOE, SOCK and CAP, so their rows in `main` stay as counted here.
    """
    generated = seed_data.products(products, seed)
    stores = seed_data.stores()
    return {
        "categories": seed_data.categories(),
        "products": [catalog_product(p) for p in generated],
        "stores": stores,
        "stock": seed_data.stock(generated, stores, seed),
    }


def catalog_product(generated: dict[str, Any]) -> dict[str, Any]:
    """A seed_data product as the API takes it (seed_data says `category_id`, the API `category`)."""
    return {"sku": generated["sku"], "title": generated["title"], "description": generated["description"],
            "price_q": generated["price_q"], "category": generated["category_id"]}


def _seed_inventory(hub: Hub) -> None:
    # Idempotent like the import it goes through: a second run writes no new rows and recounts nothing.
    inventory.import_catalog(hub, {
        "categories": CATEGORIES,
        "products": [{k: v for k, v in p.items() if k != "on_hand"} for p in PRODUCTS],
        "stores": [STORE],
        "stock": [{"store_code": STORE["code"], "sku": p["sku"], "on_hand": p["on_hand"]} for p in PRODUCTS],
    })
    inventory.import_catalog(hub, catalog_import())
