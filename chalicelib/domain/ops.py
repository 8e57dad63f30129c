"""Session ops: parsed strictly, applied as pure transforms of a working copy of the session."""

# No `from __future__ import annotations`: pydantic would turn every field's annotation back from a string (a
# compile and an eval each) when the class is made, at every cold start.

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from . import totals
from .errors import Forbidden, InvalidInput, Unprocessable
from .limits import MAX_PATH_SEGMENTS, JsonObject, JsonValue
from .models import AuditEntry, Channel, Line, MoneyQ, Qty, Session

RESERVED_DATA_ROOTS = frozenset(
    {"items", "pricing", "checks", "issues", "state", "status", "rev", "session_key", "channel"}
)
MAX_OPS = 100


class _Op(BaseModel):
    # Built on first use: the modify body's ops, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class AddLine(_Op):
    op: Literal["add_line"]
    sku: Annotated[str, Field(min_length=1, max_length=128)]
    qty: Qty
    unit_price_q: MoneyQ | None = None
    name: Annotated[str, Field(max_length=300)] | None = None
    meta: JsonObject = Field(default_factory=dict)
    reason: Annotated[str, Field(max_length=500)] | None = None


class RemoveLine(_Op):
    op: Literal["remove_line"]
    line_id: Annotated[str, Field(min_length=1)]


class SetQty(_Op):
    op: Literal["set_qty"]
    line_id: Annotated[str, Field(min_length=1)]
    qty: Qty


class ReplaceSku(_Op):
    op: Literal["replace_sku"]
    line_id: Annotated[str, Field(min_length=1)]
    sku: Annotated[str, Field(min_length=1, max_length=128)]
    unit_price_q: MoneyQ | None = None
    name: Annotated[str, Field(max_length=300)] | None = None
    meta: JsonObject | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None


class SetData(_Op):
    op: Literal["set_data"]
    path: Annotated[str, Field(min_length=1, max_length=256)]
    value: JsonValue


class MergeLines(_Op):
    op: Literal["merge_lines"]
    from_line_id: Annotated[str, Field(min_length=1)]
    into_line_id: Annotated[str, Field(min_length=1)]


Op = Annotated[AddLine | RemoveLine | SetQty | ReplaceSku | SetData | MergeLines, Field(discriminator="op")]
ITEM_OPS = frozenset({"add_line", "remove_line", "set_qty", "replace_sku", "merge_lines"})
_OP_TYPES: dict[str, type[_Op]] = {
    "add_line": AddLine,
    "remove_line": RemoveLine,
    "set_qty": SetQty,
    "replace_sku": ReplaceSku,
    "set_data": SetData,
    "merge_lines": MergeLines,
}
_op_adapter: TypeAdapter[Op] = TypeAdapter(Op, config=ConfigDict(defer_build=True))  # built on first use too

# The first invalid field of an op names the error code the client gets.
_FIELD_CODES = {
    "sku": ("missing_sku", "invalid_sku"),
    "qty": ("missing_qty", "invalid_qty"),
    "line_id": ("missing_line_id", "invalid_line_id"),
    "from_line_id": ("missing_line_id", "invalid_line_id"),
    "into_line_id": ("missing_line_id", "invalid_line_id"),
    "unit_price_q": ("missing_unit_price_q", "invalid_unit_price_q"),
    "path": ("missing_path", "invalid_path"),
    "value": ("missing_value", "invalid_value"),
    "meta": ("invalid_meta", "invalid_meta"),
}


def parse_ops(raw: Any) -> list[Op]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("`ops` must be a non-empty list", code="invalid_ops")
    if len(raw) > MAX_OPS:
        raise InvalidInput(f"at most {MAX_OPS} ops per request", code="too_many_ops")
    return [_parse_one(index, item) for index, item in enumerate(raw)]


def _parse_one(index: int, raw: Any) -> Op:
    if not isinstance(raw, dict):
        raise InvalidInput(f"op {index} must be an object", code="invalid_op", details={"index": index})
    name = raw.get("op")
    # Only a str may meet the table: a list or an object is unhashable and `in` would raise TypeError.
    if not isinstance(name, str) or name not in _OP_TYPES:
        raise InvalidInput(
            f"op {index}: unsupported op {_describe(name)}",
            code="unsupported_op",
            details={"index": index, "op": _short(name), "supported": sorted(_OP_TYPES)},
        )
    try:
        return _op_adapter.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field_name = str(first["loc"][-1]) if first["loc"] else ""
        missing, invalid = _FIELD_CODES.get(field_name, ("invalid_op", "invalid_op"))
        code = missing if first["type"] == "missing" else invalid
        if first["type"] == "extra_forbidden":
            code = "unknown_field"
        raise InvalidInput(
            f"op {index} ({name}): {field_name or 'op'}: {first['msg']}",
            code=code,
            details={"index": index, "op": name, "field": field_name, "errors": _plain_errors(exc)},
        ) from None


def _short(name: Any) -> str | None:
    # Echo a short op name only: a structure or a long string is not sent back whole.
    return name if isinstance(name, str) and len(name) <= 64 else None


def _describe(name: Any) -> str:
    if isinstance(name, str):
        return repr(name) if _short(name) is not None else repr(name[:64] + "...")
    return f"<{type(name).__name__}>"


def _plain_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


