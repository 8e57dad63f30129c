"""When the search index is rebuilt: once the catalog has been quiet for a moment, and never later than a bound. Pure.

Every catalog write sends a `catalog.reindex` directive, delayed by the quiet period, and records itself as the
catalog's latest write. A directive that finds a later write has nothing to do: that write's own directive comes
after it. The latest write's directive rebuilds once the catalog has been quiet long enough: a lone write after
`quiet_seconds`; a write that came within `burst_quiet_seconds` of the one before it (a run of writes, such as an
import in batches) after `burst_quiet_seconds`, so that the run costs one rebuild at its end instead of one per
batch. However long the writes keep coming, none waits for the index more than `max_lag_seconds` (plus the
rebuild): past that, any reindex directive rebuilds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NamedTuple


class Debounce(NamedTuple):
    quiet_seconds: float
    burst_quiet_seconds: float
    max_lag_seconds: float


class CatalogWrites(NamedTuple):
    """What the catalog's version item says about its writes."""

    version: int  # catalog writes so far
    updated_at: datetime | None  # the latest write
    previous_write_at: datetime | None  # the write before it
    last_write: str | None  # the token (its reindex directive's id) of the latest write
    dirty_since: datetime | None  # the oldest write the published index may lack


class Plan(NamedTuple):
    action: Literal["current", "superseded", "wait", "rebuild"]
    until: datetime | None = None  # "wait": when to look again


def plan(now: datetime, writes: CatalogWrites, indexed_version: int, token: str, debounce: Debounce) -> Plan:
    """What the reindex directive of the write `token` does now, given the index published at `indexed_version`."""
    if indexed_version >= writes.version:
        return Plan("current")
    latest = writes.updated_at or now
    dirty_since = min(writes.dirty_since or latest, latest)
    deadline = dirty_since + timedelta(seconds=debounce.max_lag_seconds)
    if now >= deadline:
        return Plan("rebuild")
    if writes.last_write is not None and token != writes.last_write:
        return Plan("superseded")
    # A write hard on the heels of another: a run, which may well go on.
    previous = writes.previous_write_at
    in_a_run = previous is not None and latest - previous < timedelta(seconds=debounce.burst_quiet_seconds)
    quiet = debounce.burst_quiet_seconds if in_a_run else debounce.quiet_seconds
    due = min(latest + timedelta(seconds=quiet), deadline)
    return Plan("wait", due) if now < due else Plan("rebuild")
