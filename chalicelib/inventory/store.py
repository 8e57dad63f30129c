"""DynamoDB adapter for the inventory: items <-> models, conditional writes, transaction requests, key queries.

It decides nothing about stock; backend.py does. Every read here is a GetItem or a Query, never a Scan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..domain.errors import Conflict
from ..storage import codec
from ..storage.db import ConditionFailed, Db, TransactionConflict, strip_keys
from . import keys
from .models import Hold, HoldOwner, Product, StockLevel, Store

QUERY_PAGE = 200
_STOCK_FIELDS = ("store_code", "sku", "on_hand", "reserved", "available")


class Contended(Exception):
    """DynamoDB refused a write because a concurrent transaction held one of its items: retrying is safe."""


class InventoryStore:
    def __init__(self, db: Db):
        self.db = db

    # --- stores and products -------------------------------------------------

    def create_store(self, store: Store) -> None:
        try:
            self.db.put({**keys.store(store.code), **store.model_dump(mode="python")},
                        condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise Conflict(f"store {store.code!r} already exists", code="store_exists") from None

    def get_store(self, code: str) -> Store | None:
        item = self.db.get(keys.store(code))
        return Store.model_validate(item) if item else None

    def create_product(self, product: Product) -> None:
        try:
            self.db.put({**keys.product(product.sku), **product.model_dump(mode="python")},
                        condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise Conflict(f"product {product.sku!r} already exists", code="product_exists") from None

    def get_product(self, sku: str) -> Product | None:
        item = self.db.get(keys.product(sku))
        return Product.model_validate(item) if item else None

    def products(self, skus: list[str]) -> dict[str, Product]:
        """The catalog entries of `skus` that exist, in one batch read."""
        return {p.sku: p for p in (Product.model_validate(i) for i in self.db.batch_get(
            [keys.product(sku) for sku in dict.fromkeys(skus)]))}

    # --- stock rows ----------------------------------------------------------

    def get_stock(self, store_code: str, sku: str) -> StockLevel | None:
        item = self.db.get(keys.stock(store_code, sku))
        return stock_level(item) if item else None

    def create_stock(self, store_code: str, sku: str, on_hand: Decimal, now: str) -> None:
        """Raises ConditionFailed when the row exists already (a concurrent first write won)."""
        item = {**keys.stock(store_code, sku), "store_code": store_code, "sku": sku, "on_hand": on_hand,
                "reserved": Decimal(0), "available": on_hand, "updated_at": now}
        self._single(lambda: self.db.put(item, condition="attribute_not_exists(pk)"))

    def replace_on_hand(self, read: StockLevel, on_hand: Decimal, now: str) -> None:
        """Conditional on every value read: a hold that landed in between fails it (ConditionFailed)."""
        self._single(lambda: self.db.update(
            keys.stock(read.store_code, read.sku),
            {"on_hand": on_hand, "available": on_hand - read.reserved, "updated_at": now},
            condition="#oh = :oh AND #rs = :rs AND #av = :av",
            names={"#oh": "on_hand", "#rs": "reserved", "#av": "available"},
            values={":oh": read.on_hand, ":rs": read.reserved, ":av": read.available},
        ))

    # Every stock change moves `available` with the others: conditions cannot do arithmetic, so the
    # stored `available` (= on_hand - reserved) is what `available >= :q` guards.

    def reserve(self, store_code: str, sku: str, qty: Decimal) -> dict[str, Any]:
        return self._stock_update(store_code, sku, "#rs = #rs + :q, #av = #av - :q",
                                  "attribute_exists(pk) AND #av >= :q", qty)

    def unreserve(self, store_code: str, sku: str, qty: Decimal) -> dict[str, Any]:
        return self._stock_update(store_code, sku, "#rs = #rs - :q, #av = #av + :q",
                                  "attribute_exists(pk) AND #rs >= :q", qty)

    def deduct_reserved(self, store_code: str, sku: str, qty: Decimal) -> dict[str, Any]:
        return self._stock_update(store_code, sku, "#oh = #oh - :q, #rs = #rs - :q",
                                  "attribute_exists(pk) AND #rs >= :q", qty)

    def deduct_available(self, store_code: str, sku: str, qty: Decimal) -> dict[str, Any]:
        return self._stock_update(store_code, sku, "#oh = #oh - :q, #av = #av - :q",
                                  "attribute_exists(pk) AND #av >= :q", qty)

    def put_back(self, store_code: str, sku: str, qty: Decimal) -> dict[str, Any]:
        return self._stock_update(store_code, sku, "#oh = #oh + :q, #av = #av + :q", "attribute_exists(pk)", qty)

    def _stock_update(self, store_code: str, sku: str, assignments: str, condition: str,
                      qty: Decimal) -> dict[str, Any]:
        names = {"#oh": "on_hand", "#rs": "reserved", "#av": "available"}
        used = {k: v for k, v in names.items() if k in assignments or k in condition}
        return {"Update": {
            "TableName": self.db.table,
            "Key": codec.to_item(keys.stock(store_code, sku)),
            "UpdateExpression": f"SET {assignments}",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": used,
            "ExpressionAttributeValues": codec.to_item({":q": qty}),
        }}

    # --- holds ---------------------------------------------------------------

    def owner_state(self, owner: str) -> tuple[HoldOwner | None, list[Hold]]:
        """The owner's record and all its hold items, strongly consistent (they are what the writes check)."""
        head: HoldOwner | None = None
        holds: list[Hold] = []
        for item in self.db.query_all("pk", keys.holds_partition(owner), consistent=True):
            if item["sk"] == keys.OWNER_SK:
                head = HoldOwner.model_validate(strip_keys(item))
            elif item["sk"].startswith(keys.HOLD_SK_PREFIX):
                holds.append(Hold.model_validate(strip_keys(item)))
        return head, holds

    def get_hold(self, owner: str, store_code: str, sku: str) -> Hold | None:
        item = self.db.get(keys.hold(owner, store_code, sku))
        return Hold.model_validate(item) if item else None

    def expired_holds_of(self, store_code: str, sku: str, now: str, limit: int = QUERY_PAGE) -> list[Hold]:
        """Live holds of one (store, sku) expired at `now`, oldest first (sparse index gsi1)."""
        items = self.db.query_all("gsi1pk", keys.sku_holds_partition(store_code, sku), index="gsi1",
                                  sk_before=("gsi1sk", keys.expired_bound(now)), limit=limit)
        return [Hold.model_validate(strip_keys(i)) for i in items]

    def expired_holds(self, now: str, limit: int) -> list[Hold]:
        """Live holds of every store expired at `now`, oldest first (sparse index gsi2): the sweeper's work."""
        items = self.db.query_all("gsi2pk", keys.LIVE_HOLDS, index="gsi2",
                                  sk_before=("gsi2sk", keys.expired_bound(now)), limit=limit)
        return [Hold.model_validate(strip_keys(i)) for i in items]

    def put_hold(self, hold: Hold, read_ver: int | None) -> dict[str, Any]:
        """A hold (re)written whole; conditional on the version read, or on absence when none was."""
        item = {**keys.hold(hold.owner, hold.store_code, hold.sku), **hold.model_dump(mode="python")}
        if hold.status == "held":
            item.update(keys.live_hold_indexes(hold.owner, hold.store_code, hold.sku, hold.expires_at))
        return {"Put": self._conditional_put(item, read_ver)}

    def change_hold(self, read: Hold, values: dict[str, Any]) -> dict[str, Any]:
        """Moves a hold on from the exact state read (status and version); leaving `held` unindexes it."""
        leaving = read.status == "held" and values.get("status", "held") != "held"
        request = self.db.update_request(
            keys.hold(read.owner, read.store_code, read.sku), {**values, "ver": read.ver + 1},
            condition="#hst = :hst AND #hver = :hver", names={"#hst": "status", "#hver": "ver"},
            values={":hst": read.status, ":hver": read.ver},
            remove=keys.LIVE_HOLD_ATTRS if leaving else (),
        )
        return {"Update": request}

    def put_owner(self, head: HoldOwner, read_ver: int | None) -> dict[str, Any]:
        return {"Put": self._conditional_put({**keys.hold_owner(head.owner), **head.model_dump(mode="python")},
                                             read_ver)}

    def _conditional_put(self, item: dict[str, Any], read_ver: int | None) -> dict[str, Any]:
        if read_ver is None:
            return self.db.put_request(item, condition="attribute_not_exists(pk)")
        return self.db.put_request(item, condition="#ver = :ver", names={"#ver": "ver"}, values={":ver": read_ver})

    # --- writes --------------------------------------------------------------

    def transact(self, writes: list[dict[str, Any]]) -> None:
        """All or nothing. ConditionFailed carries one reason per write, in order; Contended means retry."""
        try:
            self.db.transact(writes)
        except TransactionConflict as exc:
            raise Contended() from exc

    def _single(self, write: Any) -> None:
        try:
            write()
        except TransactionConflict as exc:
            raise Contended() from exc


def stock_level(item: dict[str, Any]) -> StockLevel:
    return StockLevel.model_validate({k: item[k] for k in _STOCK_FIELDS})
