"""DynamoDB adapter for the inventory: items <-> models, conditional writes, transaction requests, key queries.

It decides nothing about stock; backend.py does. Every read here is a GetItem or a Query, never a Scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.errors import ConfigurationError, Conflict
from ..domain.reindex import CatalogWrites
from ..services.retry import optimistic
from ..storage import codec
from ..storage.db import ConditionFailed, Db, Page, TransactionConflict, decode_cursor, encode_cursor, strip_keys
from . import keys
from .models import Category, Hold, HoldOwner, Product, StockLevel, StockRow, Store

QUERY_PAGE = 200
NEVER = "1970-01-01T00:00:00.000Z"  # the write before the first one
BATCH_GET_KEYS = 100
BATCH_WRITE_ITEMS = 25
# Stores a stock listing without a store filter may walk through in one page (each one Query of gsi5).
MAX_STORES_PER_PAGE = 5
_STOCK_FIELDS = ("store_code", "sku", "on_hand", "reserved", "available")
_PRODUCT_FIELDS = ("sku", "title", "name", "description", "price_q", "category", "version", "created_at",
                   "updated_at")


def _instant(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


class Contended(Exception):
    """DynamoDB refused a write because a concurrent transaction held one of its items: retrying is safe."""


class InventoryStore:
    def __init__(self, db: Db):
        self.db = db

    # --- stores --------------------------------------------------------------

    def create_store(self, store: Store) -> None:
        try:
            self.db.put(store_item(store), condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise Conflict(f"store {store.code!r} already exists", code="store_exists") from None

    def get_store(self, code: str) -> Store | None:
        item = self.db.get(keys.store(code))
        return Store.model_validate(item) if item else None

    def list_stores(self, limit: int, cursor: str | None) -> Page:
        page = self.db.query("gsi1pk", keys.STORES, index="gsi1", limit=limit, cursor=cursor)
        page.items = [Store.model_validate(i).model_dump(mode="json") for i in page.items]
        return page

    def store_codes_after(self, code: str | None, limit: int) -> tuple[list[str], bool]:
        """The codes of up to `limit` stores after `code` (from the first without one), in code order, and
        whether DynamoDB says there may be more."""
        kwargs = self._index_query("gsi1", "gsi1pk", keys.STORES)
        if code is not None:
            kwargs["ExclusiveStartKey"] = codec.to_item(keys.store_index_key(code))
        resp = self.db.client.query(**kwargs, Limit=limit)
        return [codec.from_item(i)["gsi1sk"] for i in resp.get("Items", [])], "LastEvaluatedKey" in resp

    # --- categories ----------------------------------------------------------

    def get_category(self, category_id: str) -> Category | None:
        item = self.db.get(keys.category(category_id))
        return Category.model_validate(item) if item else None

    def list_categories(self, limit: int, cursor: str | None) -> Page:
        page = self.db.query("gsi1pk", keys.CATEGORIES, index="gsi1", limit=limit, cursor=cursor)
        page.items = [Category.model_validate(i).model_dump(mode="json") for i in page.items]
        return page

    def categories_by_id(self) -> dict[str, Category]:
        """Every category (every page of the categories index): what the search index names categories with."""
        items = self.db.query_all("gsi1pk", keys.CATEGORIES, index="gsi1")
        return {c.id: c for c in (Category.model_validate(strip_keys(i)) for i in items)}

    def create_category_request(self, category: Category) -> dict[str, Any]:
        return {"Put": self.db.put_request(category_item(category), condition="attribute_not_exists(pk)")}

    def category_exists_request(self, category_id: str) -> dict[str, Any]:
        """A transaction's guard that the category is there when the product naming it is written."""
        return {"ConditionCheck": {"TableName": self.db.table, "Key": codec.to_item(keys.category(category_id)),
                                   "ConditionExpression": "attribute_exists(pk)"}}

    # --- products ------------------------------------------------------------

    def get_product(self, sku: str) -> Product | None:
        item = self.db.get(keys.product(sku))
        return Product.model_validate(item) if item else None

    def products(self, skus: list[str], consistent: bool = False) -> dict[str, Product]:
        """The catalog entries of `skus` that exist, in one batch read (100 keys a request)."""
        return {p.sku: p for p in (Product.model_validate(i) for i in self.db.batch_get(
            [keys.product(sku) for sku in dict.fromkeys(skus)], consistent=consistent))}

    def create_product_request(self, product: Product) -> dict[str, Any]:
        return {"Put": self.db.put_request(product_item(product), condition="attribute_not_exists(pk)")}

    def replace_product_request(self, product: Product, read: Product, read_had_version: bool) -> dict[str, Any]:
        """The whole item again, conditional on the version read (items from before versions have none)."""
        if read_had_version:
            return {"Put": self.db.put_request(product_item(product), condition="#ver = :ver",
                                               names={"#ver": "version"}, values={":ver": read.version})}
        return {"Put": self.db.put_request(product_item(product),
                                           condition="attribute_exists(pk) AND attribute_not_exists(#ver)",
                                           names={"#ver": "version"})}

    def get_product_item(self, sku: str) -> dict[str, Any] | None:
        return self.db.get(keys.product(sku))

    def list_products(self, category_id: str | None, min_price_q: int, max_price_q: int, limit: int,
                      cursor: str | None) -> Page:
        """One Query: gsi1 (every product) or gsi2 (one category), the price range as a BETWEEN on the sort key."""
        index, pk = ("gsi2", keys.category_products(category_id)) if category_id else ("gsi1", keys.PRODUCTS)
        low, high = keys.price_range(min_price_q, max_price_q)
        scope = f"{self.db.table}|products|{index}|{pk}|{low}|{high}"
        kwargs = self._index_query(index, f"{index}pk", pk, between=(f"{index}sk", low, high))
        kwargs["Limit"] = limit
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, scope, self._cursor_key())
        resp = self.db.client.query(**kwargs)
        items = [Product.model_validate(strip_keys(codec.from_item(i))).model_dump(mode="json")
                 for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, encode_cursor(last, scope, self._cursor_key()) if last else None)

    def all_products(self) -> Iterator[Product]:
        """Every product, page after page of the products index (by price): what the search index is built from.

        Only the product's own attributes come back, not the index keys: the reads cost the same, the answers
        are lighter.
        """
        kwargs = self._index_query("gsi1", "gsi1pk", keys.PRODUCTS)
        kwargs["ExpressionAttributeNames"].update({f"#p{i}": f for i, f in enumerate(_PRODUCT_FIELDS)})
        kwargs["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(_PRODUCT_FIELDS)))
        while True:
            resp = self.db.client.query(**kwargs)
            for item in resp.get("Items", []):
                yield Product.model_validate(strip_keys(codec.from_item(item)))
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    # --- the catalog version -------------------------------------------------

    def catalog_version(self) -> int:
        """How many catalog writes there have been (0 before the first); strongly consistent."""
        return self.catalog_writes().version

    def catalog_writes(self) -> CatalogWrites:
        """The catalog's version item, strongly consistent: what the reindex debounce decides from."""
        item = self.db.get(keys.catalog_meta(), consistent=True) or {}
        return CatalogWrites(version=int(item.get("version", 0)), updated_at=_instant(item.get("updated_at")),
                             previous_write_at=_instant(item.get("previous_write_at")),
                             last_write=item.get("last_write"), dirty_since=_instant(item.get("dirty_since")))

    def bump_catalog_request(self, now: str, writer: str) -> dict[str, Any]:
        """`ADD version 1` and the write's time and token (`writer`, its reindex directive's id), to ride in the
        transaction of the catalog write it counts. The time of the write before moves to `previous_write_at` (an
        update expression reads the item as it was), and `dirty_since` keeps the first write the index has not seen.
        """
        return {"Update": {
            "TableName": self.db.table,
            "Key": codec.to_item(keys.catalog_meta()),
            "UpdateExpression": "ADD #ver :one SET #prev = if_not_exists(#at, :never), #at = :at, #last = :writer, "
                                "#dirty = if_not_exists(#dirty, :at)",
            "ExpressionAttributeNames": {"#ver": "version", "#at": "updated_at", "#prev": "previous_write_at",
                                         "#last": "last_write", "#dirty": "dirty_since"},
            "ExpressionAttributeValues": codec.to_item({":one": 1, ":at": now, ":writer": writer,
                                                        ":never": NEVER}),
        }}

    def mark_indexed(self, version: int, read_at: str) -> None:
        """After an index of `version` (read at `read_at`) was published: nothing is dirty unless writes came
        since, and then only since `read_at` (what came before is in the index)."""
        names, values = {"#ver": "version"}, {":ver": version}
        try:
            self.db.update(keys.catalog_meta(), {}, remove=("dirty_since",), condition="#ver = :ver", names=names,
                           values=values)
        except ConditionFailed:
            with suppress(ConditionFailed):  # fails only if the version went below ours, which no write does
                self.db.update(keys.catalog_meta(), {"dirty_since": read_at}, condition="#ver > :ver", names=names,
                               values=values)

    # --- batches (the catalog import) ----------------------------------------

    def get_many(self, item_keys: list[dict[str, str]], only_keys: bool = False) -> dict[str, dict[str, Any]]:
        """The items among `item_keys` that exist, by `pk`, strongly consistent: BatchGetItem, 100 keys a request,
        unprocessed keys asked again with backoff. `only_keys`: just whether they exist (`pk` and `sk` back)."""
        found: dict[str, dict[str, Any]] = {}
        unique = list({k["pk"] + "|" + k["sk"]: k for k in item_keys}.values())
        projection = {"ProjectionExpression": "pk, sk"} if only_keys else {}
        for start in range(0, len(unique), BATCH_GET_KEYS):
            pending = [codec.to_item(k) for k in unique[start:start + BATCH_GET_KEYS]]
            for _ in optimistic(attempts=12):
                resp = self.db.client.batch_get_item(
                    RequestItems={self.db.table: {"Keys": pending, "ConsistentRead": True, **projection}})
                for raw in resp.get("Responses", {}).get(self.db.table, []):
                    item = codec.from_item(raw)
                    found[item["pk"]] = item
                pending = resp.get("UnprocessedKeys", {}).get(self.db.table, {}).get("Keys", [])
                if not pending:
                    break
        return found

    def put_many(self, items: list[dict[str, Any]]) -> None:
        """Unconditional puts, 25 per BatchWriteItem, unprocessed items sent again with backoff (bounded: a table
        that keeps throttling ends in a 409 `contention` the caller may retry; what landed stays)."""
        for start in range(0, len(items), BATCH_WRITE_ITEMS):
            pending = [{"PutRequest": {"Item": codec.to_item(i)}} for i in items[start:start + BATCH_WRITE_ITEMS]]
            for _ in optimistic(attempts=12):
                resp = self.db.client.batch_write_item(RequestItems={self.db.table: pending})
                pending = resp.get("UnprocessedItems", {}).get(self.db.table, [])
                if not pending:
                    break

    # --- stock rows ----------------------------------------------------------

    def get_stock(self, store_code: str, sku: str) -> StockLevel | None:
        item = self.db.get(keys.stock(store_code, sku))
        return stock_level(item) if item else None

    def get_stock_row(self, store_code: str, sku: str) -> StockRow | None:
        item = self.db.get(keys.stock(store_code, sku))
        return stock_row(item) if item else None

    def create_stock(self, store_code: str, sku: str, on_hand: Decimal, now: str,
                     reorder_level: Decimal = Decimal(0)) -> None:
        """Raises ConditionFailed when the row exists already (a concurrent first write won)."""
        self._single(lambda: self.db.put(new_stock_item(store_code, sku, on_hand, reorder_level, now),
                                         condition="attribute_not_exists(pk)"))

    def replace_on_hand(self, read: StockLevel, on_hand: Decimal, now: str) -> None:
        """Conditional on every value read: a hold that landed in between fails it (ConditionFailed)."""
        self._single(lambda: self.db.update(
            keys.stock(read.store_code, read.sku),
            # The index attributes again: a row written before gsi5 existed joins its store's listing on its
            # next count; for any other row they are unchanged, so the keys-only index is not written.
            {"on_hand": on_hand, "available": on_hand - read.reserved, "updated_at": now,
             **keys.stock_indexes(read.store_code, read.sku)},
            condition="#oh = :oh AND #rs = :rs AND #av = :av",
            names={"#oh": "on_hand", "#rs": "reserved", "#av": "available"},
            values={":oh": read.on_hand, ":rs": read.reserved, ":av": read.available},
        ))

    def set_reorder_level(self, store_code: str, sku: str, reorder_level: Decimal, now: str) -> None:
        """Only the reorder level (no count moves with it, so no condition beyond the row existing)."""
        self._single(lambda: self.db.update(
            keys.stock(store_code, sku),
            {"reorder_level": reorder_level, "updated_at": now, **keys.stock_indexes(store_code, sku)},
            condition="attribute_exists(pk)",
        ))

    def stock_rows(self, pairs: list[tuple[str, str]]) -> list[StockRow]:
        """The rows of (store, sku) `pairs` that exist, in the order asked, strongly consistent (BatchGetItem)."""
        found = self.get_many([keys.stock(store_code, sku) for store_code, sku in pairs])
        rows = (found.get(keys.stock(store_code, sku)["pk"]) for store_code, sku in pairs)
        return [stock_row(item) for item in rows if item is not None]

    def store_stock_keys(self, store_code: str, after_sku: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` skus stocked in a store after `after_sku`, from the keys-only index gsi5, and whether
        DynamoDB says there may be more."""
        kwargs = self._index_query("gsi5", "gsi5pk", keys.store_stock(store_code))
        if after_sku is not None:
            kwargs["ExclusiveStartKey"] = codec.to_item(keys.stock_index_key(store_code, after_sku))
        resp = self.db.client.query(**kwargs, Limit=limit)
        return [codec.from_item(i)["gsi5sk"] for i in resp.get("Items", [])], "LastEvaluatedKey" in resp

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

    def restock_record(self, order_ref: str, store_code: str, lines: dict[str, Decimal], at: str) -> dict[str, Any]:
        """Created by the transaction that puts an order's deducted stock back, and only once."""
        item = {**keys.restock(order_ref), "order_ref": order_ref, "store_code": store_code,
                "lines": [{"sku": sku, "qty": qty} for sku, qty in lines.items()], "restocked_at": at}
        return {"Put": self.db.put_request(item, condition="attribute_not_exists(pk)")}

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

    # --- queries -------------------------------------------------------------

    def _index_query(self, index: str, pk_attr: str, pk: str,
                     between: tuple[str, str, str] | None = None) -> dict[str, Any]:
        names = {"#pk": pk_attr}
        values: dict[str, Any] = {":pk": pk}
        condition = "#pk = :pk"
        if between is not None:
            names["#sk"] = between[0]
            values.update({":lo": between[1], ":hi": between[2]})
            condition += " AND #sk BETWEEN :lo AND :hi"
        return {"TableName": self.db.table, "IndexName": index, "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": codec.to_item(values)}

    def cursor(self, position: dict[str, str], scope: str) -> str:
        """A signed cursor for a listing whose position is not one DynamoDB key (stock across stores)."""
        return encode_cursor({k: {"S": v} for k, v in position.items()}, f"{self.db.table}|{scope}",
                             self._cursor_key())

    def position(self, cursor: str, scope: str) -> dict[str, str]:
        raw = decode_cursor(cursor, f"{self.db.table}|{scope}", self._cursor_key())
        return {k: v["S"] for k, v in raw.items()}

    def _cursor_key(self) -> bytes:
        key = self.db.cursor_key() if self.db.cursor_key is not None else b""
        if not key:
            raise ConfigurationError("list cursors cannot be signed: no cursor key is configured")
        return key


# --- items ------------------------------------------------------------------


def store_item(store: Store) -> dict[str, Any]:
    return {**keys.store(store.code), **keys.store_indexes(store.code), **store.model_dump(mode="python")}


def category_item(category: Category) -> dict[str, Any]:
    return {**keys.category(category.id), **keys.category_indexes(category.id, category.name),
            **category.model_dump(mode="python")}


def product_item(product: Product) -> dict[str, Any]:
    # `name` is derived from `title` on every read: storing it too would only let the two drift apart.
    return {**keys.product(product.sku), **keys.product_indexes(product.sku, product.price_q, product.category),
            **product.model_dump(mode="python", exclude={"name"})}


def new_stock_item(store_code: str, sku: str, on_hand: Decimal, reorder_level: Decimal, now: str) -> dict[str, Any]:
    return {**keys.stock(store_code, sku), **keys.stock_indexes(store_code, sku), "store_code": store_code,
            "sku": sku, "on_hand": on_hand, "reserved": Decimal(0), "available": on_hand,
            "reorder_level": reorder_level, "updated_at": now}


def stock_level(item: dict[str, Any]) -> StockLevel:
    return StockLevel.model_validate({k: item[k] for k in _STOCK_FIELDS})


def stock_row(item: dict[str, Any]) -> StockRow:
    # Rows written before reorder levels existed have none: nothing is below a level of zero but an empty shelf.
    return StockRow.model_validate({**{k: item[k] for k in _STOCK_FIELDS},
                                    "reorder_level": item.get("reorder_level", Decimal(0))})
