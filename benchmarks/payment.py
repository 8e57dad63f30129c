"""The payment flow on the embedded emulator: the event-driven OMS seed's order, operation by operation.

An order of a channel like the demo `oms` (external prices, the `payment` and `shipping` event handlers, the simulated
providers): create, 1 modify, commit; the worker runs the `payment` handler (PaymentRequested) and `payment.request`
(the provider's intent); the provider's `payment.succeeded` webhook arrives (OrderPaid); the worker runs the
`shipping` handler (processing, ShipmentRequested) and `shipping.create`; the provider's `shipment.shipped` and
`shipment.delivered` webhooks arrive. The provider's side is not ours: the simulator's `simulator.webhook`
directives are delivered here straight to the webhook service, as API Gateway would deliver the provider's POST,
and only that receipt is metered (as an API call).

Run alone with `.venv/bin/python -m benchmarks.payment`; `make bench` runs it with everything else.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

os.environ.setdefault("OMNIMAN_PAYMENT_WEBHOOK_SECRET_SIMULATOR", "bench-payment-simulator-secret")
os.environ.setdefault("OMNIMAN_SHIPPING_WEBHOOK_SECRET_SIMULATOR", "bench-shipping-simulator-secret")

from benchmarks.emulated import Worker, emulated_hub, invoke
from benchmarks.meter import Meter

CHANNEL = "paybench"
ORDERS = 6
CREATE, MODIFY, COMMIT = "payment: create session", "payment: modify (add_line)", "payment: commit (1 line)"
RUN_PAYMENT_HANDLER, RUN_REQUEST = "payment: run event.payment", "payment: run payment.request"
RUN_SHIPPING_HANDLER, RUN_SHIPMENT = "payment: run event.shipping", "payment: run shipping.create"
WEBHOOK = "payment: provider webhook received"
# One order, as the cost model prices it: every HTTP call and every directive our functions run for it.
FLOW = [(CREATE, 1), (MODIFY, 1), (COMMIT, 1), (RUN_PAYMENT_HANDLER, 1), (RUN_REQUEST, 1), (WEBHOOK, 3),
        (RUN_SHIPPING_HANDLER, 1), (RUN_SHIPMENT, 1)]
# Each order's directives: the two handlers, the two provider calls, and the simulator's three webhooks, whose own
# runs ("payment: run simulator.webhook", the provider's side) are left out of the flow.
DIRECTIVES = 7


def deliver_to_api(hub: Any, meter: Meter) -> Any:
    """A `simulator.webhook` handler that hands the signed body to the webhook service, as the API would."""
    from chalicelib.contrib import webhooks
    from chalicelib.contrib.payments import SIMULATOR, webhook_secret_name
    from chalicelib.services import provider_webhooks

    def handler(directive: Any, ctx: Any) -> dict[str, Any]:
        kind = directive.payload["kind"]
        body = json.dumps({**directive.payload["body"], "created": int(time.time())}, separators=(",", ":")).encode()
        signature = webhooks.sign(str(hub.secrets.get(webhook_secret_name(kind, SIMULATOR))), body, int(time.time()))
        with meter.op(WEBHOOK):
            status, answer = invoke("http", lambda: provider_webhooks.receive(hub, kind, SIMULATOR, body, signature))
        assert answer.get("outcome") == "applied", answer
        return {"status": status}

    return handler


def payment_order(hub: Any, worker: Worker, key: str) -> None:
    from chalicelib.services import commit, modify, sessions

    meter = worker.meter
    with meter.op(CREATE):
        invoke("http", lambda: sessions.create(hub, CHANNEL, {"session_key": key}, "bench"))
    with meter.op(MODIFY):
        invoke("http", lambda: modify.modify(hub, CHANNEL, key, [{"op": "add_line", "sku": "BOOK", "qty": 1,
                                                                    "unit_price_q": 2500}],
                                            expected_rev=None, actor="bench"))
    with meter.op(COMMIT):
        done = invoke("http", lambda: commit.commit(hub, CHANNEL, key, {}, header_key=f"pay-{key}", actor="bench"))
    ref = done.result["order_ref"]
    ran = [worker.run_one("payment") for _ in range(DIRECTIVES)]
    order = hub.orders.get(ref)
    assert order.status == "delivered", (order.status, ran)


def run(meter: Meter) -> None:
    from chalicelib.domain.registry import registry
    from chalicelib.services import channels

    with emulated_hub() as hub:
        meter.attach(hub.db.client)
        meter.attach(hub.queue.sqs)
        channels.create(hub, {
            "code": CHANNEL, "name": "Payment flow", "pricing_policy": "external",
            "config": {"order_flow": {"initial_status": "pending", "transitions": {
                "pending": ["paid", "cancelled", "failed"], "paid": ["processing", "cancelled"],
                "processing": ["shipped"], "shipped": ["delivered"]},
                "terminal_statuses": ["delivered", "cancelled", "failed"]},
                "event_handlers": ["payment", "shipping"],
                "payment": {"backend": "simulator", "simulate_delay_seconds": 0},
                "shipping": {"backend": "simulator", "simulate_delay_seconds": 0}}})
        original = registry.handler("simulator.webhook")
        registry.register_handler("simulator.webhook")(deliver_to_api(hub, meter))
        try:
            worker = Worker(hub, meter, hub.settings.directives_queue, "directive_worker")
            mark = meter.mark()
            payment_order(hub, worker, "PAY-WARM")
            meter.discard_since(mark)
            for n in range(ORDERS):
                payment_order(hub, worker, f"PAY-{n}")
        finally:
            registry.register_handler("simulator.webhook")(original)


def main() -> None:
    from benchmarks.cost import op_rows
    from benchmarks.report import Section, render

    meter = Meter()
    run(meter)
    print(render([Section("payment flow"), *op_rows(meter.summaries())]))


if __name__ == "__main__":
    main()
