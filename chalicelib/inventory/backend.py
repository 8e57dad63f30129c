"""The stock backend: availability, atomic holds, commit, release and restock on DynamoDB.

Every stock row keeps `available = on_hand - reserved` stored, because a DynamoDB condition cannot do
arithmetic: a reservation is `reserved += q, available -= q` guarded by `available >= q`, so no interleaving
of writers can oversell or drive `available` below zero.

An owner (a session: "{channel_code}:{session_key}") has at most one hold per (store, sku) and one owner record
whose `ver` every owner-level write checks, so concurrent calls for one owner apply one after the other. A hold
expires by time alone: the moment `expires_at` passes it counts as released, whether or not anyone has swept it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from ..domain.clock import now_iso
from ..domain.errors import InvalidInput, NotFound
from ..domain.ids import new_id
from ..services.retry import optimistic
from ..services.validation import parse
from ..storage.db import ConditionFailed
from .errors import (
    BelowReserved,
    HoldsCommitted,
    InsufficientStock,
    LapsedHoldUnavailable,
    StaleHoldRequest,
    TooManySkus,
    UnknownSku,
)
from .models import SKU_PATTERN, Availability, Hold, HoldLine, HoldOwner, Shortage, SkuAvailability, StockLevel
from .store import Contended, InventoryStore

# One owner record plus, per sku, its hold and its stock row: 1 + 2 * 49 = 99 <= 100 writes per transaction.
MAX_TRANSACTION_WRITES = 100
MAX_HOLD_SKUS = 49
MAX_TTL_MINUTES = 24 * 60
ATTEMPTS = 25
CONDITION_FAILED = "ConditionalCheckFailed"

When = str | datetime | None


# --- the protocol -----------------------------------------------------------


class StockBackend(Protocol):
    """What the stock contrib needs; `owner` names who holds ("{channel_code}:{session_key}")."""

    def check_availability(self, store_code: str, items: Sequence[Mapping[str, Any]], owner: str,
                           now: When = None) -> Availability: ...

    def create_holds(self, store_code: str, owner: str, items: Sequence[Mapping[str, Any]],
                     ttl_minutes: int = 15, now: When = None, fence: int | None = None) -> list[Hold]: ...

    def release_holds(self, owner: str, now: When = None) -> int: ...

    def commit_holds(self, owner: str, order_ref: str, now: When = None) -> int: ...

    def restock_order(self, owner: str, order_ref: str, now: When = None) -> int: ...

    def release_expired(self, now: When = None, limit: int = 100) -> int: ...

    def get_stock(self, store_code: str, sku: str, now: When = None) -> StockLevel: ...


# --- DynamoDB ---------------------------------------------------------------


class DynamoStockBackend:
    def __init__(self, store: InventoryStore):
        self.store = store

    # --- reads ---------------------------------------------------------------

    def get_stock(self, store_code: str, sku: str, now: When = None) -> StockLevel:
        """The stock as of `now`: expired holds count as released even before anyone sweeps them."""
        level = self._effective(store_code, sku, instant(now))
        if level is None:
            raise NotFound(f"store {store_code!r} has no stock of {sku!r}", code="stock_not_found")
        return level

    def check_availability(self, store_code: str, items: Sequence[Mapping[str, Any]], owner: str,
                           now: When = None) -> Availability:
        at = instant(now)
        wanted, malformed = aggregate(items)
        _, holds = self.store.owner_state(_owner(owner))
        own = _own_live(holds, store_code, at)
        lines: list[SkuAvailability] = []
        unknown = list(malformed)
        for sku, qty in wanted.items():
            level = self._effective(store_code, sku, at)
            if level is None:
                unknown.append(sku)
            else:
                lines.append(SkuAvailability(sku=sku, requested=qty, available=level.available + own.get(sku, 0)))
        return Availability(lines=tuple(lines), unknown=tuple(sorted(unknown)))

    # --- holds ---------------------------------------------------------------

    def create_holds(self, store_code: str, owner: str, items: Sequence[Mapping[str, Any]],
                     ttl_minutes: int = 15, now: When = None, fence: int | None = None) -> list[Hold]:
        """Holds exactly `items` for `owner`, all or nothing, replacing whatever the owner held before.

        With a `fence` (e.g. the session rev the items come from), a request whose fence is below the one the
        current set was made for raises StaleHoldRequest: deliveries that arrive out of order cannot
        put back an older set. The owner record's `ver` condition makes the comparison race-free.
        """
        owner = _owner(owner)
        wanted, malformed = aggregate(items)
        if malformed:
            raise UnknownSku(store_code, malformed)
        if len(wanted) > MAX_HOLD_SKUS:
            raise TooManySkus(f"at most {MAX_HOLD_SKUS} distinct skus can be held at once, not {len(wanted)}",
                              details={"max": MAX_HOLD_SKUS, "skus": len(wanted)})
        if isinstance(ttl_minutes, bool) or not isinstance(ttl_minutes, int) \
                or not 1 <= ttl_minutes <= MAX_TTL_MINUTES:
            raise InvalidInput(f"ttl_minutes must be an integer from 1 to {MAX_TTL_MINUTES}", code="invalid_ttl")
        at = instant(now)
        expires_at = _iso(_parse(at) + timedelta(minutes=ttl_minutes))
        gave_back = False
        for _ in optimistic(attempts=ATTEMPTS):
            head, holds = self.store.owner_state(owner)
            _refuse_if_committed(owner, head)
            if fence is not None and head is not None and head.fence > fence:
                raise StaleHoldRequest(owner, fence, head.fence)
            plan = _HoldPlan(self.store, store_code, owner, wanted, head, holds, at, expires_at,
                             max(fence or 0, head.fence if head else 0))
            if len(plan.writes) > MAX_TRANSACTION_WRITES:
                raise TooManySkus(
                    f"replacing {owner!r}'s holds takes {len(plan.writes)} writes, over the "
                    f"{MAX_TRANSACTION_WRITES} of one transaction: release its holds first",
                    details={"max_writes": MAX_TRANSACTION_WRITES, "writes": len(plan.writes)},
                )
            try:
                self.store.transact(plan.writes)
                return plan.holds
            except Contended:
                continue
            except ConditionFailed as exc:
                short, missing, raced = _failures(exc.reasons, plan.reserving)
            if raced:
                continue  # a hold or the owner record changed since it was read
            if missing:
                unknown = [sku for sku in wanted if self.store.get_stock(store_code, sku) is None]
                if unknown:
                    raise UnknownSku(store_code, unknown)
                continue
            if not gave_back:
                # Expired holds still sit in `reserved` until given back: free them, then try once more.
                gave_back = True
                self._give_back_expired(store_code, short, at)
                continue
            shortages = self._shortages(store_code, wanted, holds, at)
            if shortages:
                raise InsufficientStock(shortages)
        raise AssertionError("unreachable: optimistic() raises when exhausted")

    def release_holds(self, owner: str, now: When = None) -> int:
        """Releases the owner's live holds; a second call finds none and releases 0."""
        owner = _owner(owner)
        at = instant(now)
        for _ in optimistic(attempts=ATTEMPTS):
            head, holds = self.store.owner_state(owner)
            live = [h for h in holds if h.status == "held"]
            if not live:
                return 0
            status = "released" if head is None or head.status == "held" else head.status
            writes = [self.store.put_owner(_next_head(owner, head, at, status=status), _ver(head))]
            for hold in live:
                writes += self._release(hold, "released", at)
            try:
                self.store.transact(writes)
                return len(live)
            except (ConditionFailed, Contended):
                continue
        raise AssertionError("unreachable")

    def commit_holds(self, owner: str, order_ref: str, now: When = None) -> int:
        """Turns the owner's current holds into a permanent deduction for `order_ref`, exactly once.

        A held hold moves from reserved to gone (on_hand and reserved drop, available stays). A hold that lapsed
        before this ran is deducted from available stock only if it is there; otherwise nothing is deducted and
        LapsedHoldUnavailable says why. A repeated call deducts nothing and returns 0.
        """
        owner = _owner(owner)
        at = instant(now)
        gave_back = False
        for _ in optimistic(attempts=ATTEMPTS):
            head, holds = self.store.owner_state(owner)
            if head is None:
                return 0
            if head.status in ("committed", "restocked"):
                if head.order_ref == order_ref:
                    return 0
                raise HoldsCommitted(owner, head.order_ref)
            # Only the latest hold set is the order's; holds dropped by a re-hold keep their older set_seq.
            current = [h for h in holds if h.set_seq == head.set_seq and h.status in ("held", "released")]
            writes = [self.store.put_owner(_next_head(owner, head, at, status="committed", order_ref=order_ref),
                                           head.ver)]
            direct: dict[int, Hold] = {}
            for hold in current:
                mode = "reserved" if hold.status == "held" else "direct"
                writes.append(self.store.change_hold(hold, {
                    "status": "committed", "order_ref": order_ref, "commit_mode": mode,
                    "committed_at": at, "updated_at": at,
                }))
                if mode == "reserved":
                    writes.append(self.store.deduct_reserved(hold.store_code, hold.sku, hold.qty))
                else:
                    direct[len(writes)] = hold
                    writes.append(self.store.deduct_available(hold.store_code, hold.sku, hold.qty))
            try:
                self.store.transact(writes)
                return len(current)
            except Contended:
                continue
            except ConditionFailed as exc:
                failed = _failed_positions(exc.reasons)
            if failed - set(direct):
                continue
            lapsed = [direct[i] for i in sorted(failed)]
            if not gave_back:
                gave_back = True
                for hold in lapsed:
                    self._give_back_expired(hold.store_code, [hold.sku], at)
                continue
            shortages = []
            for hold in lapsed:
                level = self._effective(hold.store_code, hold.sku, at)
                available = level.available if level else Decimal(0)
                if hold.qty > available:
                    shortages.append(Shortage(sku=hold.sku, requested=hold.qty, available=max(available, Decimal(0))))
            if shortages:
                raise LapsedHoldUnavailable(order_ref, shortages)
        raise AssertionError("unreachable")

    def restock_order(self, owner: str, order_ref: str, now: When = None) -> int:
        """Undoes a not-fulfilled order: live holds are released, its committed holds put back, exactly once.

        The owner is marked restocked for `order_ref` even when the commit has not run yet, so a late
        commit_holds for that order deducts nothing. Returns how many holds changed.
        """
        owner = _owner(owner)
        at = instant(now)
        for _ in optimistic(attempts=ATTEMPTS):
            head, holds = self.store.owner_state(owner)
            if head is None:
                return 0
            if head.status in ("committed", "restocked") and head.order_ref != order_ref:
                return 0  # the owner's holds belong to another order
            live = [h for h in holds if h.status == "held"]
            committed = [h for h in holds if h.status == "committed" and h.order_ref == order_ref]
            if head.status == "restocked" and not live and not committed:
                return 0
            writes = [self.store.put_owner(_next_head(owner, head, at, status="restocked", order_ref=order_ref),
                                           head.ver)]
            for hold in live:
                writes += self._release(hold, "released", at)
            for hold in committed:
                writes.append(self.store.change_hold(hold, {"status": "restocked", "restocked_at": at,
                                                            "updated_at": at}))
                writes.append(self.store.put_back(hold.store_code, hold.sku, hold.qty))
            try:
                self.store.transact(writes)
                return len(live) + len(committed)
            except (ConditionFailed, Contended):
                continue
        raise AssertionError("unreachable")

    def restock_deducted(self, order_ref: str, store_code: str, items: Sequence[Mapping[str, Any]],
                         now: When = None) -> int:
        """Puts back what an order took straight from available stock (a direct order: no holds), exactly once.

        One transaction creates the order's restock record (`attribute_not_exists`) and gives every sku back, so a
        repeated call (a directive delivered twice) finds the record and changes nothing. Returns how many skus went
        back: 0 on a repeat.
        """
        at = instant(now)
        wanted, _ = aggregate(items)  # an order's skus are valid: a malformed one was never deducted
        if not wanted:
            return 0
        writes = [self.store.restock_record(order_ref, store_code, wanted, at),
                  *(self.store.put_back(store_code, sku, qty) for sku, qty in wanted.items())]
        for _ in optimistic(attempts=ATTEMPTS):
            try:
                self.store.transact(writes)
                return len(wanted)
            except Contended:
                continue
            except ConditionFailed as exc:
                if 0 in _failed_positions(exc.reasons):
                    return 0
                raise  # a stock row gone: rows are never deleted, so this is for an operator to see
        raise AssertionError("unreachable")

    def release_expired(self, now: When = None, limit: int = 100) -> int:
        """The sweeper: gives back up to `limit` expired live holds of every store, oldest first."""
        at = instant(now)
        if limit < 1:
            return 0
        return sum(self._give_back(pointer, at) for pointer in self.store.expired_holds(at, limit))

    # --- stock levels --------------------------------------------------------

    def set_on_hand(self, store_code: str, sku: str, on_hand: Decimal, now: When = None) -> StockLevel:
        """Sets the counted stock, never below what live holds reserve; conditional on the row as read."""
        at = instant(now)
        gave_back = False
        for _ in optimistic():
            row = self.store.get_stock(store_code, sku)
            try:
                if row is None:
                    self.store.create_stock(store_code, sku, on_hand, at)
                    return self.get_stock(store_code, sku, at)
                if on_hand < row.reserved:
                    if not gave_back:
                        gave_back = True
                        if self._give_back_expired(store_code, [sku], at):
                            continue
                    raise BelowReserved(row, on_hand)
                self.store.replace_on_hand(row, on_hand, at)
                return self.get_stock(store_code, sku, at)
            except (ConditionFailed, Contended):
                continue
        raise AssertionError("unreachable")

    # --- internals -----------------------------------------------------------

    def _effective(self, store_code: str, sku: str, at: str) -> StockLevel | None:
        """The row with its expired-but-unswept holds counted as released.

        The row is read before and after the holds: if it moved in between, the holds may not match it, so
        read again; if it keeps moving, report the row as stored (it under-reports, never over-reports).
        """
        row = self.store.get_stock(store_code, sku)
        for _ in range(3):
            if row is None:
                return None
            lapsed = Decimal(0)
            for pointer in self.store.expired_holds_of(store_code, sku, at):
                # The index lags the table: the hold item itself says whether it is still reserved.
                hold = self.store.get_hold(pointer.owner, store_code, sku)
                if hold is not None and hold.status == "held" and hold.expired(at):
                    lapsed += hold.qty
            again = self.store.get_stock(store_code, sku)
            if again == row:
                return row.model_copy(update={"reserved": row.reserved - lapsed,
                                              "available": row.available + lapsed})
            row = again
        return row

    def _shortages(self, store_code: str, wanted: dict[str, Decimal], holds: list[Hold],
                   at: str) -> list[Shortage]:
        own = _own_live(holds, store_code, at)
        shortages = []
        for sku, qty in wanted.items():
            level = self._effective(store_code, sku, at)
            available = (level.available if level else Decimal(0)) + own.get(sku, Decimal(0))
            if qty > available:
                shortages.append(Shortage(sku=sku, requested=qty, available=max(available, Decimal(0))))
        return shortages

    def _give_back_expired(self, store_code: str, skus: Iterable[str], at: str) -> int:
        return sum(self._give_back(pointer, at) for sku in skus
                   for pointer in self.store.expired_holds_of(store_code, sku, at))

    def _give_back(self, pointer: Hold, at: str) -> bool:
        """Releases one expired hold, only if it is still held with that expiry (read from the item, not the index)."""
        hold = self.store.get_hold(pointer.owner, pointer.store_code, pointer.sku)
        if hold is None or hold.status != "held" or not hold.expired(at):
            return False
        try:
            self.store.transact(self._release(hold, "expired", at))
            return True
        except (ConditionFailed, Contended):
            return False  # someone else moved it on first: theirs is the outcome

    def _release(self, hold: Hold, reason: str, at: str) -> list[dict[str, Any]]:
        return [
            self.store.change_hold(hold, {"status": "released", "release_reason": reason, "released_at": at,
                                          "updated_at": at}),
            self.store.unreserve(hold.store_code, hold.sku, hold.qty),
        ]


