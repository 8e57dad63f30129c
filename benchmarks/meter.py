"""A request meter for the embedded emulator: what each operation asks of DynamoDB and SQS, and what it costs.

Per operation (a `with meter.op(name):` block on one thread) it records every DynamoDB and SQS request the
attached clients make: the API operation, the capacity units DynamoDB would bill for it, the billed SQS
requests, when it started and ended (so calls can be grouped into sequential round trips), and the time spent
inside moto's request handling. Wall time minus that is the time spent in our code, botocore, pydantic and
Powertools: the part a change to this repository can move.

Capacity units follow DynamoDB's rules (Developer Guide, "Read/write capacity mode" and "Managing settings
on DynamoDB provisioned capacity tables: item sizes"), computed from the items as moto stores them before and
after each write, so an update is billed on the larger of its two images and a replace on the larger of the
old and new item, exactly as DynamoDB does:
- a write: ceil(size / 1 KB) write units, at least 1; in a transaction, twice that;
- a write that fails its condition: ceil(size of the stored item / 1 KB), at least 1 (doubled in a transaction);
- every global secondary index the item is (or was) in: one write of the projected item when it enters, leaves
  or changes in the index, two (a delete and a put) when its index key changes. Index writes are taken at the
  standard rate even for transactional writes: the index is updated after the transaction, outside it;
- a read: ceil(size / 4 KB) read units, at least 1, halved when eventually consistent (every index query is);
  a Query adds up every item it returns before rounding; a BatchGetItem rounds each item on its own.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from . import prices

Attrs = dict[str, Any]  # an item in DynamoDB JSON: {"name": {"S": "..."}, ...}

_active = threading.local()  # the OpRecord the current thread is measuring, if any
_CONTEXT_KEY = "omniman.bench.call"


@dataclass
class Call:
    service: str
    operation: str
    started: float
    ended: float = 0.0
    ok: bool = True
    read_units: float = 0.0
    write_units: float = 0.0  # the table's own writes (transactional ones counted double)
    index_write_units: float = 0.0  # global secondary index writes the table's writes caused
    billed_requests: int = 1  # SQS bills one request per 64 KB chunk of payload

    @property
    def key(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class OpRecord:
    name: str
    function: str
    calls: list[Call] = field(default_factory=list)
    elapsed: float = 0.0
    emulator: float = 0.0
    overhead: float = 0.0  # the meter's own bookkeeping, taken out of every figure
    nested: float = 0.0  # operations measured inside this one count there, not here

    @property
    def wall(self) -> float:
        return max(0.0, self.elapsed - self.overhead - self.nested)

    @property
    def ours(self) -> float:
        return max(0.0, self.wall - self.emulator)

    def requests(self, service: str) -> Counter[str]:
        return Counter(c.operation for c in self.calls if c.service == service)

    def round_trips(self, include_esm: bool = True) -> list[list[Call]]:
        """Calls grouped into sequential waves: a call that starts before the previous wave ended joins it."""
        waves: list[list[Call]] = []
        end = -math.inf
        for call in sorted(self.calls, key=lambda c: c.started):
            if not include_esm and call.key in prices.ESM_OPERATIONS:
                continue
            if waves and call.started < end:
                waves[-1].append(call)
                end = max(end, call.ended)
            else:
                waves.append([call])
                end = call.ended
        return waves

    def store_latency_ms(self) -> float:
        """Expected time waiting on AWS, on the function's clock: each wave costs its slowest call."""
        return sum(max(prices.latency_ms(c.service, c.operation) for c in wave)
                   for wave in self.round_trips(include_esm=False))


@dataclass(frozen=True)
class OpSummary:
    """One operation over several runs: request counts as most runs saw them, capacity units their mean, times
    and round trips their median."""

    name: str
    function: str
    runs: int
    dynamodb: dict[str, int]
    sqs: dict[str, int]
    steady: bool  # every run made the same requests
    read_units: float
    write_units: float
    index_write_units: float
    sqs_billed: float
    round_trips: float
    store_latency_ms: float
    wall_ms: float
    emulator_ms: float
    ours_ms: float

    @property
    def dynamodb_requests(self) -> int:
        return sum(self.dynamodb.values())

    @property
    def sqs_requests(self) -> int:
        return sum(self.sqs.values())


def summarize(records: list[OpRecord]) -> OpSummary:
    signatures = Counter(_signature(r) for r in records)
    typical, _ = signatures.most_common(1)[0]
    like = [r for r in records if _signature(r) == typical]

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    # Capacity units are means: they are exact, and differ with the run's place in a flow (the 5th modify writes
    # a bigger session than the 1st), so a mean times the runs per order is the order's exact total.
    return OpSummary(
        name=records[0].name, function=records[0].function, runs=len(records),
        dynamodb=dict(typical[0]), sqs=dict(typical[1]), steady=len(signatures) == 1,
        read_units=mean([sum(c.read_units for c in r.calls) for r in like]),
        write_units=mean([sum(c.write_units for c in r.calls) for r in like]),
        index_write_units=mean([sum(c.index_write_units for c in r.calls) for r in like]),
        sqs_billed=mean([sum(c.billed_requests for c in r.calls if c.service == "sqs") for r in like]),
        round_trips=median([len(r.round_trips()) for r in like]),
        store_latency_ms=median([r.store_latency_ms() for r in like]),
        # Times over every run: a slow run is part of what the operation costs.
        wall_ms=median([r.wall * 1000 for r in records]),
        emulator_ms=median([r.emulator * 1000 for r in records]),
        ours_ms=median([r.ours * 1000 for r in records]),
    )


