"""Inventory: stores, products, per-store stock and the atomic holds the stock contrib builds on.

`Inventory` is the public face: `inventory.store` reads and writes stores, products and stock rows;
`inventory.stock` is the StockBackend (availability, holds, commit, release, restock, sweep).
"""

from __future__ import annotations

from ..storage.db import Db
from .backend import DynamoStockBackend, StockBackend
from .store import InventoryStore

__all__ = ["DynamoStockBackend", "Inventory", "InventoryStore", "StockBackend"]


class Inventory:
    def __init__(self, db: Db):
        self.store = InventoryStore(db)
        self.stock = DynamoStockBackend(self.store)
