"""Cost per 1,000 orders on AWS, from what the metered operations asked of DynamoDB and SQS.

A flow is a list of metered operations with how often one order runs each (e.g. 5 modifies). From their
summaries (benchmarks.meter) and the price table (benchmarks.prices) it prices:
- DynamoDB: the read and write request units the meter computed from the measured item sizes, table and index
  writes apart (index writes are most of the bill while every index projects ALL);
- Lambda: one request per invocation (an HTTP call, or one directive: a quiet queue delivers one record per
  batch) and GB-seconds at the memory .chalice/config.json gives the function in `stage`. The duration is an
  estimate: our own time on this machine stretched to the CPU share the memory buys (1,769 MB = 1 vCPU), plus the
  store round trips at their assumed latency (benchmarks.prices.AWS_LATENCY_MS), rounded up to the billed ms.
  Lambda's CPUs are not this machine's, and the HTTP layer (API Gateway to Chalice's routing and the wire format)
  is not in "our time": the services are called directly;
- API Gateway: one REST request per HTTP call;
- SQS: a send, a receive and a delete per directive (what one directive costs on a quiet queue; batching divides
  the receive and delete);
- the scheduled functions (outbox relay, hold sweeper) run every minute whatever the traffic: their cost per run
  is shared over `orders_per_month` orders;
- the API-key guard, on its own line: the benchmarks call services, not HTTP, so the product's figures above do
  not include the one rate-limit UpdateItem every keyed request makes (the key read itself is cached).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from . import prices
from .meter import OpSummary
from .report import Row, cpu_stretch, op_row

CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
SCHEDULED_RUNS_PER_MONTH = 60 * 24 * 30  # Rate(1 minute), a 30-day month
ORDERS_PER_MONTH = 100_000
PER = 1000  # orders
ESM = "esm"  # the event source mapping's own calls: billed, but no Lambda invocation of their own
WORKERS = frozenset({"directive_worker", "check_worker"})  # one invocation per directive


@dataclass(frozen=True)
class Flow:
    name: str
    steps: list[tuple[str, int]]  # (operation, runs per order)
    scheduled: list[str]  # operations run once a minute by a schedule


@dataclass(frozen=True)
class Bill:
    """Per order: units of each kind and their price."""

    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: float = 0.0
    lambda_requests: float = 0.0
    gb_seconds: float = 0.0
    api_requests: float = 0.0
    sqs_requests: float = 0.0
    scheduled_dollars: float = 0.0

    def __add__(self, other: Bill) -> Bill:
        return Bill(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def scaled(self, factor: float) -> Bill:
        return Bill(*(v * factor for v in self._values()))

    def _values(self) -> tuple[float, ...]:
        return (self.read_units, self.write_units, self.index_write_units, self.lambda_requests, self.gb_seconds,
                self.api_requests, self.sqs_requests, self.scheduled_dollars)

    def lines(self) -> list[tuple[str, float, str]]:
        """(line, dollars, units) for the table."""
        return [
            ("DynamoDB reads", self.read_units * prices.DYNAMODB_READ_REQUEST_UNIT, f"{self.read_units:,.0f} RRU"),
            ("DynamoDB writes, table", self.write_units * prices.DYNAMODB_WRITE_REQUEST_UNIT,
             f"{self.write_units:,.0f} WRU"),
            ("DynamoDB writes, indexes", self.index_write_units * prices.DYNAMODB_WRITE_REQUEST_UNIT,
             f"{self.index_write_units:,.0f} WRU"),
            ("Lambda requests", self.lambda_requests * prices.LAMBDA_REQUEST, f"{self.lambda_requests:,.0f}"),
            ("Lambda GB-seconds (estimate)", self.gb_seconds * prices.LAMBDA_GB_SECOND, f"{self.gb_seconds:,.1f} GB-s"),
            ("API Gateway REST requests", self.api_requests * prices.API_GATEWAY_REST_REQUEST,
             f"{self.api_requests:,.0f}"),
            ("SQS requests", self.sqs_requests * prices.SQS_REQUEST, f"{self.sqs_requests:,.0f}"),
            ("scheduled functions' share", self.scheduled_dollars, "relay (+ sweeper): every minute"),
        ]

    @property
    def dollars(self) -> float:
        return sum(dollars for _, dollars, _ in self.lines())


def memory_mb(stage: str, function: str) -> int:
    """The function's memory in .chalice/config.json: its own setting, else the stage's, else Chalice's 128."""
    config = json.loads(CONFIG.read_text())
    settings = config["stages"][stage]
    own = settings.get("lambda_functions", {}).get(function, {})
    return int(own.get("lambda_memory_size") or settings.get("lambda_memory_size")
               or config.get("lambda_memory_size") or 128)


