"""The change feed: every order event and session commit/abandon of a channel, in one gap-free sequence. Pure.

Each change of a channel gets the next number of that channel's sequence before its transaction is written, and
its feed entry lands in that transaction (or never). Numbers are handed out in order but transactions land in any
order, so a reader serves a channel only up to its first missing number: either that entry is still on its way,
or its writer failed. A writer that loses its transaction voids its numbers at once; a number that stays missing
past `GAP_TIMEOUT_SECONDS` (a writer that died in between) is voided by the reader. Both void with a write that
only lands where no entry is, and every entry is written only where no void is, so each number ends up exactly
one of the two: a consumer resuming from its cursor sees every change once, in order.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from .errors import InvalidInput
from .events import OrderEvent
from .lifecycle import derived_id
from .models import Directive, Subscription

SESSION_COMMITTED = "SessionCommitted"
SESSION_ABANDONED = "SessionAbandoned"
SESSION_TYPES = frozenset({SESSION_COMMITTED, SESSION_ABANDONED})
DELIVERY_TOPIC = "feed.deliver"

MAX_WAIT_SECONDS = 20
# Far longer than a transaction takes once its number is allocated; only a writer that died leaves a gap this old.
GAP_TIMEOUT_SECONDS = 5.0
MAX_TYPES = 20

_POSITION = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,63}):([0-9]{1,15}):([0-9]{1,12})$")
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")


class Change(BaseModel):
    """One change as the feed and the push subscriptions carry it (`seq` and `cursor` are added when read)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use (docs/benchmarks.md)

    id: str  # the event id, or the session's: receivers deduplicate on it
    channel: str
    type: str
    order_ref: str | None = None
    session_key: str | None = None
    occurred_at: str
    event: dict[str, Any]


def order_changes(channel_code: str, session_key: str | None, events: list[OrderEvent]) -> list[Change]:
    return [Change(id=e.event_id, channel=channel_code, type=e.event_type, order_ref=e.aggregate_id,
                   session_key=session_key, occurred_at=e.occurred_at, event=e.model_dump(mode="json"))
            for e in events]


def session_change(change_type: str, channel_code: str, session_key: str, actor: str, at: str,
                   order_ref: str | None = None) -> Change:
    event = {"session_key": session_key, "channel_code": channel_code, "actor": actor, "at": at,
             **({"order_ref": order_ref} if order_ref else {})}
    return Change(id=f"{channel_code}:{session_key}:{change_type}", channel=channel_code, type=change_type,
                  order_ref=order_ref, session_key=session_key, occurred_at=at, event=event)


class Entry(NamedTuple):
    """A numbered slot of a channel's feed: a change, or void (a number whose writer gave it up)."""

    seq: int
    written_epoch: float
    change: Change | None


class Position(NamedTuple):
    seq: int  # the last number consumed (0: nothing yet)
    epoch: int  # when that entry was written (0: unknown), to tell a cursor older than retention


Cursor = dict[str, Position]


def encode_cursor(cursor: Cursor) -> str:
    """`channel:seq:epoch` per channel, comma separated: opaque to clients, readable in a log."""
    return ",".join(f"{code}:{p.seq}:{p.epoch}" for code, p in sorted(cursor.items()))


def decode_cursor(raw: str) -> Cursor:
    if len(raw) > 4096:
        raise _invalid_cursor()
    cursor: Cursor = {}
    for part in raw.split(","):
        match = _POSITION.fullmatch(part)
        if match is None or match.group(1) in cursor:
            raise _invalid_cursor()
        cursor[match.group(1)] = Position(int(match.group(2)), int(match.group(3)))
    return cursor


def _invalid_cursor() -> InvalidInput:
    return InvalidInput("`after` is not a cursor this feed gave (or `now`)", code="invalid_cursor")


def parse_types(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    types = [t.strip() for t in raw.split(",") if t.strip()]
    if not types or len(types) > MAX_TYPES or not all(_TYPE.fullmatch(t) for t in types):
        raise InvalidInput(f"`types` must be 1-{MAX_TYPES} comma-separated event types, e.g. OrderCreated,OrderPaid",
                           code="invalid_types")
    return frozenset(types)


def parse_wait(raw: str | None) -> int:
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 2 or int(raw) > MAX_WAIT_SECONDS:
        raise InvalidInput(f"`wait` must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}",
                           code="invalid_wait")
    return int(raw)


def contiguous(after: int, entries: list[Entry], now_epoch: float) -> tuple[list[Entry], list[int]]:
    """The entries that follow `after` without a gap, and the missing numbers old enough to void.

    Nothing past a gap is served: the missing entry may still land, and serving past it would skip it for good.
    """
    served: list[Entry] = []
    expected = after + 1
    for entry in entries:
        if entry.seq < expected:
            continue
        if entry.seq > expected:
            # The later entry's writer took its number after the missing one's writer took its own.
            stale = now_epoch - entry.written_epoch >= GAP_TIMEOUT_SECONDS
            return served, list(range(expected, entry.seq)) if stale else []
        served.append(entry)
        expected += 1
    return served, []


def merge(per_channel: dict[str, list[Entry]], limit: int) -> list[tuple[str, Entry]]:
    """Several channels' served entries as one list, oldest write first, each channel's own order kept."""
    heads = {code: 0 for code in per_channel}
    merged: list[tuple[str, Entry]] = []
    while len(merged) < limit:
        ready = [(per_channel[c][i].written_epoch, c) for c, i in heads.items() if i < len(per_channel[c])]
        if not ready:
            break
        _, code = min(ready)
        merged.append((code, per_channel[code][heads[code]]))
        heads[code] += 1
    return merged


def visible(change: Change, types: frozenset[str] | None) -> bool:
    return types is None or change.type in types


def delivery_directives(subscriptions: list[Subscription], changes: list[Change], now: str) -> list[Directive]:
    """One push per (change, subscription that wants it), written with the change; its id, derived from both, is the
    receiver's idempotency key."""
    return [Directive(id=derived_id("F", change.id, sub.id), topic=DELIVERY_TOPIC,
                      payload={"subscription": sub.id, "change": change.model_dump(mode="json")},
                      channel_code=change.channel, session_key=change.session_key, order_ref=change.order_ref,
                      created_at=now, updated_at=now)
            for change in changes for sub in subscriptions if not sub.types or change.type in sub.types]
