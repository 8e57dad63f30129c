"""Makes moto's DynamoDB behave as DynamoDB does where the product relies on it, at DynamoDB's cost.

1. Each request is atomic. moto evaluates a ConditionExpression and then writes without a lock, so two threads can
   both pass the same condition: a lost update real DynamoDB never allows. Serialising moto's DynamoDB request
   handling restores the per-request atomicity the product's conditional writes rely on.
2. A transaction costs what it touches. moto 5.2 backs up every table a TransactWriteItems names by deep-copying
   it, once per item the transaction names, so each transaction costs time in proportion to the whole table (at
   10,000 products and their stock, the catalog seed spent most of its minutes there). Here only the items the
   transaction names are backed up, and put back exactly when it is cancelled: all or nothing as before, items it
   created included. moto computes its indexes from the items at query time, so they follow.
3. An item costs its bytes to answer. moto 5.2 turns every attribute value of an answer into JSON by walking the
   botocore model for it (about 5 ms per catalog product), so one read of the whole catalog took a minute at 10,000
   products. Items are already in DynamoDB's wire form by then: they are written out as they are, binary values
   base64-encoded as the model would.
4. A query reads its partition. moto 5.2 starts every Query by sorting every item of the table, then keeps the
   partition asked for, then sorts what it kept: at 40,000 items (10,000 products with their stock) one key query
   took about a second. Here a table query starts from its partition alone and an index query from the table's
   items unsorted; the answer is the same, since moto sorts what it keeps by the full key anyway.

It changes the emulator only, never the application code, for the local stack and the tests alike.
"""

from __future__ import annotations

import base64
import copy
import functools
import inspect
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()


def make_dynamodb_atomic() -> None:
    if getattr(DynamoHandler.call_action, "_omniman_atomic", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            return original(self)

    call_action._omniman_atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _back_up_only_named_items()
    _write_items_as_they_are()
    _query_reads_its_partition()


@dataclass
class _Saved:
    """One item a transaction names, as it was before it ran."""

    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # a deep copy; None: the item did not exist
    had_partition: bool  # moto keeps a range-keyed table's items in one dict per hash key


def _back_up_only_named_items() -> None:
    if "__deepcopy__" in vars(Table):
        raise RuntimeError("moto's Table copies itself now: review devstack/atomic_moto.py before using this moto")
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            saved = _save(self, transact_items)
            streams = {id(t): (t, len(t.stream_shard.items)) for t in self.tables.values() if t.stream_shard}
            # moto's own backup becomes the table itself (its rollback then reassigns the table to itself): the
            # items below are the backup. Every DynamoDB request holds the lock, so no other copy runs meanwhile.
            Table.__deepcopy__ = _itself  # type: ignore[attr-defined]
            try:
                original(self, transact_items)
            except BaseException:
                _restore(saved)
                for table, length in streams.values():
                    del table.stream_shard.items[length:]  # type: ignore[union-attr]
                raise
            finally:
                del Table.__deepcopy__  # type: ignore[attr-defined]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _itself(table: Table, memo: dict[int, Any]) -> Table:
    return table


def _save(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    saved: dict[tuple[int, DynamoType, DynamoType | None], _Saved] = {}
    for entry in transact_items if isinstance(transact_items, list) else []:
        for op in entry.values() if isinstance(entry, dict) else []:
            located = _locate(backend, op)
            if located is None or (id(located[0]), *located[1:]) in saved:
                continue
            table, hash_key, range_key = located
            partition = table.items.get(hash_key)
            current = partition.get(range_key) if range_key is not None and partition is not None else partition
            saved[(id(table), hash_key, range_key)] = _Saved(table, hash_key, range_key, copy.deepcopy(current),
                                                             partition is not None)
    return list(saved.values())


def _locate(backend: DynamoDBBackend, op: Any) -> tuple[Table, DynamoType, DynamoType | None] | None:
    """The table and key an operation writes, or None when moto will refuse it before writing anything."""
    if not isinstance(op, dict):
        return None
    table = backend.tables.get(op.get("TableName"))  # moto also takes an ARN
    if table is None:
        table = next((t for t in backend.tables.values() if t.table_arn == op.get("TableName")), None)
    key = op.get("Item") if "Item" in op else op.get("Key")  # a Put names its key inside its item
    if table is None or not isinstance(key, dict):
        return None
    try:
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        hash((hash_key, range_key))  # a value moto cannot read (an "N" that is no number) fails here, not below
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, ArithmeticError):
        return None
    return table, hash_key, range_key


def _restore(saved: list[_Saved]) -> None:
    for s in saved:
        items = s.table.items
        if s.range_key is None:
            if s.item is None:
                items.pop(s.hash_key, None)
            else:
                items[s.hash_key] = s.item
            continue
        if s.item is not None:
            items[s.hash_key][s.range_key] = s.item
        elif s.hash_key in items:
            items[s.hash_key].pop(s.range_key, None)
        if not s.had_partition and s.hash_key in items and not items[s.hash_key]:
            del items[s.hash_key]


# --- 3. items written out as they are ----------------------------------------------------------------------------

ATTRIBUTE_VALUE = "AttributeValue"  # the shape of one value in DynamoDB's (and its streams') model


def _write_items_as_they_are() -> None:
    structure, mapping = BaseJSONSerializer._serialize_type_structure, BaseJSONSerializer._serialize_type_map

    @functools.wraps(structure)
    def serialize_structure(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == ATTRIBUTE_VALUE and _is_value(value):
            self._default_serialize(serialized, _wire(value), shape, key)
        else:
            structure(self, serialized, value, shape, key)

    @functools.wraps(mapping)
    def serialize_map(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        # An item or a key: attribute name -> value.
        if shape.value.name == ATTRIBUTE_VALUE and isinstance(value, dict) and all(map(_is_value, value.values())):
            self._default_serialize(serialized, {name: _wire(v) for name, v in value.items()}, shape, key)
        else:
            mapping(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_map = serialize_map  # type: ignore[method-assign]


def _is_value(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1


def _wire(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value, as moto's DynamoDB answers hold it ({type: value}, binary as bytes), in JSON form."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: _base64(inner)}
    if kind == "BS":
        return {kind: [_base64(v) for v in inner]}
    if kind == "M":
        return {kind: {name: _wire(v) for name, v in inner.items()}}
    if kind == "L":
        return {kind: [_wire(v) for v in inner]}
    if kind in ("S", "N"):
        return {kind: str(inner)}
    if kind in ("SS", "NS"):
        return {kind: [str(v) for v in inner]}
    return {kind: inner}  # BOOL, NULL


def _base64(raw: bytes | str) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


# --- 4. a query reads its partition ------------------------------------------------------------------------------

_querying = threading.local()


def _query_reads_its_partition() -> None:
    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(query)

    @functools.wraps(query)
    def scoped_query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        _querying.scope = (self, None if bound.get("index_name") else bound.get("hash_key"))
        try:
            return query(self, *args, **kwargs)
        finally:
            _querying.scope = None

    @functools.wraps(all_items)
    def items_for(self: Table) -> list[Item]:
        table, hash_key = getattr(_querying, "scope", None) or (None, None)
        if table is not self:
            return all_items(self)  # a Scan, a backup...: moto's own, in key order
        if hash_key is not None:
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]  # type: ignore[list-item]
        return [i for p in self.items.values() for i in (p.values() if self.range_key_attr else [p])]

    Table.query = scoped_query  # type: ignore[method-assign]
    Table.all_items = items_for  # type: ignore[method-assign]
