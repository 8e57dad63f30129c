"""The HTTP API's contract models: answers that are not a domain model, and query parameters. app.py names them per
route (chalicelib/http/contract.py) with the headers and shared error codes of codes.py.

app.py names these models without importing this module (`schemas.Health` is a name until the OpenAPI document is
first built), and every model is `defer_build=True`, so none of them adds to a cold start. Answers describe exactly
what the adapters in chalicelib/http/ send: a field they always send is required, one they send only sometimes has a
default.
"""

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.events import OrderEvent
from ..domain.models import Directive, Order
from ..inventory.models import Product
from ..inventory.service import MAX_PRICE_Q
from ..storage.db import DEFAULT_LIMIT, MAX_LIMIT
from .contract import E, Errors

_DEFERRED = ConfigDict(defer_build=True)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- the one error shape ---------------------------------------------------------------------------------------------


class ErrorDetail(Answer):
    code: Annotated[str, Field(pattern=r"^[a-z0-9_]+$", description="machine-readable; the route lists its codes")]
    message: str
    details: dict[str, Any]


class Error(Answer):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorDetail


# --- answers that are not a domain model -----------------------------------------------------------------------------


class Health(Answer):
    status: Literal["ok"]
    stage: str


class Me(Answer):
    key_id: str
    name: str
    scopes: list[str]


class ApiKey(Answer):
    """A key as any answer shows it: never its secret or hash."""

    key_id: str
    name: str
    scopes: list[str]
    created_at: str
    created_by: str | None
    last_used_at: str | None
    revoked: bool
    revoked_at: str | None
    rate_limit_per_minute: int | None
    commit_rate_limit_per_minute: int | None


class NewApiKey(ApiKey):
    secret: Annotated[str, Field(description="the whole key, shown in this answer only")]


class Committed(Answer):
    order_ref: str
    status: str
    total_q: int
    items_count: int
    channel_code: str
    session_key: str
    idempotency_key: str
    directives: list[str]


class Rechecked(Answer):
    rev: int
    directives: list[str]


class CheckWritten(Answer):
    applied: Annotated[bool, Field(description="false: the session moved on (another rev, or closed); dropped")]


class Transitioned(Answer):
    order: Order
    event: OrderEvent


class OrderChanged(Answer):
    """An order command's answer: the order after it, the events it appended, and what the command did."""

    order: Order
    events: list[OrderEvent]


class Paid(OrderChanged):
    payment_id: str
    status: Literal["captured", "requested"]


class Refunded(OrderChanged):
    refund_id: str
    status: Literal["refunded", "requested"]
    amount_q: int


class Cancelled(OrderChanged):
    """What was captured goes back with the cancel: then the refund is named too."""

    refund_id: str | None = None
    status: Literal["refunded", "requested"] | None = None
    amount_q: int | None = None


class Shipped(OrderChanged):
    shipment_id: str


class HistoryEntry(Answer):
    from_: Annotated[str | None, Field(alias="from")]
    to: str
    at: str
    actor: str
    reason: str | None
    event_id: str


class _Record(BaseModel):
    # Records keep what their backend reported (method, reason, carrier, ...): more fields may come.
    model_config = ConfigDict(extra="allow", defer_build=True)

    id: str
    kind: str
    order_ref: str
    status: str
    backend: str
    updated_at: str
    created_at: str | None = None


class PaymentRecord(_Record):
    kind: Literal["payment"]
    type: Literal["capture", "refund"]
    amount_q: int
    provider_ref: str | None = None


class ShipmentRecord(_Record):
    kind: Literal["shipment"]
    carrier: str | None = None
    tracking_number: str | None = None


class WebhookDelivery(Answer):
    kind: Literal["payment", "shipping"]
    provider: str
    event_id: str
    event_type: str
    order_ref: str
    received_at: str
    body: Annotated[str, Field(description="the body as received, cut at 8,000 bytes")]
    outcome: Literal["applied", "refunded", "duplicate", "ignored"]
    reason: str | None = None


class WebhookOutcome(Answer):
    outcome: Literal["applied", "refunded", "duplicate", "ignored"]
    event_id: str
    reason: str | None = None


class RetriedDirective(Directive):
    model_config = _DEFERRED

    requeued: Annotated[bool, Field(description="whether this call sent it back to work (202) or it was already")]


class Redriven(Answer):
    moved: int
    dropped: int
    kept: int


class StatsSummary(Answer):
    orders: int
    by_status: dict[str, int]
    revenue_q: int
    average_order_value_q: int


class StatsDay(StatsSummary):
    day: str


