"""Omniman Serverless: the table of HTTP routes and event handlers. Everything else is in chalicelib/."""

from typing import Any

from chalice import Rate
from chalice.app import CloudWatchEvent, Request, Response, SQSEvent

from chalicelib.bootstrap import hub
from chalicelib.directives import worker
from chalicelib.http import api, inventory_api
from chalicelib.http.chalice_app import ThreadSafeChalice
from chalicelib.inventory.service import sweep_expired_holds
from chalicelib.observability import observe
from chalicelib.services.directives import relay_outbox

app = ThreadSafeChalice(app_name="omniman")
HUB = hub()  # fails fast at import when the environment is incomplete (I10)
BODY = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


def req() -> Request:
    return app.current_request


@app.middleware("http")
def observe_http(event: Request, get_response: Any) -> Response:
    request_id = event.context.get("requestId") or app.lambda_context.aws_request_id
    response = observe("http", request_id, lambda: get_response(event))
    response.headers["X-Request-Id"] = request_id
    return response


# --- health and channels ----------------------------------------------------------------------------------------
@app.route("/v1/health", methods=["GET"])
def health() -> Response:
    return api.health(req(), HUB)


@app.route("/v1/channels", methods=["GET"])
def list_channels() -> Response:
    return api.list_channels(req(), HUB)


@app.route("/v1/channels", methods=["POST"], content_types=BODY)
def create_channel() -> Response:
    return api.create_channel(req(), HUB)


@app.route("/v1/channels/{code}", methods=["GET"])
def get_channel(code: str) -> Response:
    return api.get_channel(req(), HUB, code)


@app.route("/v1/channels/{code}", methods=["PUT"], content_types=BODY)
def put_channel(code: str) -> Response:
    return api.put_channel(req(), HUB, code)


# --- sessions ---------------------------------------------------------------------------------------------------
@app.route("/v1/channels/{code}/sessions", methods=["GET"])
def list_sessions(code: str) -> Response:
    return api.list_sessions(req(), HUB, code)


@app.route("/v1/channels/{code}/sessions", methods=["POST"], content_types=BODY)
def create_session(code: str) -> Response:
    return api.create_session(req(), HUB, code)


@app.route("/v1/channels/{code}/sessions/{key}", methods=["GET"])
def get_session(code: str, key: str) -> Response:
    return api.get_session(req(), HUB, code, key)


@app.route("/v1/channels/{code}/sessions/{key}/modify", methods=["POST"], content_types=BODY)
def modify_session(code: str, key: str) -> Response:
    return api.modify_session(req(), HUB, code, key)


@app.route("/v1/channels/{code}/sessions/{key}/commit", methods=["POST"], content_types=BODY)
def commit_session(code: str, key: str) -> Response:
    return api.commit_session(req(), HUB, code, key, app.lambda_context)


@app.route("/v1/channels/{code}/sessions/{key}/abandon", methods=["POST"], content_types=BODY)
def abandon_session(code: str, key: str) -> Response:
    return api.abandon_session(req(), HUB, code, key)


@app.route("/v1/channels/{code}/sessions/{key}/resolve", methods=["POST"], content_types=BODY)
def resolve_issue(code: str, key: str) -> Response:
    return api.resolve_issue(req(), HUB, code, key)


@app.route("/v1/channels/{code}/sessions/{key}/recheck", methods=["POST"], content_types=BODY)
def recheck_session(code: str, key: str) -> Response:
    return api.recheck_session(req(), HUB, code, key)


@app.route("/v1/channels/{code}/sessions/{key}/checks/{check_code}", methods=["POST"], content_types=BODY)
def write_check(code: str, key: str, check_code: str) -> Response:
    return api.write_check(req(), HUB, code, key, check_code)


# --- orders -----------------------------------------------------------------------------------------------------
@app.route("/v1/orders", methods=["GET"])
def list_orders() -> Response:
    return api.list_orders(req(), HUB)


@app.route("/v1/orders/{ref}", methods=["GET"])
def get_order(ref: str) -> Response:
    return api.get_order(req(), HUB, ref)


@app.route("/v1/orders/{ref}/events", methods=["GET"])
def order_events(ref: str) -> Response:
    return api.order_events(req(), HUB, ref)


@app.route("/v1/orders/{ref}/transition", methods=["POST"], content_types=BODY)
def transition_order(ref: str) -> Response:
    return api.transition_order(req(), HUB, ref)


# --- directives -------------------------------------------------------------------------------------------------
@app.route("/v1/directives", methods=["GET"])
def list_directives() -> Response:
    return api.list_directives(req(), HUB)


@app.route("/v1/directives/{directive_id}", methods=["GET"])
def get_directive(directive_id: str) -> Response:
    return api.get_directive(req(), HUB, directive_id)


@app.route("/v1/directives/{directive_id}/retry", methods=["POST"], content_types=BODY)
def retry_directive(directive_id: str) -> Response:
    return api.retry_directive(req(), HUB, directive_id)


@app.route("/v1/directives/redrive", methods=["POST"], content_types=BODY)
def redrive_directives() -> Response:
    return api.redrive_directives(req(), HUB)


@app.on_sqs_message(queue=HUB.settings.directives_queue, batch_size=10, name="directive_worker")
def directive_worker(event: SQSEvent) -> dict[str, Any]:
    return observe("sqs", event.context.aws_request_id,
                   lambda: worker.handle_batch(HUB, event.to_dict(), event.context))


@app.on_sqs_message(queue=HUB.settings.checks_queue, batch_size=10, name="check_worker")
def check_worker(event: SQSEvent) -> dict[str, Any]:
    return observe("sqs", event.context.aws_request_id,
                   lambda: worker.handle_batch(HUB, event.to_dict(), event.context))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="outbox_relay")
def outbox_relay(event: CloudWatchEvent) -> dict[str, int]:
    return observe("schedule", event.context.aws_request_id, lambda: {"relayed": relay_outbox(HUB)})


# --- inventory --------------------------------------------------------------------------------------------------

@app.route("/v1/stores", methods=["POST"], content_types=BODY)
def create_store() -> Response:
    return inventory_api.create_store(req(), HUB)


@app.route("/v1/stores/{code}", methods=["GET"])
def get_store(code: str) -> Response:
    return inventory_api.get_store(req(), HUB, code)


@app.route("/v1/products", methods=["POST"], content_types=BODY)
def create_product() -> Response:
    return inventory_api.create_product(req(), HUB)


@app.route("/v1/products/{sku}", methods=["GET"])
def get_product(sku: str) -> Response:
    return inventory_api.get_product(req(), HUB, sku)


@app.route("/v1/inventory/{store_code}/{sku}", methods=["PUT"], content_types=BODY)
def put_stock(store_code: str, sku: str) -> Response:
    return inventory_api.put_stock(req(), HUB, store_code, sku)


@app.route("/v1/inventory/{store_code}/{sku}", methods=["GET"])
def get_stock(store_code: str, sku: str) -> Response:
    return inventory_api.get_stock(req(), HUB, store_code, sku)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="hold_sweeper")
def hold_sweeper(event: CloudWatchEvent) -> dict[str, int]:
    return observe("schedule", event.context.aws_request_id, lambda: sweep_expired_holds(HUB))