class _HoldPlan:
    """The one transaction that makes the owner's holds exactly `wanted`: per-sku net deltas, dropped skus released."""

    def __init__(self, store: InventoryStore, store_code: str, owner: str, wanted: dict[str, Decimal],
                 head: HoldOwner | None, holds: list[Hold], at: str, expires_at: str, fence: int):
        live = {(h.store_code, h.sku): h for h in holds if h.status == "held"}
        stored = {(h.store_code, h.sku): h for h in holds}
        new_head = _next_head(owner, head, at, status="held", fence=fence)
        new_head = new_head.model_copy(update={"set_seq": new_head.set_seq + 1})
        self.writes: list[dict[str, Any]] = [store.put_owner(new_head, _ver(head))]
        self.reserving: dict[int, str] = {}  # write position -> sku, for reading cancellation reasons
        self.holds: list[Hold] = []
        for sku, qty in sorted(wanted.items()):
            old = live.get((store_code, sku))
            prev = stored.get((store_code, sku))
            delta = qty - (old.qty if old else Decimal(0))
            if delta > 0:
                self.reserving[len(self.writes)] = sku
                self.writes.append(store.reserve(store_code, sku, delta))
            elif delta < 0:
                self.writes.append(store.unreserve(store_code, sku, -delta))
            hold = Hold(
                hold_id=old.hold_id if old else new_id("H"), owner=owner, store_code=store_code, sku=sku, qty=qty,
                expires_at=expires_at, status="held", set_seq=new_head.set_seq, ver=prev.ver + 1 if prev else 1,
                created_at=old.created_at if old else at, updated_at=at,
            )
            self.writes.append(store.put_hold(hold, prev.ver if prev else None))
            self.holds.append(hold)
        for key, old in sorted(live.items()):
            if key[0] != store_code or key[1] not in wanted:
                self.writes.append(store.change_hold(old, {"status": "released", "release_reason": "replaced",
                                                           "released_at": at, "updated_at": at}))
                self.writes.append(store.unreserve(old.store_code, old.sku, old.qty))


