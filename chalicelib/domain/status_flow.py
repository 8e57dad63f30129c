"""Order status flows: the anchor's default and a channel's own `order_flow`."""

from __future__ import annotations

from .errors import Conflict
from .models import Channel, OrderFlow

# Our own constant, so it is not validated at import, which would build OrderFlow's validator at every cold start
# (tests/unit/test_domain.py validates it).
DEFAULT_FLOW = OrderFlow.model_construct(
    initial_status="new",
    transitions={
        "new": ["confirmed", "cancelled"],
        "confirmed": ["processing", "ready", "cancelled"],
        "processing": ["ready", "cancelled"],
        "ready": ["dispatched", "completed"],
        "dispatched": ["delivered", "returned"],
        "delivered": ["completed", "returned"],
        "returned": ["completed"],
    },
    terminal_statuses=["completed", "cancelled"],
)


def flow_for(channel: Channel) -> OrderFlow:
    return channel.config.order_flow or DEFAULT_FLOW


def allowed_next(flow: OrderFlow, status: str) -> list[str]:
    if status in flow.terminal_statuses:
        return []
    return list(flow.transitions.get(status, []))


def check_transition(flow: OrderFlow, current: str, target: str) -> None:
    allowed = allowed_next(flow, current)
    if target not in allowed:
        raise Conflict(
            f"cannot move an order from {current!r} to {target!r}",
            code="invalid_transition",
            details={"from": current, "to": target, "allowed": allowed},
        )
