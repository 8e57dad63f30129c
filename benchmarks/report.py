"""The one table `make bench` prints: a row per figure, measured beside its target where it has one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import prices
from .meter import OpSummary

OK, MISS = "ok", "MISS"


@dataclass(frozen=True)
class Row:
    what: str
    measured: str = ""
    target: str = ""
    mark: str = ""  # OK, MISS, or "" for a figure without a target
    detail: str = ""


@dataclass(frozen=True)
class Section:
    title: str


Line = Row | Section


def verdict(met: bool) -> str:
    return OK if met else MISS


def cpu_stretch(memory_mb: int) -> float:
    """How much longer CPU-bound work takes on a function of this size than on one full core."""
    return max(1.0, prices.LAMBDA_MB_PER_VCPU / memory_mb)


def aws_estimate_ms(op: OpSummary, memory_mb: int) -> float:
    """Expected server time on AWS: the store round trips at their documented latency plus our own time,
    stretched to the CPU share the function's memory buys."""
    return op.store_latency_ms + op.ours_ms * cpu_stretch(memory_mb)


def requests_text(op: OpSummary) -> str:
    parts = [f"{n} {name}" for name, n in sorted(op.dynamodb.items())]
    text = f"{op.dynamodb_requests} DynamoDB" + (f" ({', '.join(parts)})" if parts else "")
    if op.sqs:
        text += " + SQS " + ", ".join(f"{n} {name}" for name, n in sorted(op.sqs.items()))
    return text


def op_row(op: OpSummary, memory_mb: int, target: int | None = None, target_note: str = "") -> Row:
    units = f"RRU {_num(op.read_units)}, WRU {_num(op.write_units)} table + {_num(op.index_write_units)} index"
    times = f"wall {op.wall_ms:.1f} ms = emulator {op.emulator_ms:.1f} + ours {op.ours_ms:.1f}"
    if op.function != "esm":  # the event source mapping's calls are not on a function's clock
        times += (f"; {_num(op.round_trips)} round trip(s) -> AWS ~{aws_estimate_ms(op, memory_mb):.0f} ms "
                  f"at {memory_mb} MB")
    steady = "" if op.steady else "; requests varied between runs (most common shown)"
    detail = f"{units}; {times}; n={op.runs}{steady}"
    if target is None:
        return Row(op.name, requests_text(op), detail=detail)
    met = op.dynamodb_requests <= target
    return Row(op.name, requests_text(op), f"<= {target}", verdict(met),
               (f"target: {target_note}; " if target_note else "") + detail)


def _num(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def render(lines: Iterable[Line]) -> str:
    lines = list(lines)
    rows = [line for line in lines if isinstance(line, Row)]
    header = Row("what", "measured", "target", "", "detail")
    widths = [max(len(getattr(r, f)) for r in [header, *rows]) for f in ("what", "measured", "target", "mark")]
    widths = [min(w, cap) for w, cap in zip(widths, (46, 72, 44, 4), strict=True)]

    def fmt(row: Row) -> str:
        cells = [row.what, row.measured, row.target, row.mark]
        text = "  ".join(_fit(c, w) for c, w in zip(cells, widths, strict=True))
        return f"{text}  {row.detail}".rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths) + 40)
    out = [fmt(header), rule]
    for line in lines:
        if isinstance(line, Section):
            out += ["", f"== {line.title}"]
        else:
            out.append(fmt(line))
    out.append(rule)
    marks = [r.mark for r in rows if r.mark]
    out.append(f"targets met: {marks.count(OK)} of {len(marks)}" + (
        f"; missed: {', '.join(r.what for r in rows if r.mark == MISS)}" if MISS in marks else ""))
    return "\n".join(out)


def _fit(text: str, width: int) -> str:
    # A cut figure would be a wrong one: an overlong cell pushes the rest of its row out of line instead.
    return text.ljust(width)
