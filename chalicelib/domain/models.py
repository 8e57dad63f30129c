"""The kernel's data: channels, sessions, orders, order events, directives.

Money is integer minor units (`*_q`); quantities are Decimal. These models are
what crosses every boundary (HTTP, DynamoDB, SQS), so they validate on the way in.
"""

# No `from __future__ import annotations`: pydantic would turn every field's annotation back from a string (a
# compile and an eval each) when the class is made, at every cold start.

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictInt, model_validator

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
MoneyQ = Annotated[StrictInt, Field(ge=0, le=10**15)]
Qty = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=3, allow_inf_nan=False)]

# An external reference (a marketplace order id, a POS ticket, a payment intent): no `/`, so it fits a path segment.
RefValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@+=~-]{0,199}$")]
MAX_REFS = 20
Refs = Annotated[dict[Code, RefValue], Field(max_length=MAX_REFS)]

SessionState = Literal["open", "committed", "abandoned"]
PricingPolicy = Literal["internal", "external"]
EditPolicy = Literal["open", "locked"]
DirectiveStatus = Literal["queued", "running", "done", "failed", "dead"]


# Every answer dumps every field: the response schema (serialization mode) says so, so a missing field is caught.
ANSWERED = ConfigDict(json_schema_serialization_defaults_required=True)


class Model(BaseModel):
    # Built on first use: every function imports every model and uses a few of them (docs/benchmarks.md).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True, **ANSWERED)


# --- channels ---------------------------------------------------------------


class CheckConfig(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True, **ANSWERED)  # as Model

    directive_topic: Code
    hold_ttl_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15


class OrderFlow(Model):
    initial_status: Code = "new"
    transitions: dict[Code, list[Code]]
    terminal_statuses: list[Code] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        known = set(self.transitions) | set(self.terminal_statuses)
        for targets in self.transitions.values():
            known.update(targets)
        if self.initial_status not in known:
            raise ValueError(f"initial_status {self.initial_status!r} appears nowhere in the flow")
        for status in self.terminal_statuses:
            if self.transitions.get(status):
                raise ValueError(f"terminal status {status!r} cannot have outgoing transitions")
        return self

    def statuses(self) -> set[str]:
        known = {self.initial_status, *self.transitions, *self.terminal_statuses}
        for targets in self.transitions.values():
            known.update(targets)
        return known


MAX_SUBSCRIPTIONS = 5
EventType = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")]


class Subscription(BaseModel):
    """A webhook URL the channel's changes are pushed to (the change feed's push side): `types` narrows them."""

    model_config = ConfigDict(extra="forbid", defer_build=True, **ANSWERED)

    id: Code
    url: Annotated[str, Field(pattern=r"^https?://\S{1,2040}$")]
    types: Annotated[list[EventType], Field(max_length=20)] = Field(default_factory=list)


