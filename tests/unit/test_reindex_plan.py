"""The reindex debounce (domain/reindex.py): when a write's reindex directive rebuilds, waits or stands aside."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.reindex import CatalogWrites, Debounce, Plan, plan

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
POLICY = Debounce(quiet_seconds=1, burst_quiet_seconds=10, max_lag_seconds=60)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def writes(version: int = 5, latest: float = 0, previous: float | None = None, last: str = "D-5",
           dirty: float | None = 0) -> CatalogWrites:
    return CatalogWrites(version=version, updated_at=at(latest), previous_write_at=at(previous or -3600),
                         last_write=last, dirty_since=None if dirty is None else at(dirty))


@pytest.mark.parametrize(("now", "state", "indexed", "token", "expected"), [
    # The index already has every write: nothing to do, whoever asks.
    (1, writes(), 5, "D-5", Plan("current")),
    (1, writes(), 7, "D-1", Plan("current")),
    # A lone write: rebuilt once the quiet period after it is over, not before.
    (1, writes(), 4, "D-5", Plan("rebuild")),
    (0.5, writes(), 4, "D-5", Plan("wait", at(1))),
    # A later write exists: its own directive comes after this one.
    (1, writes(), 4, "D-4", Plan("superseded")),
    # A write within the longer quiet period of the one before: a run (an import), which waits for that quiet.
    (31, writes(latest=30, previous=25, dirty=25), 4, "D-5", Plan("wait", at(40))),
    (40, writes(latest=30, previous=25, dirty=25), 4, "D-5", Plan("rebuild")),
    (31, writes(latest=30, previous=19, dirty=30), 4, "D-5", Plan("rebuild")),  # 11 s apart: two lone writes
    # ...but never past the lag bound: then any directive rebuilds, even one a later write superseded.
    (59, writes(latest=55, previous=50, dirty=0), 4, "D-5", Plan("wait", at(60))),
    (60, writes(latest=59, previous=58, dirty=0), 4, "D-1", Plan("rebuild")),
    # An item written before `dirty_since` existed: dirty since its latest write.
    (2, writes(dirty=None), 4, "D-5", Plan("rebuild")),
    (0.2, writes(dirty=None), 4, "D-5", Plan("wait", at(1))),
])
def test_plan(now, state, indexed, token, expected):
    assert plan(at(now), state, indexed, token, POLICY) == expected


# --- an import through the plan -----------------------------------------------------------------------------------


@dataclass
class Catalog:
    """The catalog item and the published index as the worker and the writers change them (storage/search model)."""

    version: int = 0
    updated_at: datetime | None = None
    previous_write_at: datetime | None = None
    last_write: str | None = None
    dirty_since: datetime | None = None
    indexed: int = 0
    rebuilds: list[float] = field(default_factory=list)

    def write(self, now: datetime, token: str) -> None:
        self.version += 1
        self.previous_write_at, self.updated_at, self.last_write = self.updated_at, now, token
        self.dirty_since = self.dirty_since or now

    def run(self, now: datetime, token: str) -> Plan:
        decided = plan(now, CatalogWrites(self.version, self.updated_at, self.previous_write_at, self.last_write,
                                          self.dirty_since), self.indexed, token, POLICY)
        if decided.action == "rebuild":
            self.indexed, self.dirty_since = self.version, None
            self.rebuilds.append((now - T0).total_seconds())
        return decided


def simulate(batches: int, every: float) -> Catalog:
    """Writes `batches` imports `every` seconds apart; each write's directive runs `quiet` later, and a waiting
    directive looks again when told; returns the catalog once every directive has run."""
    catalog = Catalog()
    due = sorted([(n * every, "write", f"D-{n}") for n in range(batches)]
                 + [(n * every + POLICY.quiet_seconds, "run", f"D-{n}") for n in range(batches)])
    while due:
        when, what, token = due.pop(0)
        if what == "write":
            catalog.write(at(when), token)
            continue
        decided = catalog.run(at(when), token)
        if decided.action == "wait" and decided.until is not None:
            due = sorted([*due, ((decided.until - T0).total_seconds(), "run", token)])
    return catalog


@pytest.mark.parametrize(("batches", "every", "rebuilds"), [
    (1, 0, [1.0]),  # a lone write: searchable after the quiet period
    # An import faster than the quiet period: one rebuild, 10 s after its last batch.
    (20, 0.5, [19.5]),
    # Slower: its first batch looks like a lone write; the rest is one run, rebuilt 10 s after its last batch.
    (20, 2.0, [1.0, 48.0]),
    # A 95 s import: also when the second batch has waited for the lag bound (written at 5, rebuilt at 65).
    (20, 5.0, [1.0, 65.0, 105.0]),
])
def test_an_import_costs_one_rebuild_or_one_per_lag_bound(batches, every, rebuilds):
    catalog = simulate(batches, every)
    assert catalog.rebuilds == rebuilds
    assert catalog.indexed == catalog.version == batches