# --- helpers ----------------------------------------------------------------


def aggregate(items: Any) -> tuple[dict[str, Decimal], list[str]]:
    """Sums repeated skus; skus no product can have (wrong shape) come back apart, as unknown."""
    if not isinstance(items, list | tuple):
        raise InvalidInput("items must be a list of {sku, qty}", code="invalid_items")
    totals: dict[str, Decimal] = {}
    malformed: list[str] = []
    for i, raw in enumerate(items):
        line = parse(HoldLine, dict(raw) if isinstance(raw, Mapping) else raw, f"items[{i}]")
        if not SKU_PATTERN.fullmatch(line.sku):
            malformed.append(line.sku)
            continue
        totals[line.sku] = totals.get(line.sku, Decimal(0)) + line.qty
    return totals, malformed


def instant(now: When) -> str:
    """`now` as the canonical fixed-width UTC string every expiry comparison (and index sort key) relies on."""
    if now is None:
        return now_iso()
    if isinstance(now, datetime):
        return _iso(now)
    try:
        return _iso(_parse(now))
    except (TypeError, ValueError):
        raise InvalidInput(f"not an ISO timestamp: {now!r}", code="invalid_timestamp") from None


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _owner(owner: Any) -> str:
    if not isinstance(owner, str) or not 1 <= len(owner) <= 256:
        raise InvalidInput("owner must be a string of 1-256 characters", code="invalid_owner")
    return owner