def op_rows(ops: dict[str, OpSummary], stage: str = "prod") -> list[Row]:
    """A row per operation, its AWS estimate at the memory of the function that runs it."""
    return [op_row(op, memory_mb(stage, op.function) if op.function != ESM else 0) for op in ops.values()]


def invocation(op: OpSummary, stage: str, runs: float = 1) -> Bill:
    """`runs` invocations of the function running `op` (or the event source mapping's calls, for ESM ops)."""
    db = Bill(read_units=op.read_units * runs, write_units=op.write_units * runs,
              index_write_units=op.index_write_units * runs)
    if op.function == ESM:
        return db
    memory = memory_mb(stage, op.function)
    billed_ms = math.ceil(op.ours_ms * cpu_stretch(memory) + op.store_latency_ms)
    gb_seconds = memory / 1024 * billed_ms / 1000
    http = op.function == "api_handler"
    # A worker invocation is one directive: its send, its receive and its delete.
    sqs = 3 if op.function in WORKERS else 0
    return db + Bill(lambda_requests=runs, gb_seconds=gb_seconds * runs, api_requests=runs if http else 0,
                     sqs_requests=sqs * runs)


def per_order(flow: Flow, ops: dict[str, OpSummary], stage: str, orders_per_month: int) -> Bill:
    bill = Bill()
    for name, runs in flow.steps:
        bill += invocation(ops[name], stage, runs)
    for name in flow.scheduled:
        run = invocation(ops[name], stage)
        dollars = (run.read_units * prices.DYNAMODB_READ_REQUEST_UNIT + run.lambda_requests * prices.LAMBDA_REQUEST
                   + run.gb_seconds * prices.LAMBDA_GB_SECOND)
        bill += Bill(scheduled_dollars=dollars * SCHEDULED_RUNS_PER_MONTH / orders_per_month)
    return bill


def http_calls(flow: Flow, ops: dict[str, OpSummary]) -> int:
    return sum(runs for name, runs in flow.steps if ops[name].function == "api_handler")


def rows(flows: list[Flow], ops: dict[str, OpSummary], guard: OpSummary, stage: str,
         orders_per_month: int = ORDERS_PER_MONTH) -> list[Row]:
    bills = {f.name: per_order(f, ops, stage, orders_per_month).scaled(PER) for f in flows}
    out: list[Row] = []
    names = list(bills)
    line_names = [name for name, _, _ in next(iter(bills.values())).lines()]
    for i, line in enumerate(line_names):
        cells = [(flow, bills[flow].lines()[i]) for flow in names]
        out.append(Row(line, " | ".join(f"{flow} ${dollars:.4f}" for flow, (_, dollars, _) in cells),
                       detail=" | ".join(f"{flow} {units}" for flow, (_, _, units) in cells)))
    out.append(Row("total, the product as measured", " | ".join(f"{flow} ${bills[flow].dollars:.4f}" for flow in names),
                   detail="payment: the simulated provider's own webhook directives left out"))
    guards = {f.name: invocation(guard, stage, http_calls(f, ops)).scaled(PER) for f in flows}
    guard_dollars = {
        name: (g.write_units + g.index_write_units) * prices.DYNAMODB_WRITE_REQUEST_UNIT
        + g.read_units * prices.DYNAMODB_READ_REQUEST_UNIT + g.gb_seconds * prices.LAMBDA_GB_SECOND
        for name, g in guards.items()
    }
    out.append(Row("+ API-key guard (not in the product figures)",
                   " | ".join(f"{name} ${d:.4f}" for name, d in guard_dollars.items()),
                   detail="1 rate-limit UpdateItem per keyed HTTP request (the key read is cached): "
                          + " | ".join(f"{name} {guards[name].write_units:,.0f} WRU" for name in names)
                          + "; its time on the API function"))
    out.append(Row("total with the guard",
                   " | ".join(f"{name} ${bills[name].dollars + guard_dollars[name]:.4f}" for name in names)))
    return out
