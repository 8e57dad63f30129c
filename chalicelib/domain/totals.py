from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .models import Line, Session


def line_total_q(qty: Decimal, unit_price_q: int) -> int:
    return int((qty * unit_price_q).to_integral_value(rounding=ROUND_HALF_UP))


def recompute(session: Session) -> None:
    """Totals are derived, never trusted: recomputed after every op and every modifier."""
    for line in session.items:
        line.line_total_q = line_total_q(line.qty, line.unit_price_q)
    subtotal = sum(line.line_total_q for line in session.items)
    session.pricing.subtotal_q = subtotal
    session.pricing.total_q = subtotal


def reprice(line: Line, unit_price_q: int) -> None:
    line.unit_price_q = unit_price_q
    line.line_total_q = line_total_q(line.qty, unit_price_q)