def _own_live(holds: list[Hold], store_code: str, at: str) -> dict[str, Decimal]:
    return {h.sku: h.qty for h in holds if h.store_code == store_code and h.live(at)}


def _refuse_if_committed(owner: str, head: HoldOwner | None) -> None:
    if head is not None and head.status in ("committed", "restocked"):
        raise HoldsCommitted(owner, head.order_ref)


def _ver(head: HoldOwner | None) -> int | None:
    return head.ver if head else None


def _next_head(owner: str, head: HoldOwner | None, at: str, **changes: Any) -> HoldOwner:
    base = head or HoldOwner(owner=owner, status="held", set_seq=0, ver=0, updated_at=at)
    return base.model_copy(update={**changes, "ver": base.ver + 1, "updated_at": at})


def _failed_positions(reasons: list[dict[str, Any]]) -> set[int]:
    return {i for i, r in enumerate(reasons) if r.get("code") == CONDITION_FAILED}


def _failures(reasons: list[dict[str, Any]], reserving: dict[int, str]) -> tuple[list[str], list[str], bool]:
    """Cancellation reasons -> (short skus, skus without a stock row, whether anything else changed under us)."""
    short: list[str] = []
    missing: list[str] = []
    raced = not reasons
    for i in _failed_positions(reasons):
        if i not in reserving:
            raced = True
        elif reasons[i].get("item") is None:
            missing.append(reserving[i])
        else:
            short.append(reserving[i])
    return short, missing, raced
