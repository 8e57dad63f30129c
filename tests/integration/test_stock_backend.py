"""The DynamoDB stock backend on moto: atomic multi-sku holds, replace-not-accumulate, expiry at the instant,
idempotent release/commit/restock, the sweeper, and no oversell under real threads."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.inventory import service
from chalicelib.inventory.backend import MAX_HOLD_SKUS
from chalicelib.inventory.errors import (
    BelowReserved,
    HoldsCommitted,
    InsufficientStock,
    LapsedHoldUnavailable,
    TooManySkus,
    UnknownSku,
)
from chalicelib.inventory.models import Shortage

T0 = "2030-01-01T00:00:00.000Z"


def at(minutes: float) -> str:
    """T0 plus some minutes, in the canonical form."""
    moment = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def line(sku: str, qty) -> dict:
    return {"sku": sku, "qty": Decimal(str(qty))}


@pytest.fixture
def stock(hub):
    """Store `s1` with A=10, B=5, C=3 on hand; returns the backend."""
    service.create_store(hub, {"code": "s1", "name": "Store 1"})
    for sku, on_hand in (("A", 10), ("B", 5), ("C", 3)):
        service.create_product(hub, {"sku": sku, "name": sku, "price_q": 100})
        service.set_on_hand(hub, "s1", sku, {"on_hand": on_hand})
    return hub.inventory.stock


def levels(backend, *skus: str, now: str | None = None) -> dict[str, tuple]:
    out = {}
    for sku in skus:
        level = backend.get_stock("s1", sku, now)
        assert level.on_hand - level.reserved == level.available
        out[sku] = (level.on_hand, level.reserved, level.available)
    return out


def stored(hub, sku: str) -> tuple:
    """The row exactly as stored (no expiry arithmetic), with its invariant checked."""
    row = hub.inventory.store.get_stock("s1", sku)
    assert row.on_hand - row.reserved == row.available
    assert row.available >= 0 and row.reserved >= 0
    return row.on_hand, row.reserved, row.available


def holds_of(hub, owner: str) -> dict[str, tuple]:
    _, holds = hub.inventory.store.owner_state(owner)
    return {h.sku: (h.qty, h.status) for h in holds}


# --- all or nothing ---------------------------------------------------------

def test_multi_sku_hold_with_one_short_sku_reserves_nothing(stock, hub):
    with pytest.raises(InsufficientStock) as err:
        stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 6), line("C", 1)])
    assert err.value.shortages == [Shortage(sku="B", requested=Decimal(6), available=Decimal(5))]
    assert err.value.code == "insufficient_stock" and err.value.status == 409
    assert levels(stock, "A", "B", "C") == {"A": (10, 0, 10), "B": (5, 0, 5), "C": (3, 0, 3)}
    assert holds_of(hub, "pos:T1") == {}


def test_every_short_sku_is_named(stock):
    stock.create_holds("s1", "web:OTHER", [line("A", 8)])
    with pytest.raises(InsufficientStock) as err:
        stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 1), line("C", "3.5")])
    assert err.value.shortages == [Shortage(sku="A", requested=Decimal(3), available=Decimal(2)),
                                   Shortage(sku="C", requested=Decimal("3.5"), available=Decimal(3))]
    assert levels(stock, "A", "B", "C") == {"A": (10, 8, 2), "B": (5, 0, 5), "C": (3, 0, 3)}


def test_repeated_skus_are_aggregated(stock, hub):
    holds = stock.create_holds("s1", "pos:T1", [line("A", 1), line("B", "0.5"), line("A", 2)])
    assert [(h.sku, h.qty) for h in holds] == [("A", 3), ("B", Decimal("0.5"))]
    assert levels(stock, "A", "B") == {"A": (10, 3, 7), "B": (5, Decimal("0.5"), Decimal("4.5"))}
    with pytest.raises(InsufficientStock) as err:
        stock.create_holds("s1", "pos:T2", [line("A", 5), line("A", 3)])
    assert err.value.shortages == [Shortage(sku="A", requested=Decimal(8), available=Decimal(7))]


def test_unknown_skus_are_named_and_nothing_is_reserved(stock, service_product):
    with pytest.raises(UnknownSku) as err:
        stock.create_holds("s1", "pos:T1", [line("A", 1), line("GHOST", 1), line("NOSTOCK", 1)])
    assert err.value.skus == ["GHOST", "NOSTOCK"]
    with pytest.raises(UnknownSku) as err:
        stock.create_holds("s1", "pos:T1", [line("A", 1), line("bad#sku", 1)])
    assert err.value.skus == ["bad#sku"]
    with pytest.raises(UnknownSku):
        stock.create_holds("elsewhere", "pos:T1", [line("A", 1)])
    assert levels(stock, "A") == {"A": (10, 0, 10)}


@pytest.fixture
def service_product(hub):
    """A product with no stock row in s1."""
    service.create_product(hub, {"sku": "NOSTOCK", "name": "n", "price_q": 1})


def test_too_many_skus_is_refused_before_any_write(stock):
    with pytest.raises(TooManySkus):
        stock.create_holds("s1", "pos:T1", [line(f"SKU{i}", 1) for i in range(MAX_HOLD_SKUS + 1)])


def test_bad_items_are_invalid_input(stock):
    for items in ([{"sku": "A", "qty": 0}], [{"sku": "A", "qty": "-1"}], [{"sku": "A"}], "A", [None],
                  [{"sku": "A", "qty": "1.0001"}]):
        with pytest.raises(Exception) as err:
            stock.create_holds("s1", "pos:T1", items)
        assert getattr(err.value, "status", None) == 400, items
    assert levels(stock, "A") == {"A": (10, 0, 10)}


# --- re-hold replaces -------------------------------------------------------

def test_rehold_replaces_instead_of_accumulating(stock, hub):
    first = stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 2)])
    second = stock.create_holds("s1", "pos:T1", [line("A", 5), line("C", 1)])
    assert levels(stock, "A", "B", "C") == {"A": (10, 5, 5), "B": (5, 0, 5), "C": (3, 1, 2)}
    assert holds_of(hub, "pos:T1") == {"A": (5, "held"), "B": (2, "released"), "C": (1, "held")}
    # the same sku keeps its hold id while it stays held
    assert first[0].hold_id == second[0].hold_id
    stock.create_holds("s1", "pos:T1", [line("A", 1)])
    assert levels(stock, "A", "B", "C") == {"A": (10, 1, 9), "B": (5, 0, 5), "C": (3, 0, 3)}
    stock.create_holds("s1", "pos:T1", [line("A", 1)])
    assert levels(stock, "A") == {"A": (10, 1, 9)}


def test_failed_rehold_keeps_the_previous_holds(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 4), line("B", 1)])
    with pytest.raises(InsufficientStock) as err:
        stock.create_holds("s1", "pos:T1", [line("A", 11)])
    # its own 4 count as available to it: 6 free + 4 held
    assert err.value.shortages == [Shortage(sku="A", requested=Decimal(11), available=Decimal(10))]
    assert holds_of(hub, "pos:T1") == {"A": (4, "held"), "B": (1, "held")}
    stock.create_holds("s1", "pos:T1", [line("A", 10)])
    assert levels(stock, "A", "B") == {"A": (10, 10, 0), "B": (5, 0, 5)}


def test_empty_rehold_releases_everything(stock):
    stock.create_holds("s1", "pos:T1", [line("A", 4)])
    assert stock.create_holds("s1", "pos:T1", []) == []
    assert levels(stock, "A") == {"A": (10, 0, 10)}
    assert stock.commit_holds("pos:T1", "O-1") == 0
    assert levels(stock, "A") == {"A": (10, 0, 10)}


def test_check_availability_counts_the_owners_own_hold(stock):
    stock.create_holds("s1", "pos:T1", [line("A", 8)])
    mine = stock.check_availability("s1", [line("A", 6), line("A", 4), line("B", 1)], "pos:T1")
    assert mine.ok and mine.unknown == ()
    assert [(x.sku, x.requested, x.available) for x in mine.lines] == [("A", 10, 10), ("B", 1, 5)]
    theirs = stock.check_availability("s1", [line("A", 3), line("GHOST", 1)], "pos:T2")
    assert not theirs.ok
    assert theirs.unknown == ("GHOST",)
    assert theirs.shortages == (Shortage(sku="A", requested=Decimal(3), available=Decimal(2)),)
    assert levels(stock, "A") == {"A": (10, 8, 2)}  # checking reserves nothing


# --- release, commit, restock ----------------------------------------------

def test_release_is_idempotent(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 2)])
    assert stock.release_holds("pos:T1") == 2
    assert stock.release_holds("pos:T1") == 0
    assert levels(stock, "A", "B") == {"A": (10, 0, 10), "B": (5, 0, 5)}
    assert holds_of(hub, "pos:T1") == {"A": (3, "released"), "B": (2, "released")}
    assert stock.release_holds("pos:NOBODY") == 0


def test_commit_deducts_exactly_once(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", "1.5")])
    assert stock.commit_holds("pos:T1", "O-1") == 2
    after = {"A": (7, 0, 7), "B": (Decimal("3.5"), 0, Decimal("3.5"))}
    assert levels(stock, "A", "B") == after
    assert stock.commit_holds("pos:T1", "O-1") == 0
    assert levels(stock, "A", "B") == after
    _, holds = hub.inventory.store.owner_state("pos:T1")
    assert {(h.status, h.order_ref, h.commit_mode) for h in holds} == {("committed", "O-1", "reserved")}
    with pytest.raises(HoldsCommitted):
        stock.commit_holds("pos:T1", "O-2")
    with pytest.raises(HoldsCommitted):
        stock.create_holds("s1", "pos:T1", [line("A", 1)])
    assert stock.release_holds("pos:T1") == 0
    assert levels(stock, "A", "B") == after


def test_commit_ignores_skus_a_rehold_dropped(stock):
    stock.create_holds("s1", "pos:T1", [line("A", 2), line("B", 1)])
    stock.create_holds("s1", "pos:T1", [line("A", 2)])
    assert stock.commit_holds("pos:T1", "O-1") == 1
    assert levels(stock, "A", "B") == {"A": (8, 0, 8), "B": (5, 0, 5)}


def test_concurrent_duplicate_commits_deduct_once(stock):
    stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 2)])
    results = run_together(8, lambda i: stock.commit_holds("pos:T1", "O-1"))
    assert sorted(results) == [0] * 7 + [2]
    assert levels(stock, "A", "B") == {"A": (7, 0, 7), "B": (3, 0, 3)}


def test_restock_puts_a_cancelled_order_back_once(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 2)])
    stock.commit_holds("pos:T1", "O-1")
    assert levels(stock, "A", "B") == {"A": (7, 0, 7), "B": (3, 0, 3)}
    assert stock.restock_order("pos:T1", "O-1") == 2
    assert stock.restock_order("pos:T1", "O-1") == 0
    assert levels(stock, "A", "B") == {"A": (10, 0, 10), "B": (5, 0, 5)}
    assert holds_of(hub, "pos:T1") == {"A": (3, "restocked"), "B": (2, "restocked")}
    assert stock.commit_holds("pos:T1", "O-1") == 0  # a late duplicate commit deducts nothing
    assert stock.restock_order("pos:T1", "O-OTHER") == 0
    assert levels(stock, "A", "B") == {"A": (10, 0, 10), "B": (5, 0, 5)}


def test_restock_before_the_commit_ran_releases_and_blocks_the_late_commit(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 3)])
    assert stock.restock_order("pos:T1", "O-1") == 1
    assert levels(stock, "A") == {"A": (10, 0, 10)}
    assert stock.commit_holds("pos:T1", "O-1") == 0
    assert levels(stock, "A") == {"A": (10, 0, 10)}
    assert holds_of(hub, "pos:T1") == {"A": (3, "released")}


# --- expiry -----------------------------------------------------------------

def test_expired_hold_frees_stock_at_the_instant_without_a_sweeper(stock, hub):
    [hold] = stock.create_holds("s1", "pos:T1", [line("A", 10)], ttl_minutes=15, now=T0)
    assert hold.expires_at == at(15)
    just_before = "2030-01-01T00:14:59.999Z"
    assert levels(stock, "A", now=just_before) == {"A": (10, 10, 0)}
    assert levels(stock, "A", now=at(15)) == {"A": (10, 0, 10)}
    with pytest.raises(InsufficientStock):
        stock.create_holds("s1", "pos:T2", [line("A", 1)], now=just_before)
    # At the expiry instant another owner holds it; nothing swept the first hold.
    stock.create_holds("s1", "pos:T2", [line("A", 4)], now=at(15))
    assert stored(hub, "A") == (10, 4, 6)
    assert holds_of(hub, "pos:T1") == {"A": (10, "released")}
    assert levels(stock, "A", now=at(15)) == {"A": (10, 4, 6)}


def test_expired_holds_of_other_owners_are_given_back_for_a_new_hold(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 6)], ttl_minutes=5, now=T0)
    stock.create_holds("s1", "pos:T2", [line("A", 3)], ttl_minutes=30, now=T0)
    # T1 lapsed at minute 5, T2 is live: 1 free + 6 lapsed = 7
    assert levels(stock, "A", now=at(10)) == {"A": (10, 3, 7)}
    with pytest.raises(InsufficientStock) as err:
        stock.create_holds("s1", "pos:T3", [line("A", 8)], now=at(10))
    assert err.value.shortages == [Shortage(sku="A", requested=Decimal(8), available=Decimal(7))]
    stock.create_holds("s1", "pos:T3", [line("A", 7)], now=at(10))
    assert stored(hub, "A") == (10, 10, 0)


def test_owner_can_renew_its_own_expired_hold(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 4)], ttl_minutes=5, now=T0)
    [renewed] = stock.create_holds("s1", "pos:T1", [line("A", 4)], ttl_minutes=5, now=at(10))
    assert renewed.expires_at == at(15)
    assert stored(hub, "A") == (10, 4, 6)
    assert levels(stock, "A", now=at(12)) == {"A": (10, 4, 6)}


def test_lapsed_hold_commits_only_from_available_stock(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 3), line("B", 5)], ttl_minutes=5, now=T0)
    stock.create_holds("s1", "pos:T2", [line("B", 5)], now=at(6))  # takes all of B once T1 lapsed
    with pytest.raises(LapsedHoldUnavailable) as err:
        stock.commit_holds("pos:T1", "O-1", now=at(7))
    assert err.value.shortages == [Shortage(sku="B", requested=Decimal(5), available=Decimal(0))]
    assert stored(hub, "A") == (10, 3, 7) and stored(hub, "B") == (5, 5, 0)  # nothing deducted
    stock.release_holds("pos:T2")
    assert stock.commit_holds("pos:T1", "O-1", now=at(8)) == 2
    assert stored(hub, "A") == (7, 0, 7) and stored(hub, "B") == (0, 0, 0)
    _, holds = hub.inventory.store.owner_state("pos:T1")
    assert {h.sku: h.commit_mode for h in holds} == {"A": "reserved", "B": "direct"}
    assert stock.commit_holds("pos:T1", "O-1", now=at(9)) == 0
    assert stored(hub, "A") == (7, 0, 7) and stored(hub, "B") == (0, 0, 0)


def test_sweeper_releases_expired_holds_once(stock, hub):
    stock.create_holds("s1", "pos:T1", [line("A", 2), line("B", 1)], ttl_minutes=5, now=T0)
    stock.create_holds("s1", "pos:T2", [line("A", 3)], ttl_minutes=60, now=T0)
    assert stock.release_expired(now=at(4)) == 0
    assert service.sweep_expired_holds(hub, now=at(5)) == {"released": 2}
    assert service.sweep_expired_holds(hub, now=at(5)) == {"released": 0}
    assert stored(hub, "A") == (10, 3, 7) and stored(hub, "B") == (5, 0, 5)
    assert holds_of(hub, "pos:T1") == {"A": (2, "released"), "B": (1, "released")}
    assert stock.release_expired(now=at(61), limit=1) == 1
    assert stored(hub, "A") == (10, 0, 10)


# --- concurrency: no oversell -----------------------------------------------

def run_together(n: int, fn):
    """Starts n real threads at the same instant and returns their results in thread order."""
    barrier = threading.Barrier(n)

    def task(i):
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # the outcome under test
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def test_32_owners_racing_for_10_units_never_oversell(stock, hub):
    results = run_together(32, lambda i: stock.create_holds("s1", f"pos:R{i}", [line("A", 1)]))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"list": 10, "InsufficientStock": 22}, [r for r in results if not isinstance(r, list)][:3]
    assert all(r.shortages == [Shortage(sku="A", requested=Decimal(1), available=Decimal(0))]
               for r in results if isinstance(r, InsufficientStock))
    assert stored(hub, "A") == (10, 10, 0)
    winners = [i for i, r in enumerate(results) if isinstance(r, list)]
    assert sum(holds_of(hub, f"pos:R{i}")["A"][0] for i in winners) == 10


def test_32_owners_racing_for_two_skus_never_oversell(stock, hub):
    service.set_on_hand(hub, "s1", "B", {"on_hand": 7})
    results = run_together(32, lambda i: stock.create_holds("s1", f"pos:R{i}", [line("A", 1), line("B", 1)]))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"list": 7, "InsufficientStock": 25}
    # A still has 3 free: only B is named short
    assert all([s.sku for s in r.shortages] == ["B"] for r in results if isinstance(r, InsufficientStock))
    assert stored(hub, "A") == (10, 7, 3)
    assert stored(hub, "B") == (7, 7, 0)


def test_one_owner_rehold_racing_itself_never_accumulates(stock, hub):
    results = run_together(12, lambda i: stock.create_holds("s1", "pos:SAME", [line("A", 1 + i % 3),
                                                                                 line("B" if i % 2 else "C", 1)]))
    assert all(isinstance(r, list) for r in results), results
    holds = {sku: qty for sku, (qty, status) in holds_of(hub, "pos:SAME").items() if status == "held"}
    # Exactly one call's holds survive, and the rows reserve exactly them.
    assert holds in [{h.sku: h.qty for h in r} for r in results]
    for sku in ("A", "B", "C"):
        assert stored(hub, sku)[1] == holds.get(sku, 0)


def test_holds_racing_a_recount_keep_the_books_consistent(stock, hub):
    def act(i):
        if i % 4 == 0:
            return service.set_on_hand(hub, "s1", "A", {"on_hand": 10 + i})
        return stock.create_holds("s1", f"pos:R{i}", [line("A", 1)])

    results = run_together(24, act)
    # A recount below what the winners already hold is refused, never applied.
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientStock | BelowReserved)]
    held = sum(isinstance(r, list) for r in results)
    _, reserved, available = stored(hub, "A")
    assert reserved == held and available >= 0


def test_a_lower_fence_never_replaces_a_newer_hold_set(stock, hub):
    from chalicelib.inventory.errors import StaleHoldRequest

    stock.create_holds("s1", "c:S", [line("A", 3)], fence=2)
    with pytest.raises(StaleHoldRequest):
        stock.create_holds("s1", "c:S", [line("A", 1)], fence=1)
    assert stored(hub, "A") == (10, 3, 7)
    stock.create_holds("s1", "c:S", [line("A", 2)], fence=2)  # a redelivery of the same rev
    stock.create_holds("s1", "c:S", [line("A", 4)], fence=3)
    assert stored(hub, "A") == (10, 4, 6)