@dataclass
class OpContext:
    """What ops may know beyond the session: the channel, who acts, when, and looked-up prices."""

    channel: Channel
    actor: str
    now: str
    prices: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The API key acting, for the audit; and whether it holds `price:override` (services acting for the
    # system itself may override).
    key_id: str | None = None
    may_override_prices: bool = True


def apply_ops(session: Session, ops: list[Op], ctx: OpContext) -> None:
    for index, op in enumerate(ops):
        try:
            _APPLY[op.op](session, op, ctx)
        except (InvalidInput, Unprocessable) as exc:
            exc.details.setdefault("index", index)
            raise
        totals.recompute(session)


def _require_line(session: Session, line_id: str) -> Line:
    line = session.line(line_id)
    if line is None:
        raise InvalidInput(f"no line {line_id!r} in this session", code="unknown_line_id", details={"line_id": line_id})
    return line


def _price_for(session: Session, sku: str, given: int | None, reason: str | None, ctx: OpContext) -> tuple[int, bool]:
    """Returns (unit_price_q, overridden). External channels must send prices and are never repriced (I4);
    a price sent to an internal channel is an override and is audited (I5)."""
    if ctx.channel.pricing_policy == "external":
        if given is None:
            raise InvalidInput(
                f"channel {ctx.channel.code!r} uses external pricing: unit_price_q is required for {sku!r}",
                code="missing_unit_price_q",
                details={"sku": sku},
            )
        return given, False
    listed = ctx.prices.get(sku)
    if given is None:
        if listed is None:
            raise Unprocessable(f"no price is known for sku {sku!r}", code="price_not_found", details={"sku": sku})
        return listed, False
    if not ctx.may_override_prices:
        raise Forbidden(f"setting the price of {sku!r} on internal channel {ctx.channel.code!r} is a price override: "
                        "it needs the price:override scope", code="price_override_forbidden",
                        details={"sku": sku, "required": "price:override"})
    session.audit.append(
        AuditEntry(
            type="price_overridden",
            at=ctx.now,
            actor=ctx.actor,
            reason=reason,
            details={"sku": sku, "listed_price_q": listed, "unit_price_q": given, "key_id": ctx.key_id},
        )
    )
    return given, True


def _add_line(session: Session, op: AddLine, ctx: OpContext) -> None:
    price, overridden = _price_for(session, op.sku, op.unit_price_q, op.reason, ctx)
    line_id = f"L{session.next_line}"
    session.next_line += 1
    session.items.append(
        Line(
            line_id=line_id,
            sku=op.sku,
            name=op.name or op.sku,
            qty=op.qty,
            unit_price_q=price,
            meta=op.meta,
            price_overridden=overridden,
        )
    )
    if overridden:
        session.audit[-1].details["line_id"] = line_id


def _remove_line(session: Session, op: RemoveLine, ctx: OpContext) -> None:
    line = _require_line(session, op.line_id)
    session.items.remove(line)


def _set_qty(session: Session, op: SetQty, ctx: OpContext) -> None:
    _require_line(session, op.line_id).qty = op.qty


def _replace_sku(session: Session, op: ReplaceSku, ctx: OpContext) -> None:
    line = _require_line(session, op.line_id)
    price, overridden = _price_for(session, op.sku, op.unit_price_q, op.reason, ctx)
    if overridden:
        session.audit[-1].details["line_id"] = line.line_id
    line.sku = op.sku
    line.name = op.name or op.sku
    line.unit_price_q = price
    line.price_overridden = overridden
    if op.meta is not None:
        line.meta = op.meta


def _merge_lines(session: Session, op: MergeLines, ctx: OpContext) -> None:
    if op.from_line_id == op.into_line_id:
        raise InvalidInput("cannot merge a line into itself", code="invalid_merge")
    source = _require_line(session, op.from_line_id)
    target = _require_line(session, op.into_line_id)
    if source.sku != target.sku:
        raise Unprocessable(
            f"lines {source.line_id} ({source.sku}) and {target.line_id} ({target.sku}) hold different skus",
            code="sku_mismatch",
        )
    if source.unit_price_q != target.unit_price_q:
        raise Unprocessable("lines with different unit prices cannot be merged", code="price_mismatch")
    target.qty += source.qty
    session.items.remove(source)


def _set_data(session: Session, op: SetData, ctx: OpContext) -> None:
    parts = op.path.split(".")
    if any(not part for part in parts) or len(parts) > MAX_PATH_SEGMENTS:
        raise InvalidInput(f"invalid path {op.path!r}", code="invalid_path")
    root = parts[0]
    if root in RESERVED_DATA_ROOTS or any(part.startswith("__") for part in parts):
        raise InvalidInput(f"path {op.path!r} is reserved", code="reserved_path", details={"path": op.path})
    node: dict[str, Any] = session.data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise InvalidInput(
                f"path {op.path!r} goes through {part!r}, which is not an object", code="invalid_path"
            )
        node = child
    if op.value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = _plain(op.value)


def _plain(value: Any) -> Any:
    """Keep data JSON-plain; Decimal stays Decimal so no float ever reaches storage."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_APPLY = {
    "add_line": _add_line,
    "remove_line": _remove_line,
    "set_qty": _set_qty,
    "replace_sku": _replace_sku,
    "set_data": _set_data,
    "merge_lines": _merge_lines,
}
