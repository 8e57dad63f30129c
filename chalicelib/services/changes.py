"""Reads the change feed: a channel's changes (or every readable channel's) after a cursor, long-polling on request.

Each channel is read with one strongly consistent query per poll, up to its first missing number (see
domain/feed.py). With `wait`, an empty answer is held back and the feed read again every `POLL_SECONDS` until a
change arrives or the wait is over, so a display sees a new order within about a second without polling the API.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from ..domain.access import Principal
from ..domain.errors import Gone, InvalidInput
from ..domain.feed import (
    Cursor,
    Entry,
    Position,
    contiguous,
    decode_cursor,
    encode_cursor,
    merge,
    parse_types,
    parse_wait,
    visible,
)
from .hub import Hub

POLL_SECONDS = 0.3
# Each poll reads every channel once: beyond this many, a consumer names the channel it wants.
MAX_CHANNELS = 25


class ChangesPage(NamedTuple):
    items: list[dict[str, Any]]
    next_cursor: str


def read(hub: Hub, caller: Principal, *, after: str | None, channel: str | None, types: str | None, limit: int,
         wait: str | None) -> ChangesPage:
    wanted, wait_seconds = parse_types(types), parse_wait(wait)
    codes = _channels(hub, caller, channel)
    if after == "now":
        cursor = {code: _head(hub, code) for code in codes}
    else:
        given = decode_cursor(after) if after else {}
        cursor = {code: given.get(code, Position(0, 0)) for code in codes}
        _check_retention(hub, cursor)
    deadline = time.monotonic() + wait_seconds
    while True:
        page, cursor = _read_once(hub, cursor, wanted, limit)
        remaining = deadline - time.monotonic()
        if page.items or remaining <= 0:
            return page
        time.sleep(min(POLL_SECONDS, remaining))


def _channels(hub: Hub, caller: Principal, channel: str | None) -> list[str]:
    if channel is not None:
        caller.require_read(channel)
        return [hub.channels.get(channel).code]
    readable = caller.visible_channels()
    if readable is None:
        codes = [str(i["code"]) for i in hub.db.query_all("gsi1pk", "CHANNELS", index="gsi1",
                                                         limit=MAX_CHANNELS + 1)]
    else:
        codes = [c.code for c in hub.channels.get_many(sorted(readable))]
    if len(codes) > MAX_CHANNELS:
        raise InvalidInput(f"more than {MAX_CHANNELS} channels: name one with `channel`", code="too_many_channels")
    return codes


def _head(hub: Hub, code: str) -> Position:
    last = hub.feed.last(code)
    return Position(last.seq, int(last.written_epoch)) if last else Position(0, 0)


def _check_retention(hub: Hub, cursor: Cursor) -> None:
    now = int(time.time())
    horizon = now - hub.settings.feed_retention_days * 86_400
    expired = [code for code, p in cursor.items() if 0 < p.epoch < horizon]
    if not expired:
        return
    oldest = dict(cursor)
    for code in expired:
        first = hub.feed.first_retained(code, now)
        oldest[code] = Position(first - 1, now) if first is not None else _head(hub, code)
    raise Gone("the cursor is older than the feed keeps changes: resume from `details.oldest_cursor`",
               code="cursor_expired", details={"oldest_cursor": encode_cursor(oldest),
                                               "retention_days": hub.settings.feed_retention_days})


def _read_once(hub: Hub, cursor: Cursor, wanted: frozenset[str] | None, limit: int) -> tuple[ChangesPage, Cursor]:
    served = {code: _served(hub, code, position.seq, limit) for code, position in cursor.items()}
    positions = dict(cursor)
    items = []
    for code, entry in merge(served, limit):
        positions[code] = Position(entry.seq, int(entry.written_epoch))
        if entry.change is not None and visible(entry.change, wanted):
            items.append({**entry.change.model_dump(mode="json"), "seq": entry.seq,
                          "cursor": encode_cursor(positions)})
    return ChangesPage(items, encode_cursor(positions)), positions


def _served(hub: Hub, code: str, after: int, limit: int) -> list[Entry]:
    entries = hub.feed.read(code, after, limit)
    served, stale = contiguous(after, entries, time.time())
    if stale:
        # Numbers whose writers died: void them (never over an entry that landed), then read past them.
        now_ms = int(time.time() * 1000)
        hub.feed.void(code, stale, now_ms, now_ms // 1000 + hub.settings.feed_retention_days * 86_400)
        served, _ = contiguous(after, hub.feed.read(code, after, limit), time.time())
    return served