def _signature(record: OpRecord) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    return tuple(sorted(record.requests("dynamodb").items())), tuple(sorted(record.requests("sqs").items()))


class Meter:
    """Attach the clients to watch, then measure operations with `op`. One meter per process is enough."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.records: list[OpRecord] = []
        # Sizing reads the emulator's state around every write: only exact while one thread writes at a time.
        self.size_items = True
        self._attached: set[int] = set()
        self._lock = threading.Lock()
        _time_the_emulator()

    def attach(self, client: Any) -> Any:
        if id(client) in self._attached:
            return client  # registered twice, every call would count twice
        self._attached.add(id(client))
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-parameter-build.{service}", self._before)
        client.meta.events.register(f"after-call.{service}", self._after)
        return client

    @contextmanager
    def op(self, name: str, function: str = "api_handler") -> Iterator[OpRecord]:
        record = OpRecord(name, function)
        outer = getattr(_active, "record", None)
        _active.record = record
        started = time.perf_counter()
        try:
            yield record
        finally:
            record.elapsed = time.perf_counter() - started
            _active.record = outer
            if outer is not None:
                outer.nested += record.elapsed
            with self._lock:
                self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def discard_since(self, mark: int) -> None:
        """Forgets what was measured after `mark`: a warm-up run, whose one-time costs are not the operation's."""
        with self._lock:
            del self.records[mark:]

    def summaries(self) -> dict[str, OpSummary]:
        by_name: dict[str, list[OpRecord]] = {}
        for record in self.records:
            by_name.setdefault(record.name, []).append(record)
        return {name: summarize(records) for name, records in by_name.items()}

    # --- botocore event handlers ------------------------------------------------------------------------
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        record: OpRecord | None = getattr(_active, "record", None)
        if record is None:
            return
        began = time.perf_counter()
        service = model.service_model.service_id.hyphenize()
        before = self._images(model.name, params) if self.size_items and service == "dynamodb" else None
        call = Call(service, model.name, started=0.0)
        context[_CONTEXT_KEY] = (record, call, params, before)
        now = time.perf_counter()
        record.overhead += now - began
        call.started = now

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
               **_: Any) -> None:
        ended = time.perf_counter()
        entry = context.pop(_CONTEXT_KEY, None)
        if entry is None:
            return
        record, call, params, before = entry
        call.ended = ended
        call.ok = http_response.status_code < 300
        if call.service == "dynamodb" and self.size_items:
            self._bill_dynamodb(call, params, parsed, before)
        elif call.service == "sqs":
            call.billed_requests = _sqs_chunks(model.name, params, parsed)
        record.calls.append(call)
        record.overhead += time.perf_counter() - ended

    # --- DynamoDB capacity ------------------------------------------------------------------------------
    def _table(self, name: str) -> Any:
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region].get_table(name)

    def _stored(self, table_name: str, key: Attrs) -> Attrs | None:
        table = self._table(table_name)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_key, range_key)
        return item.to_json()["Attributes"] if item is not None else None

    def _key(self, table_name: str, attrs: Attrs) -> Attrs:
        table = self._table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: attrs[n] for n in names}

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, Attrs, bool]]:
        """(table, key, transactional) of every item a write request may change."""
        if operation == "PutItem":
            return [(params["TableName"], self._key(params["TableName"], params["Item"]), False)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], False)]
        if operation == "TransactWriteItems":
            targets = []
            for entry in params["TransactItems"]:
                (kind, body), = entry.items()
                key = self._key(body["TableName"], body["Item"]) if kind == "Put" else body["Key"]
                targets.append((body["TableName"], key, True))
            return targets
        if operation == "BatchWriteItem":
            targets = []
            for table_name, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append((table_name, self._key(table_name, request["PutRequest"]["Item"]), False))
                    else:
                        targets.append((table_name, request["DeleteRequest"]["Key"], False))
            return targets
        return []

    def _images(self, operation: str, params: dict[str, Any]) -> list[Attrs | None]:
        return [self._stored(table, key) for table, key, _ in self._targets(operation, params)]

    def _bill_dynamodb(self, call: Call, params: dict[str, Any], parsed: dict[str, Any],
                       before: list[Attrs | None] | None) -> None:
        targets = self._targets(call.operation, params)
        if targets:
            images = before or [None] * len(targets)
            for (table_name, key, transactional), old in zip(targets, images, strict=True):
                factor = 2 if transactional else 1
                if not call.ok:
                    call.write_units += factor * _units(item_size(old), prices.WRITE_UNIT_BYTES)
                    continue
                new = self._stored(table_name, key)
                call.write_units += factor * _units(max(item_size(old), item_size(new)), prices.WRITE_UNIT_BYTES)
                call.index_write_units += self._index_units(table_name, old, new)
            return
        call.read_units = self._read_units(call.operation, params, parsed)

    def _index_units(self, table_name: str, old: Attrs | None, new: Attrs | None) -> float:
        units = 0.0
        table = self._table(table_name)
        for index in table.global_indexes:
            before, after = _index_entry(index, table, old), _index_entry(index, table, new)
            if before is None and after is None:
                continue
            if before is None or after is None:
                units += _units(item_size(before or after), prices.WRITE_UNIT_BYTES)
            elif _index_key(index, before) != _index_key(index, after):
                units += _units(item_size(before), prices.WRITE_UNIT_BYTES) + _units(item_size(after),
                                                                                    prices.WRITE_UNIT_BYTES)
            elif _canonical(before) != _canonical(after):
                units += _units(max(item_size(before), item_size(after)), prices.WRITE_UNIT_BYTES)
        return units

    def _read_units(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
        if operation == "GetItem":
            item = parsed.get("Item")
            if "ProjectionExpression" in params:  # billed on the whole item, not on what came back
                item = self._stored(params["TableName"], params["Key"])
            return _read(item_size(item), params.get("ConsistentRead", False))
        if operation == "BatchGetItem":
            units = 0.0
            found = parsed.get("Responses", {})
            for table_name, request in params["RequestItems"].items():
                items = found.get(table_name, [])
                consistent = request.get("ConsistentRead", False)
                units += sum(_read(item_size(i), consistent) for i in items)
                units += (len(request["Keys"]) - len(items)) * _read(0, consistent)  # a miss costs the minimum
            return units
        if operation in ("Query", "Scan"):
            consistent = params.get("ConsistentRead", False) and "IndexName" not in params
            return _read(sum(item_size(i) for i in parsed.get("Items", [])), consistent)
        if operation == "TransactGetItems":
            return 2 * sum(_read(item_size(r.get("Item")), True) for r in parsed.get("Responses", []))
        return 0.0


def _read(size: int, consistent: bool) -> float:
    units = _units(size, prices.READ_UNIT_BYTES)
    return units if consistent else units / 2


def _units(size: int, unit_bytes: int) -> int:
    return max(1, math.ceil(size / unit_bytes))


def _index_entry(index: Any, table: Any, item: Attrs | None) -> Attrs | None:
    """The item as the index holds it, or None when the item is not in the index (sparse)."""
    if item is None or not all(k in item for k in index.schema_key_attrs):
        return None
    projection = (index.projection or {}).get("ProjectionType", "ALL")
    if projection == "ALL":
        return item
    keep = set(index.schema_key_attrs) | {table.hash_key_attr, table.range_key_attr}
    if projection == "INCLUDE":
        keep |= set(index.projection.get("NonKeyAttributes", []))
    return {k: v for k, v in item.items() if k in keep}


def _index_key(index: Any, entry: Attrs) -> str:
    return _canonical({k: entry[k] for k in index.schema_key_attrs})


def _canonical(attrs: Attrs) -> str:
    return json.dumps(attrs, sort_keys=True, default=str)


def item_size(item: Attrs | None) -> int:
    """DynamoDB's item size: attribute names plus values, in bytes (names and strings as UTF-8)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(_binary(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(_number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(_binary(b)) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _number_size(raw: str) -> int:
    # One byte per two significant digits, plus one; leading and trailing zeros do not count.
    digits = Decimal(raw).normalize().as_tuple().digits
    significant = len(digits) if any(digits) else 1
    return math.ceil(significant / 2) + 1


def _binary(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else base64.b64decode(raw)


def _sqs_chunks(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> int:
    if operation == "SendMessage":
        payload = len(json.dumps(params, default=str))
    elif operation == "SendMessageBatch":
        payload = sum(len(json.dumps(e, default=str)) for e in params.get("Entries", []))
    elif operation == "ReceiveMessage":
        payload = sum(len(json.dumps(m, default=str)) for m in parsed.get("Messages", []))
    else:
        return 1
    return max(1, math.ceil(payload / prices.SQS_BILLING_CHUNK_BYTES))


def _time_the_emulator() -> None:
    """Wraps moto's in-process request handling with a timer that charges the measuring thread's operation."""
    if getattr(BotocoreStubber.process_request, "_omniman_timed", False):
        return
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        record: OpRecord | None = getattr(_active, "record", None)
        started = time.perf_counter()
        try:
            return original(self, request)
        finally:
            if record is not None:
                record.emulator += time.perf_counter() - started

    process_request._omniman_timed = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
