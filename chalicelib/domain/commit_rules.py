"""What commit demands of a session, and the order it builds from it. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import Conflict
from .events import ORDER_CREATED, PRICE_OVERRIDDEN, OrderEvent, order_event
from .models import Channel, Directive, Order, OrderLine, OrderSnapshot, Session
from .pipeline import ensure_open
from .status_flow import flow_for


def check_committable(session: Session, channel: Channel, now: str) -> None:
    ensure_open(session)
    if not session.items:
        raise Conflict("an empty session cannot be committed", code="empty_session")
    required = channel.config.required_checks_on_commit
    missing = [code for code in required if code not in session.checks]
    if missing:
        raise Conflict(
            f"required checks have not run: {', '.join(missing)}", code="missing_checks", details={"checks": missing}
        )
    # Only required checks must be fresh (I14).
    stale = [code for code in required if session.checks[code].rev != session.rev]
    if stale:
        raise Conflict(
            f"required checks are stale: {', '.join(stale)}",
            code="stale_checks",
            details={"checks": stale, "session_rev": session.rev},
        )
    expired = [code for code in required if _expired(session.checks[code].payload.get("hold_expires_at"), now)]
    if expired:
        raise Conflict("holds have expired: POST .../recheck to hold again", code="hold_expired",
                       details={"checks": expired})
    blocking = [issue.model_dump(mode="json") for issue in session.issues if issue.blocking]
    if blocking:
        raise Conflict("the session has blocking issues", code="blocking_issues", details={"issues": blocking})


def _expired(until: object, now: str) -> bool:
    if until is None:
        return False
    try:
        expiry = datetime.fromisoformat(str(until))
    except ValueError:
        return True  # a hold whose expiry cannot be read is not a hold to rely on
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return expiry <= datetime.fromisoformat(now)


def build_order(session: Session, channel: Channel, ref: str, actor: str, now: str,
                idempotency_key: str | None = None) -> tuple[Order, list[OrderEvent]]:
    status = flow_for(channel).initial_status
    lines = [OrderLine(**line.model_dump(exclude={"price_overridden"})) for line in session.items]
    snapshot = OrderSnapshot(
        session_rev=session.rev,
        items=lines,
        pricing=session.pricing,
        data=session.data,
        checks=session.checks,
        audit=session.audit,
    )
    events = [order_event(ref, 1, ORDER_CREATED, actor, now, idempotency_key=idempotency_key, payload={
        "from": None, "to": status, "channel_code": channel.code, "session_key": session.session_key,
        "session_rev": session.rev, "total_q": session.pricing.total_q, "items_count": len(lines)})]
    # Each price override travels into the order's history (I5).
    for entry in session.audit:
        if entry.type == "price_overridden" and session.line(entry.details.get("line_id", "")):
            events.append(order_event(ref, len(events) + 1, PRICE_OVERRIDDEN, entry.actor, entry.at,
                                      payload={**entry.details, "reason": entry.reason}))
    order = Order(
        ref=ref,
        channel_code=channel.code,
        session_key=session.session_key,
        status=status,
        status_timestamps={status: now},
        total_q=session.pricing.total_q,
        items=lines,
        snapshot=snapshot,
        event_seq=len(events),
        refs=dict(session.refs),
        created_at=now,
        updated_at=now,
    )
    return order, events


def post_commit_directives(order: Order, channel: Channel, ids: list[str], now: str) -> list[Directive]:
    return [
        Directive(
            id=directive_id,
            topic=topic,
            payload={
                "order_ref": order.ref,
                "channel_code": order.channel_code,
                "session_key": order.session_key,
                "total_q": order.total_q,
                "items": [line.model_dump(mode="json") for line in order.items],
                "checks": {code: check.payload for code, check in order.snapshot.checks.items()},
            },
            channel_code=order.channel_code,
            session_key=order.session_key,
            order_ref=order.ref,
            created_at=now,
            updated_at=now,
        )
        for topic, directive_id in zip(channel.config.post_commit_directives, ids, strict=True)
    ]


def checks_to_run(channel: Channel, before: Session, after: Session, adds_lines: bool) -> list[str]:
    """The checks a modify sends: required ones whenever there are (or were) lines, so emptying a session
    re-runs them too (a stock check then releases its holds); `check_<code>_on_add` ones when lines are added."""
    if not (before.items or after.items):
        return []
    required = set(channel.config.required_checks_on_commit)
    return [code for code in channel.config.checks
            if code in required or (adds_lines and getattr(channel.config, f"check_{code}_on_add", False) is True)]


def check_directives(session: Session, channel: Channel, codes: list[str], ids: list[str],
                     now: str) -> list[Directive]:
    """One directive per check to run, stamped with the rev it must be written back against (I13)."""
    items = [line.model_dump(mode="json") for line in session.items]
    return [
        Directive(
            id=directive_id,
            topic=channel.config.checks[code].directive_topic,
            queue="checks",
            payload={
                "check_code": code,
                "channel_code": channel.code,
                "session_key": session.session_key,
                "rev": session.rev,
                "items": items,
                "config": channel.config.checks[code].model_dump(mode="json"),
            },
            channel_code=channel.code,
            session_key=session.session_key,
            created_at=now,
            updated_at=now,
        )
        for code, directive_id in zip(codes, ids, strict=True)
    ]