class ChannelConfig(BaseModel):
    # Contrib modules keep their own keys here (e.g. `pricing`), hence extra="allow".
    model_config = ConfigDict(extra="allow", defer_build=True, **ANSWERED)  # built on first use, as Model

    required_checks_on_commit: list[Code] = Field(default_factory=list)
    checks: dict[Code, CheckConfig] = Field(default_factory=dict)
    post_commit_directives: list[Code] = Field(default_factory=list)
    order_flow: OrderFlow | None = None
    # A `locked` channel is read-only (the seed's "locked (read-only)"): every op is refused, except `set_data`
    # under the data roots named here (e.g. ["notes"] for a marketplace whose staff annotate imported orders).
    locked_writable_data: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] = Field(default_factory=list)
    # Event handlers this channel runs (by name, e.g. ["payment", "shipping"]): each through SQS, per event.
    event_handlers: list[Code] = Field(default_factory=list)
    # Each change of the channel (as GET /v1/changes shows it) is POSTed to these, signed, in order per order.
    # Bounded: every subscription adds a directive to the transaction of each change.
    subscriptions: Annotated[list[Subscription], Field(max_length=MAX_SUBSCRIPTIONS)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _required_checks_are_configured(self) -> Self:
        missing = [c for c in self.required_checks_on_commit if c not in self.checks]
        if missing:
            raise ValueError(f"required_checks_on_commit names checks not configured in `checks`: {missing}")
        ids = [s.id for s in self.subscriptions]
        if len(ids) != len(set(ids)):
            raise ValueError("subscription ids must be unique within a channel")
        return self


class Channel(Model):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    pricing_policy: PricingPolicy = "internal"
    edit_policy: EditPolicy = "open"
    config: ChannelConfig = Field(default_factory=ChannelConfig)
    version: int = 0
    created_at: str = ""
    updated_at: str = ""


# --- sessions ---------------------------------------------------------------


class Line(Model):
    line_id: str
    sku: str
    name: str = ""
    qty: Qty
    unit_price_q: MoneyQ
    line_total_q: int = 0
    meta: dict[str, Any] = Field(default_factory=dict)
    price_overridden: bool = False


class Check(Model):
    rev: int
    payload: dict[str, Any] = Field(default_factory=dict)
    at: str = ""


class IssueAction(BaseModel):
    """A way out of an issue, offered to the client; `id` is what resolve takes (`action` is its old name)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True, **ANSWERED)  # as Model

    id: str = Field(min_length=1, max_length=64, validation_alias=AliasChoices("id", "action"))
    label: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class Issue(BaseModel):
    """Something a check found. A blocking one stops commit until resolved or until the session changes."""

    model_config = ConfigDict(extra="allow", defer_build=True, **ANSWERED)  # as Model

    id: str = ""
    source: str = ""  # the check code; its resolver handles the actions
    code: str
    message: str = ""
    blocking: bool = True
    context: dict[str, Any] = Field(default_factory=dict)  # sku, line_id, requested, available, ...
    actions: list[IssueAction] = Field(default_factory=list)


class Pricing(Model):
    subtotal_q: int = 0
    total_q: int = 0


class AuditEntry(Model):
    """Who changed something that must stay explainable (I5: price overrides)."""

    type: str
    at: str
    actor: str
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Session(Model):
    session_key: Key
    channel_code: Code
    state: SessionState = "open"
    rev: int = 0
    items: list[Line] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    checks: dict[str, Check] = Field(default_factory=dict)
    issues: list[Issue] = Field(default_factory=list)
    pricing: Pricing = Field(default_factory=Pricing)
    audit: list[AuditEntry] = Field(default_factory=list)
    next_line: int = 1
    created_at: str = ""
    updated_at: str = ""
    committed_at: str | None = None
    abandoned_at: str | None = None
    order_ref: str | None = None
    # External references by namespace, unique per (channel, namespace, value); carried to the order on commit.
    refs: dict[str, str] = Field(default_factory=dict)

    def line(self, line_id: str) -> Line | None:
        return next((line for line in self.items if line.line_id == line_id), None)


# --- orders -----------------------------------------------------------------


class OrderLine(Model):
    line_id: str
    sku: str
    name: str = ""
    qty: Decimal
    unit_price_q: int
    line_total_q: int
    meta: dict[str, Any] = Field(default_factory=dict)


SNAPSHOT_VERSION = 1


class OrderSnapshot(Model):
    """What the session was at commit. Versioned (I7) so old orders stay readable."""

    schema_version: Literal[1] = Field(SNAPSHOT_VERSION, alias="_v")
    session_rev: int
    items: list[OrderLine]
    pricing: Pricing
    data: dict[str, Any] = Field(default_factory=dict)
    checks: dict[str, Check] = Field(default_factory=dict)
    audit: list[AuditEntry] = Field(default_factory=list)


class Order(Model):
    ref: str
    channel_code: str
    session_key: str
    status: str
    status_timestamps: dict[str, str] = Field(default_factory=dict)
    total_q: int
    items: list[OrderLine]
    snapshot: OrderSnapshot
    event_seq: int = 0
    # Money moved on this order (minor units): always captured_q <= total_q and refunded_q <= captured_q.
    captured_q: int = 0
    refunded_q: int = 0
    refs: dict[str, str] = Field(default_factory=dict)
    created_at: str
    updated_at: str

    @property
    def refundable_q(self) -> int:
        return self.captured_q - self.refunded_q


# --- directives -------------------------------------------------------------


class Directive(Model):
    id: str
    topic: str
    queue: Literal["directives", "checks"] = "directives"
    status: DirectiveStatus = "queued"
    payload: dict[str, Any] = Field(default_factory=dict)
    channel_code: str | None = None
    session_key: str | None = None
    order_ref: str | None = None
    attempts: int = 0
    # While running: until when the worker that claimed it owns it; a later delivery may take over after.
    lease_until: str | None = None
    result: dict[str, Any] | None = None
    last_error: str | None = None
    # Held back this long when first sent (the payment simulator's webhooks); at most SQS's 15 minutes.
    delay_seconds: Annotated[int, Field(ge=0, le=900)] = 0
    created_at: str
    updated_at: str
