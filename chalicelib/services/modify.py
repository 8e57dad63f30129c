"""ModifyService: the one way a session's contents change."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from ..domain import pipeline
from ..domain.access import PRICE_OVERRIDE, SYSTEM, Principal
from ..domain.clock import now_iso
from ..domain.commit_rules import check_directives, checks_to_run
from ..domain.errors import StaleRev
from ..domain.ids import new_id
from ..domain.models import Channel, Session
from ..domain.ops import Op, OpContext, parse_ops
from ..storage.db import ConditionFailed
from ..storage.sessions import from_stored
from .hub import Hub
from .retry import optimistic
from .sessions import read_with_channel
from .validation import parse


def _as_sent(value: Any) -> Any:
    return value


class ModifyBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    # `ops` is required (400 invalid_ops without it), said in the schema only: the op parser names that error.
    model_config = ConfigDict(extra="forbid", defer_build=True, json_schema_extra={"required": ["ops"]})

    # Parsed op by op so each error names its op and field; documented as the list of ops it is read as (the None
    # that stands for a missing `ops` is no value a client may send, so the schema shows no default).
    ops: Annotated[Any, BeforeValidator(_as_sent, json_schema_input_type=list[Op]),
                   Field(json_schema_extra=lambda schema: schema.pop("default", None))] = None
    expected_rev: Annotated[StrictInt, Field(ge=0)] | None = None


def modify_from_body(hub: Hub, channel_code: str, session_key: str, body: Any, *, if_match: int | None,
                     actor: str, caller: Principal) -> Session:
    req = parse(ModifyBody, body)
    pinned = req.expected_rev if req.expected_rev is not None else if_match
    return modify(hub, channel_code, session_key, req.ops, expected_rev=pinned, actor=actor, caller=caller)


def modify(hub: Hub, channel_code: str, session_key: str, raw_ops: Any, *,
           expected_rev: int | None, actor: str, caller: Principal = SYSTEM) -> Session:
    """Applies `raw_ops` atomically: all of them land at rev+1, or nothing is stored.

    On a lost race the ops are re-applied to the fresh session, unless the client pinned `expected_rev`.
    """
    ops = parse_ops(raw_ops)
    channel, session, seq = read_with_channel(hub, channel_code, session_key)
    for _ in optimistic():
        if expected_rev is not None and session.rev != expected_rev:
            raise StaleRev(session.rev, expected_rev)
        ctx = OpContext(channel=channel, actor=actor, now=now_iso(), prices=_prices(hub, channel, session, ops),
                        key_id=caller.key_id, may_override_prices=caller.has(PRICE_OVERRIDE))
        updated = pipeline.modify(session, ops, ctx, hub.registry)
        codes = checks_to_run(channel, session, updated, any(op.op == "add_line" for op in ops))
        directives = check_directives(updated, channel, codes, [new_id("D") for _ in codes], ctx.now)
        try:
            if directives:
                hub.db.transact([hub.sessions.save_request(updated, session, seq),
                                 *hub.directives.create_requests(directives)])
            else:
                hub.sessions.save(updated, session, seq)
        except ConditionFailed as exc:
            # A lost race returns the winner's item: retry on it instead of reading again.
            fresh = exc.current or _session_in(exc.reasons)
            session, seq = from_stored(fresh) if fresh else hub.sessions.get_with_seq(channel_code, session_key)
            continue
        hub.queue.dispatch(directives)
        hub.registry.fire("session.modified", updated, ops, {"actor": actor})
        return updated
    raise AssertionError("unreachable")


def _session_in(reasons: list[dict[str, Any]]) -> dict[str, Any] | None:
    first = reasons[0] if reasons else None
    return first["item"] if first and first["code"] == "ConditionalCheckFailed" else None


def _prices(hub: Hub, channel: Channel, session: Session, ops: list[Op]) -> dict[str, int]:
    """Internal pricing looks prices up here, outside the pure pipeline (modifiers do no I/O, I2)."""
    if channel.pricing_policy != "internal":
        return {}
    skus = {line.sku for line in session.items} | {op.sku for op in ops if hasattr(op, "sku")}
    if not skus:
        return {}
    return hub.registry.backend("pricing").prices_for(channel, sorted(skus))
