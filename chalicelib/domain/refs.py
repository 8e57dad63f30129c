"""External references (the seed's `contrib.refs`): one value per namespace on a session or an order, unique per
(channel, namespace, value), so an importer can find, and never duplicate, what it created. Pure."""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from .errors import Conflict, InvalidInput, Unprocessable
from .lifecycle import Change, append
from .models import MAX_REFS, Order, RefValue, Session

REF_SET = "OrderRefSet"
REF_REMOVED = "OrderRefRemoved"
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+=~-]{0,199}$")


class RefBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    value: RefValue


class Holder(NamedTuple):
    """What a reference points at: a session until it is committed, then its order."""

    kind: Literal["session", "order"]
    channel: str
    session_key: str
    order_ref: str | None = None

    def attributes(self) -> dict[str, Any]:
        return {"kind": self.kind, "channel": self.channel, "session_key": self.session_key,
                "order_ref": self.order_ref}

    def holds(self, item: dict[str, Any]) -> bool:
        if item.get("kind") != self.kind:
            return False
        return item.get("order_ref") == self.order_ref if self.kind == "order" else \
            item.get("session_key") == self.session_key


def session_holder(session: Session) -> Holder:
    return Holder("session", session.channel_code, session.session_key)


def order_holder(order: Order) -> Holder:
    return Holder("order", order.channel_code, order.session_key, order.ref)


def checked(namespace: str, value: str | None = None) -> None:
    """A namespace (and value) from a path: the same rules as in a body, as a 400."""
    if not _NAMESPACE.fullmatch(namespace):
        raise InvalidInput("a reference namespace is 1-64 of a-z, 0-9, _ . - (e.g. marketplace, pos_ticket)",
                           code="invalid_namespace")
    if value is not None and not _VALUE.fullmatch(value):
        raise InvalidInput("a reference value is 1-200 of A-Z, a-z, 0-9 and _ . : @ + = ~ -", code="invalid_ref")


def ensure_room(refs: dict[str, str], namespace: str) -> None:
    if namespace not in refs and len(refs) >= MAX_REFS:
        raise Unprocessable(f"at most {MAX_REFS} references per session or order", code="too_many_refs",
                            details={"max": MAX_REFS})


def public(item: dict[str, Any]) -> dict[str, Any]:
    fields = ("channel", "namespace", "value", "kind", "order_ref", "session_key", "created_at")
    return {name: item.get(name) for name in fields}


def refuse_if_taken(item: dict[str, Any] | None, holder: Holder) -> None:
    if item is not None and not holder.holds(item):
        where = f"order {item['order_ref']}" if item.get("kind") == "order" else f"session {item.get('session_key')}"
        raise Conflict(f"{item['namespace']} {item['value']!r} already refers to {where} in channel "
                       f"{item['channel']!r}", code="ref_taken", details=public(item))


def set_on_order(change: Change, namespace: str, value: str, actor: str, now: str, key: str | None) -> str | None:
    """Records the reference on the order with its event; returns the value it replaced."""
    ensure_room(change.after.refs, namespace)
    previous = change.after.refs.get(namespace)
    change.after.refs[namespace] = value
    append(change, REF_SET, actor, now, {"namespace": namespace, "value": value, "previous": previous}, key)
    return previous


def remove_from_order(change: Change, namespace: str, actor: str, now: str, key: str | None) -> str:
    value = change.after.refs.pop(namespace)
    append(change, REF_REMOVED, actor, now, {"namespace": namespace, "value": value}, key)
    return value
