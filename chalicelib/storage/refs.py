"""Reference items: `REF#{channel}#{namespace}#{value}`, one per external reference, naming what holds it.

Codes and namespaces never contain `#`, so the key reads back unambiguously whatever the value holds. Every write is
conditional on who holds the reference, and goes in the transaction of the session or order write it belongs to.
"""

from __future__ import annotations

from typing import Any

from ..domain.models import Order, Session
from ..domain.refs import Holder, order_holder, refuse_if_taken, session_holder
from . import codec
from .db import Db


def key(channel: str, namespace: str, value: str) -> dict[str, str]:
    return {"pk": f"REF#{channel}#{namespace}#{value}", "sk": "REF"}


_HELD_BY = "#kind = :kind AND #holder = :holder"


class RefStore:
    def __init__(self, db: Db):
        self.db = db

    def ensure_free(self, refs: dict[str, str], holder: Holder) -> None:
        """409 `ref_taken` when another session or order holds one of `refs` (one consistent read); the writes
        that claim them check it again, atomically."""
        if refs:
            for item in self.db.batch_get([key(holder.channel, ns, v) for ns, v in refs.items()], consistent=True):
                refuse_if_taken(item, holder)

    def claim_requests(self, refs: dict[str, str], holder: Holder, now: str) -> list[dict[str, Any]]:
        return [self.claim_request(ns, value, holder, now) for ns, value in refs.items()]

    def release_requests(self, refs: dict[str, str], holder: Holder) -> list[dict[str, Any]]:
        return [self.release_request(ns, value, holder) for ns, value in refs.items()]

    def move_requests(self, session: Session, order: Order) -> list[dict[str, Any]]:
        """On commit: the session's references now name its order."""
        return [self.move_request(ns, value, session_holder(session), order_holder(order))
                for ns, value in session.refs.items()]

    def claim_request(self, namespace: str, value: str, holder: Holder, now: str) -> dict[str, Any]:
        """Lands only if nobody holds it, or this holder already does (a repeated PUT changes nothing)."""
        names, values = _held_by(holder)
        item = {**key(holder.channel, namespace, value), "namespace": namespace, "value": value, "created_at": now,
                **holder.attributes()}
        return {"Put": self.db.put_request(item, condition=f"attribute_not_exists(pk) OR ({_HELD_BY})",
                                           names=names, values=values)}

    def release_request(self, namespace: str, value: str, holder: Holder) -> dict[str, Any]:
        names, values = _held_by(holder)
        return {"Delete": {"TableName": self.db.table, "Key": codec.to_item(key(holder.channel, namespace, value)),
                           "ConditionExpression": _HELD_BY, "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": codec.to_item(values)}}

    def move_request(self, namespace: str, value: str, session: Holder, order: Holder) -> dict[str, Any]:
        names, values = _held_by(session)
        return {"Update": self.db.update_request(
            key(session.channel, namespace, value), {"kind": order.kind, "order_ref": order.order_ref},
            condition=_HELD_BY, names=names, values=values)}


def _held_by(holder: Holder) -> tuple[dict[str, str], dict[str, Any]]:
    attr = "order_ref" if holder.kind == "order" else "session_key"
    ident = holder.order_ref if holder.kind == "order" else holder.session_key
    return {"#kind": "kind", "#holder": attr}, {":kind": holder.kind, ":holder": ident}
