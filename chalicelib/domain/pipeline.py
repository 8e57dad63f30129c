"""The modify pipeline, pure: ops -> modifiers -> validators -> rev+1 -> checks and issues cleared."""

from __future__ import annotations

from .errors import Conflict
from .models import Channel, Session
from .ops import ITEM_OPS, Op, OpContext, SetData, apply_ops
from .registry import Registry
from .totals import recompute


def ensure_open(session: Session) -> None:
    if session.state == "committed":
        raise Conflict(
            "session is already committed", code="already_committed", details={"order_ref": session.order_ref}
        )
    if session.state == "abandoned":
        raise Conflict("session was abandoned", code="already_abandoned")


def modify(session: Session, ops: list[Op], ctx: OpContext, registry: Registry) -> Session:
    """Returns the next version of `session`; the input is left untouched so a refusal changes nothing."""
    ensure_open(session)
    if ctx.channel.edit_policy == "locked":
        ensure_editable_when_locked(ctx.channel, ops)
    work = session.model_copy(deep=True)
    apply_ops(work, ops, ctx)
    for modifier in registry.modifiers():
        modifier(work, ctx.channel, ctx)
    recompute(work)
    run_validators(work, ctx.channel, ctx, registry, "draft")
    work.rev = session.rev + 1
    work.checks = {}
    work.issues = []
    work.updated_at = ctx.now
    return work


def ensure_editable_when_locked(channel: Channel, ops: list[Op]) -> None:
    writable = set(channel.config.locked_writable_data)
    for index, op in enumerate(ops):
        if op.op in ITEM_OPS:
            raise Conflict(f"channel {channel.code!r} is locked: items cannot change", code="locked",
                           details={"index": index})
        if isinstance(op, SetData) and op.path.split(".", 1)[0] not in writable:
            raise Conflict(f"channel {channel.code!r} is locked: session data cannot change"
                           + (f" outside {sorted(writable)}" if writable else ""), code="locked",
                           details={"index": index, "path": op.path, "writable": sorted(writable)})


def run_validators(session: Session, channel: Channel, ctx: OpContext, registry: Registry, stage: str) -> None:
    # Validators get a copy: they are gates and cannot change what gets stored (I2).
    for validator in registry.validators(stage):  # type: ignore[arg-type]
        validator(session.model_copy(deep=True), channel, ctx)