class Stats(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: Annotated[str, Field(alias="from")]
    to: str
    channel: str | None
    store: str | None
    totals: StatsSummary
    days: list[StatsDay]


class SearchHit(Product):
    model_config = _DEFERRED

    score: float


class Titles(Answer):
    items: list[str]


class ImportCounts(Answer):
    categories: int
    products: int
    stores: int
    stock: int


class ImportDiffering(Answer):
    categories: list[str]
    products: list[str]
    stores: list[str]


class Imported(Answer):
    created: ImportCounts
    existing: ImportCounts
    differing: Annotated[ImportDiffering, Field(description="sent with other values than stored: left as they are")]
    directive_id: str


class FeedChange(Answer):
    """One change of the feed: an order event (`event` is its envelope) or a session commit/abandon."""

    id: Annotated[str, Field(description="the event id (or the session's): the same in pushes, to deduplicate")]
    seq: Annotated[int, Field(description="its number in its channel's feed")]
    channel: str
    type: Annotated[str, Field(description="OrderCreated, OrderPaid, ..., SessionCommitted, SessionAbandoned")]
    order_ref: str | None
    session_key: str | None
    occurred_at: str
    event: dict[str, Any]
    cursor: Annotated[str, Field(description="resumes right after this change")]


class Changes(Answer):
    items: list[FeedChange]
    next_cursor: Annotated[str, Field(description="always there: send it back as `after`")]


class RefHolder(Answer):
    channel: str
    namespace: str
    value: str
    kind: Literal["session", "order"]
    order_ref: str | None
    session_key: str | None
    created_at: str


# --- query parameters: one model per listing, `errors` for the values they refuse ------------------------------------


class Query(BaseModel):
    """Each field is one optional query parameter (None: left out)."""

    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)

    errors: ClassVar[Errors] = frozenset()


class PageQuery(Query):
    errors: ClassVar[Errors] = E(400, "invalid_limit", "invalid_cursor")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"per page (default {DEFAULT_LIMIT})")] | None = None
    cursor: Annotated[str, Field(description="`next_cursor` of the page before, for this listing")] | None = None


class SessionQuery(PageQuery):
    errors: ClassVar[Errors] = PageQuery.errors | E(400, "invalid_filter")

    state: Literal["open", "committed", "abandoned"] | None = None


class OrderQuery(PageQuery):
    channel: Annotated[str, Field(description="one channel (the key must read it)")] | None = None
    status: str | None = None


class DirectiveQuery(PageQuery):
    errors: ClassVar[Errors] = PageQuery.errors | E(400, "invalid_status")

    topic: str | None = None
    status: Literal["queued", "running", "done", "failed", "dead"] | None = None
    order_ref: str | None = None


Day = Annotated[str, Field(description="a day, YYYY-MM-DD", examples=["2025-01-31"])]


class StatsQuery(Query):
    errors: ClassVar[Errors] = E(400, "invalid_filter")

    channel: str | None = None
    store: str | None = None
    from_: Annotated[Day | None, Field(alias="from", description="first day (default: 29 days before `to`)")] = None
    to: Annotated[Day | None, Field(description="last day (default: today, UTC), at most 365 days after `from`")] = None


MinorUnits = Annotated[int, Field(ge=0, le=MAX_PRICE_Q)]


class ProductQuery(PageQuery):
    errors: ClassVar[Errors] = PageQuery.errors | E(400, "invalid_category", "invalid_min_price_q",
                                                    "invalid_max_price_q", "invalid_price_range")

    category: str | None = None
    min_price_q: MinorUnits | None = None
    max_price_q: MinorUnits | None = None


class SearchQuery(PageQuery):
    errors: ClassVar[Errors] = PageQuery.errors | E(400, "invalid_query", "invalid_filter")

    q: Annotated[str, Field(max_length=500, description="words; the last one a prefix")] | None = None
    min_price_q: Annotated[int, Field(ge=0, le=10**15 - 1)] | None = None
    max_price_q: Annotated[int, Field(ge=0, le=10**15 - 1)] | None = None
    store: Annotated[str, Field(description="only what is available in this store now")] | None = None
    category: str | None = None


class AutocompleteQuery(Query):
    errors: ClassVar[Errors] = E(400, "invalid_query")

    q: Annotated[str, Field(max_length=500)] | None = None


class StockQuery(PageQuery):
    errors: ClassVar[Errors] = PageQuery.errors | E(400, "invalid_store", "invalid_sku", "invalid_low_stock")

    store: str | None = None
    sku: str | None = None
    low_stock: Literal["true", "false"] | None = None


class ChangesQuery(Query):
    errors: ClassVar[Errors] = E(400, "invalid_limit", "invalid_cursor", "invalid_types", "invalid_wait",
                                 "too_many_channels")

    after: Annotated[str, Field(description="a cursor this feed gave, or `now` (default: the oldest change kept)")] \
        | None = None
    channel: Annotated[str, Field(description="one channel (default: every channel the key may read)")] | None = None
    types: Annotated[str, Field(description="comma-separated change types to answer, e.g. OrderCreated,OrderPaid")] \
        | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"per answer (default {DEFAULT_LIMIT})")] | None = None
    wait: Annotated[int, Field(ge=0, le=20, description="seconds to hold an answer with nothing new (long poll)")] \
        | None = None


class RefQuery(Query):
    errors: ClassVar[Errors] = E(400, "channel_required")

    channel: Annotated[str, Field(description="the channel it belongs to (default: a one-channel key's)")] | None = None


class WebhookQuery(Query):
    provider: Annotated[str, Field(description="the provider whose secret signed it (default simulator)")] | None = None
