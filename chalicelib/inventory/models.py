"""Inventory data: stores, products, stock levels, holds, and the request bodies that create them.

Money is integer minor units (`price_q`); quantities are Decimal, never float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.models import Code, MoneyQ, Qty

# No `#` (keys are `#`-joined) and no `/` (skus are path parameters).
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
Sku = Annotated[str, Field(pattern=SKU_PATTERN.pattern)]
StockQty = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=3, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Owner = Annotated[str, Field(min_length=1, max_length=256)]

HoldStatus = Literal["held", "released", "committed", "restocked"]
# Why a hold left `held` without an order: its owner let go, a re-hold dropped it, or it lapsed.
ReleaseReason = Literal["released", "replaced", "expired"]
# How a committed hold was deducted: from its reservation, or directly from available stock after it lapsed.
CommitMode = Literal["reserved", "direct"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Store(Model):
    code: Code
    name: Name
    location: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    created_at: str


class Product(Model):
    sku: Sku
    name: Name
    price_q: MoneyQ
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    created_at: str


class StockLevel(Model):
    store_code: str
    sku: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


class Hold(Model):
    hold_id: str
    owner: str
    store_code: str
    sku: str
    qty: Decimal
    expires_at: str
    status: HoldStatus
    # The create_holds call that last wrote it: only the owner's current set is ever committed.
    set_seq: int
    ver: int
    created_at: str
    updated_at: str
    order_ref: str | None = None
    release_reason: ReleaseReason | None = None
    released_at: str | None = None
    commit_mode: CommitMode | None = None
    committed_at: str | None = None
    restocked_at: str | None = None

    def expired(self, now: str) -> bool:
        """A hold counts as released the moment it expires, swept or not."""
        return self.expires_at <= now

    def live(self, now: str) -> bool:
        return self.status == "held" and not self.expired(now)


class HoldOwner(Model):
    """One per owner: the state of its current hold set and the version every owner-level write checks."""

    owner: str
    status: HoldStatus
    set_seq: int
    ver: int
    updated_at: str
    order_ref: str | None = None
    # The highest fence a hold set was made for (the stock contrib passes the session rev): a request that
    # arrives late with a lower one must not replace the newer set.
    fence: int = 0


class HoldLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Any string: a sku no product can have is reported as unknown, not as a malformed request.
    sku: Annotated[str, Field(min_length=1, max_length=200)]
    qty: Qty


class Shortage(Model):
    sku: str
    requested: Decimal
    available: Decimal


class SkuAvailability(Model):
    sku: str
    requested: Decimal
    # What this owner could hold: free stock plus what its own live hold already reserves.
    available: Decimal

    @property
    def short(self) -> bool:
        return self.requested > self.available


class Availability(Model):
    lines: tuple[SkuAvailability, ...]
    unknown: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.shortages

    @property
    def shortages(self) -> tuple[Shortage, ...]:
        return tuple(Shortage(sku=line.sku, requested=line.requested, available=line.available)
                     for line in self.lines if line.short)


# --- request bodies ---------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreBody(Body):
    code: Code
    name: Name
    location: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class ProductBody(Body):
    sku: Sku
    name: Name
    price_q: MoneyQ
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class OnHandBody(Body):
    on_hand: StockQty
