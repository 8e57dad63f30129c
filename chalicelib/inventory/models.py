"""Inventory data: stores, products, stock levels, holds, and the request bodies that create them.

Money is integer minor units (`price_q`); quantities are Decimal, never float.
"""

# No `from __future__ import annotations`: pydantic would turn every field's annotation back from a string (a
# compile and an eval each) when the class is made, at every cold start.

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, computed_field, model_validator

from ..domain.models import ANSWERED, Code, MoneyQ, Qty

# No `#` (keys are `#`-joined) and no `/` (skus are path parameters).
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
Sku = Annotated[str, Field(pattern=SKU_PATTERN.pattern)]
StockQty = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=3, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# No `.` unlike channel and store codes: a category id reads like a slug (`coffee-tea`, `shoes`).
CATEGORY_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CategoryId = Annotated[str, Field(pattern=CATEGORY_ID_PATTERN.pattern)]
Description = Annotated[str, Field(min_length=1, max_length=2000)]
Location = Annotated[str, Field(min_length=1, max_length=500)]
Owner = Annotated[str, Field(min_length=1, max_length=256)]

HoldStatus = Literal["held", "released", "committed", "restocked"]
# Why a hold left `held` without an order: its owner let go, a re-hold dropped it, or it lapsed.
ReleaseReason = Literal["released", "replaced", "expired"]
# How a committed hold was deducted: from its reservation, or directly from available stock after it lapsed.
CommitMode = Literal["reserved", "direct"]


class Model(BaseModel):
    # Built on first use: every function imports every model and uses a few of them (docs/benchmarks.md).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, **ANSWERED)


class Store(Model):
    code: Code
    name: Name
    location: Location | None = None
    created_at: str


class Category(Model):
    id: CategoryId
    name: Name
    description: Description | None = None
    created_at: str


class Product(Model):
    """A catalog entry. `title` is its name; `name` is the same value under its first spelling, answered too so
    that callers written before titles keep working (it is never stored twice)."""

    sku: Sku
    title: Name
    description: Description | None = None
    price_q: MoneyQ
    # Lax on read: products written before categories existed may name any short string; bodies are strict.
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    # Bumped by every change: PUT is conditional on the version the client read (If-Match).
    version: Annotated[int, Field(ge=1)] = 1
    created_at: str
    updated_at: str

    @model_validator(mode="before")
    @classmethod
    def _first_spelling(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        name = data.pop("name", None)
        if "title" not in data and name is not None:
            data["title"] = name  # an item stored before products had titles
        if "updated_at" not in data and "created_at" in data:
            data["updated_at"] = data["created_at"]
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name(self) -> str:
        return self.title


class StockLevel(Model):
    store_code: str
    sku: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


class StockRow(Model):
    """A stock row as listed: the stored counts (see docs/data-model.md on `available`) and its reorder level."""

    store_code: str
    sku: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    reorder_level: Decimal

    @property
    def low(self) -> bool:
        return self.available <= self.reorder_level


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
    # Built on first use: every function imports every model and uses a few of them (docs/benchmarks.md).
    model_config = ConfigDict(extra="ignore", defer_build=True)

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
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class StoreBody(Body):
    code: Code
    name: Name
    location: Location | None = None


class CategoryBody(Body):
    id: CategoryId
    name: Name
    description: Description | None = None


class ProductBody(Body):
    sku: Sku
    # One of the two is required (the service says which is missing); both must then agree.
    title: Name | None = None
    name: Name | None = None
    description: Description | None = None
    price_q: MoneyQ
    category: CategoryId | None = None


class ProductReplaceBody(Body):
    """PUT: the whole product again (what is left out is cleared), pinned to the version it replaces."""

    sku: Sku | None = None
    title: Name | None = None
    name: Name | None = None
    description: Description | None = None
    price_q: MoneyQ
    category: CategoryId | None = None
    expected_version: Annotated[StrictInt, Field(ge=0)] | None = None


class OnHandBody(Body):
    on_hand: StockQty
    reorder_level: StockQty | None = None


class StockBody(Body):
    store_code: Code
    sku: Sku
    on_hand: StockQty
    reorder_level: StockQty | None = None


def _as_sent(value: Any) -> Any:
    return value


def _entries(body: type[Body]) -> Any:
    """A list whose entries are parsed one by one later (so an error names its section and index), documented as
    a list of `body`."""
    return BeforeValidator(_as_sent, json_schema_input_type=list[body])  # type: ignore[valid-type]


class ImportBody(Body):
    """Each entry is parsed on its own (an error names its section and index); lists are checked here only."""

    categories: Annotated[list[Any], _entries(CategoryBody)] = Field(default_factory=list)
    products: Annotated[list[Any], _entries(ProductBody)] = Field(default_factory=list)
    stores: Annotated[list[Any], _entries(StoreBody)] = Field(default_factory=list)
    stock: Annotated[list[Any], _entries(StockBody)] = Field(default_factory=list)
