from __future__ import annotations

from typing import Any

from ..domain.errors import NotFound
from ..domain.events import OrderEvent, history_entry
from ..domain.models import Order
from . import codec, keys
from .db import Db, Page


class OrderStore:
    def __init__(self, db: Db):
        self.db = db

    def get(self, ref: str) -> Order:
        stored = self.db.get(keys.order(ref))
        if stored is None:
            raise NotFound(f"order {ref!r} does not exist", code="order_not_found")
        return _order(stored)

    def create_requests(self, order: Order, events: list[OrderEvent]) -> list[dict[str, Any]]:
        writes = [{"Put": self.db.put_request(_order_item(order), condition="attribute_not_exists(pk)")}]
        writes += [{"Put": self.db.put_request(_event_item(e), condition="attribute_not_exists(pk)")} for e in events]
        return writes

    def change_requests(self, before: Order, after: Order, events: list[OrderEvent]) -> list[dict[str, Any]]:
        """The change lands only if nobody changed the order since it was read (every change appends an event,
        so `event_seq` moves with each); events are append-only."""
        update = self.db.update_request(
            keys.order(after.ref),
            {
                "status": after.status,
                "event_seq": after.event_seq,
                "doc": after.model_dump_json(by_alias=True),
                **keys.order_status_indexes(after.channel_code, after.status),
            },
            condition="#st = :from AND #seq = :seq",
            names={"#st": "status", "#seq": "event_seq"},
            values={":from": before.status, ":seq": before.event_seq},
        )
        return [{"Update": update}, *({"Put": self.db.put_request(_event_item(e), condition="attribute_not_exists(pk)")}
                                      for e in events)]

    def record_requests(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Payment and shipment records of an order, only ever written with a change of the order (so the order's
        `event_seq` condition orders them too); a new record whose id the same inputs derive lands only once."""
        writes = []
        for record in records:
            new = record.pop("_new", False)
            item = {**keys.order_record(record["order_ref"], record["kind"], record["id"]), **record}
            writes.append({"Put": self.db.put_request(item, condition="attribute_not_exists(pk)" if new else None)})
        return writes

    def records(self, ref: str, kind: str) -> list[dict[str, Any]]:
        """An order's payments (PAY#) or shipments (SHP#), oldest first: one query of the order's partition."""
        items = self.db.query_all("pk", f"ORD#{ref}", sk_prefix=("sk", keys.RECORD_PREFIXES[kind]), consistent=True)
        return [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items]

    def history(self, ref: str) -> list[dict[str, Any]]:
        """The state history, read from the one event stream: each status change, oldest first."""
        items = self.db.query_all("pk", f"ORD#{ref}", sk_prefix=("sk", "EV#"))
        entries = (history_entry(OrderEvent.model_validate(_plain(i))) for i in items)
        return [e for e in entries if e is not None]

    def list(self, channel: str | None, status: str | None, limit: int, cursor: str | None,
             only_channels: frozenset[str] | None = None) -> Page:
        """`only_channels` narrows an all-channel listing inside the query (a page may come back short)."""
        if only_channels is not None and not only_channels:
            return Page([], None)
        if channel and status:
            index, pk = "gsi4", f"ORDERS#CH#{channel}#ST#{status}"
        elif channel:
            index, pk = "gsi2", f"ORDERS#CH#{channel}"
        elif status:
            index, pk = "gsi3", f"ORDERS#ST#{status}"
        else:
            index, pk = "gsi1", "ORDERS"
        narrow: dict[str, object] = {}
        if only_channels is not None:
            # gsi2pk (the order's channel partition) is on every order item, whichever index serves the query.
            codes = sorted(only_channels)
            narrow = {"filter_expression": f"#ch IN ({', '.join(f':ch{i}' for i in range(len(codes)))})",
                      "filter_names": {"#ch": "gsi2pk"},
                      "filter_values": {f":ch{i}": f"ORDERS#CH#{c}" for i, c in enumerate(codes)}}
        page = self.db.query(f"{index}pk", pk, index=index, limit=limit, cursor=cursor, newest_first=True,
                             **narrow)  # type: ignore[arg-type]
        page.items = [_order(i).model_dump(mode="json", by_alias=True) for i in page.items]
        return page

    def events_between(self, ref: str, first: int, last: int) -> list[OrderEvent]:
        """Versions `first`..`last` of the order's events, in order: one strongly consistent query."""
        resp = self.db.client.query(
            TableName=self.db.table, ConsistentRead=True, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":pk": {"S": f"ORD#{ref}"}, ":a": {"S": keys.order_event(ref, first)["sk"]},
                                       ":b": {"S": keys.order_event(ref, last)["sk"]}})
        return [OrderEvent.model_validate(_plain(codec.from_item(i))) for i in resp.get("Items", [])]

    def events(self, ref: str, limit: int, cursor: str | None) -> Page:
        page = self.db.query("pk", f"ORD#{ref}", limit=limit, cursor=cursor, sk_prefix=("sk", "EV#"))
        page.items = [OrderEvent.model_validate(i).model_dump(mode="json") for i in page.items]
        return page


def _order_item(order: Order) -> dict[str, Any]:
    """One JSON document; status and event_seq are attributes too because transitions are conditional on them."""
    return {
        **keys.order(order.ref),
        **keys.order_indexes(order.ref, order.channel_code, order.status, order.created_at),
        "status": order.status,
        "event_seq": order.event_seq,
        "doc": order.model_dump_json(by_alias=True),
    }


def _order(stored: dict[str, Any]) -> Order:
    # Validated on every read (I7): a snapshot of an unknown schema version fails loudly here.
    return Order.model_validate_json(stored["doc"])


def _event_item(event: OrderEvent) -> dict[str, Any]:
    return {**keys.order_event(event.ref, event.version), **event.model_dump(mode="python")}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}
