"""Omniman Serverless: the table of HTTP routes and event handlers. Everything else is in chalicelib/."""

from typing import Any

from chalice import Rate
from chalice.app import CloudWatchEvent, Request, Response, SQSEvent

from chalicelib.bootstrap import hub
from chalicelib.directives import worker
from chalicelib.domain.access import ANY_KEY, CHANNEL_READ, CHANNEL_WRITE, PUBLIC, RESOURCE, SIGNED, scope
from chalicelib.http import (
    api,
    console_api,
    direct_api,
    feed_api,
    inventory_api,
    keys_api,
    lifecycle_api,
    refs_api,
    search_api,
)
from chalicelib.http.chalice_app import ThreadSafeChalice
from chalicelib.http.guard import guard
from chalicelib.http.routes import RouteTable
from chalicelib.inventory.service import sweep_expired_holds
from chalicelib.observability import observe
from chalicelib.services.directives import relay_outbox

app = ThreadSafeChalice(app_name="omniman")
HUB = hub()  # fails fast at import when the environment is incomplete (I10)
# Every route says who may call it (chalicelib/domain/access.py); the middleware enforces it before the view.
route = RouteTable(app)
ADMIN, OPERATOR, CATALOG = scope("admin"), scope("operator"), scope("catalog:write")


def req() -> Request:
    return app.current_request


@app.middleware("http")
def admit_and_observe(event: Request, get_response: Any) -> Response:
    request_id = event.context.get("requestId") or app.lambda_context.aws_request_id
    response = observe("http", request_id, lambda: guard(HUB, route, event, get_response))
    response.headers["X-Request-Id"] = request_id
    return response


# --- health and channels ----------------------------------------------------------------------------------------
@route("/v1/health", "GET", PUBLIC)
def health() -> Response:
    return api.health(req(), HUB)


@route("/v1/channels", "GET", ANY_KEY)
def list_channels() -> Response:
    return api.list_channels(req(), HUB)


@route("/v1/channels", "POST", ADMIN)
def create_channel() -> Response:
    return api.create_channel(req(), HUB)


@route("/v1/channels/{code}", "GET", CHANNEL_READ)
def get_channel(code: str) -> Response:
    return api.get_channel(req(), HUB, code)


@route("/v1/channels/{code}", "PUT", ADMIN)
def put_channel(code: str) -> Response:
    return api.put_channel(req(), HUB, code)


# --- API keys -----------------------------------------------------------------------------------------------------
@route("/v1/me", "GET", ANY_KEY)
def whoami() -> Response:
    return keys_api.whoami(req(), HUB)


@route("/v1/keys", "GET", ADMIN)
def list_keys() -> Response:
    return keys_api.list_keys(req(), HUB)


@route("/v1/keys", "POST", ADMIN)
def create_key() -> Response:
    return keys_api.create_key(req(), HUB)


@route("/v1/keys/{key_id}", "GET", ADMIN)
def get_key(key_id: str) -> Response:
    return keys_api.get_key(req(), HUB, key_id)


@route("/v1/keys/{key_id}/revoke", "POST", ADMIN)
def revoke_key(key_id: str) -> Response:
    return keys_api.revoke_key(req(), HUB, key_id)


# --- sessions ---------------------------------------------------------------------------------------------------
@route("/v1/channels/{code}/sessions", "GET", CHANNEL_READ)
def list_sessions(code: str) -> Response:
    return api.list_sessions(req(), HUB, code)


@route("/v1/channels/{code}/sessions", "POST", CHANNEL_WRITE)
def create_session(code: str) -> Response:
    return api.create_session(req(), HUB, code)


@route("/v1/channels/{code}/sessions/{key}", "GET", CHANNEL_READ)
def get_session(code: str, key: str) -> Response:
    return api.get_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/modify", "POST", CHANNEL_WRITE)
def modify_session(code: str, key: str) -> Response:
    return api.modify_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/commit", "POST", CHANNEL_WRITE, limits=("commit",))
def commit_session(code: str, key: str) -> Response:
    return api.commit_session(req(), HUB, code, key, app.lambda_context)


@route("/v1/channels/{code}/sessions/{key}/abandon", "POST", CHANNEL_WRITE)
def abandon_session(code: str, key: str) -> Response:
    return api.abandon_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/resolve", "POST", CHANNEL_WRITE)
def resolve_issue(code: str, key: str) -> Response:
    return api.resolve_issue(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/recheck", "POST", CHANNEL_WRITE)
def recheck_session(code: str, key: str) -> Response:
    return api.recheck_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/checks/{check_code}", "POST", CHANNEL_WRITE)
def write_check(code: str, key: str, check_code: str) -> Response:
    return api.write_check(req(), HUB, code, key, check_code)


# --- orders -----------------------------------------------------------------------------------------------------
@route("/v1/orders", "GET", ANY_KEY)
def list_orders() -> Response:
    return api.list_orders(req(), HUB)


@route("/v1/orders", "POST", RESOURCE)  # the body names the channel: the service checks the key may write it
def create_direct_order() -> Response:
    return direct_api.create_order(req(), HUB)


@route("/v1/orders/stats", "GET", ANY_KEY)
def order_stats() -> Response:
    return direct_api.stats(req(), HUB)


@route("/v1/orders/{ref}", "GET", RESOURCE)
def get_order(ref: str) -> Response:
    return api.get_order(req(), HUB, ref)


@route("/v1/orders/{ref}/events", "GET", RESOURCE)
def order_events(ref: str) -> Response:
    return api.order_events(req(), HUB, ref)


@route("/v1/orders/{ref}/transition", "POST", RESOURCE)
def transition_order(ref: str) -> Response:
    return api.transition_order(req(), HUB, ref)


@route("/v1/orders/{ref}/history", "GET", RESOURCE)
def order_history(ref: str) -> Response:
    return lifecycle_api.history(req(), HUB, ref)


@route("/v1/orders/{ref}/pay", "POST", RESOURCE)
def pay_order(ref: str) -> Response:
    return lifecycle_api.pay(req(), HUB, ref)


@route("/v1/orders/{ref}/cancel", "POST", RESOURCE)
def cancel_order(ref: str) -> Response:
    return lifecycle_api.cancel(req(), HUB, ref)


@route("/v1/orders/{ref}/ship", "POST", RESOURCE)
def ship_order(ref: str) -> Response:
    return lifecycle_api.ship(req(), HUB, ref)


@route("/v1/orders/{ref}/deliver", "POST", RESOURCE)
def deliver_order(ref: str) -> Response:
    return lifecycle_api.deliver(req(), HUB, ref)


@route("/v1/orders/{ref}/refund", "POST", RESOURCE)
def refund_order(ref: str) -> Response:
    return lifecycle_api.refund(req(), HUB, ref)


@route("/v1/orders/{ref}/payments", "GET", RESOURCE)
def order_payments(ref: str) -> Response:
    return lifecycle_api.payments(req(), HUB, ref)


@route("/v1/orders/{ref}/shipments", "GET", RESOURCE)
def order_shipments(ref: str) -> Response:
    return lifecycle_api.shipments(req(), HUB, ref)


@route("/v1/orders/{ref}/webhooks", "GET", RESOURCE)
def order_webhooks(ref: str) -> Response:
    return lifecycle_api.webhook_log(req(), HUB, ref)


# --- change feed: every order event and session commit/abandon per channel, resumable, long-polled --------------
@route("/v1/changes", "GET", ANY_KEY)
def list_changes() -> Response:
    return feed_api.changes_after(req(), HUB)


# --- external references (a marketplace's order id, a POS ticket): unique per channel, carried to the order ----
@route("/v1/orders/{ref}/refs/{namespace}", "PUT", RESOURCE)
def set_order_ref(ref: str, namespace: str) -> Response:
    return refs_api.set_order_ref(req(), HUB, ref, namespace)


@route("/v1/orders/{ref}/refs/{namespace}", "DELETE", RESOURCE)
def remove_order_ref(ref: str, namespace: str) -> Response:
    return refs_api.remove_order_ref(req(), HUB, ref, namespace)


@route("/v1/channels/{code}/sessions/{key}/refs/{namespace}", "PUT", CHANNEL_WRITE)
def set_session_ref(code: str, key: str, namespace: str) -> Response:
    return refs_api.set_session_ref(req(), HUB, code, key, namespace)


@route("/v1/channels/{code}/sessions/{key}/refs/{namespace}", "DELETE", CHANNEL_WRITE)
def remove_session_ref(code: str, key: str, namespace: str) -> Response:
    return refs_api.remove_session_ref(req(), HUB, code, key, namespace)


@route("/v1/refs/{namespace}/{value}", "GET", ANY_KEY)  # `?channel=`: read access to it
def find_ref(namespace: str, value: str) -> Response:
    return refs_api.find(req(), HUB, namespace, value)


# --- catalog search ---------------------------------------------------------------------------------------------
@route("/v1/products/search", "GET", ANY_KEY)
def search_products() -> Response:
    return search_api.search_products(req(), HUB)


@route("/v1/products/autocomplete", "GET", ANY_KEY)
def autocomplete_products() -> Response:
    return search_api.autocomplete(req(), HUB)


# --- provider webhooks: signed by the provider instead of a key ---------------------------------------------------
@route("/v1/webhooks/payment", "POST", SIGNED)
def payment_webhook() -> Response:
    return lifecycle_api.receive_webhook(req(), HUB, "payment")


@route("/v1/webhooks/shipping", "POST", SIGNED)
def shipping_webhook() -> Response:
    return lifecycle_api.receive_webhook(req(), HUB, "shipping")


# --- directives -------------------------------------------------------------------------------------------------
@route("/v1/directives", "GET", OPERATOR)
def list_directives() -> Response:
    return api.list_directives(req(), HUB)


@route("/v1/directives/{directive_id}", "GET", OPERATOR)
def get_directive(directive_id: str) -> Response:
    return api.get_directive(req(), HUB, directive_id)


@route("/v1/directives/{directive_id}/retry", "POST", OPERATOR)
def retry_directive(directive_id: str) -> Response:
    return api.retry_directive(req(), HUB, directive_id)


@route("/v1/directives/redrive", "POST", OPERATOR)
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

@route("/v1/stores", "GET", ANY_KEY)
def list_stores() -> Response:
    return inventory_api.list_stores(req(), HUB)


@route("/v1/stores", "POST", CATALOG)
def create_store() -> Response:
    return inventory_api.create_store(req(), HUB)


@route("/v1/stores/{code}", "GET", ANY_KEY)
def get_store(code: str) -> Response:
    return inventory_api.get_store(req(), HUB, code)


@route("/v1/categories", "GET", ANY_KEY)
def list_categories() -> Response:
    return inventory_api.list_categories(req(), HUB)


@route("/v1/categories", "POST", CATALOG)
def create_category() -> Response:
    return inventory_api.create_category(req(), HUB)


# `{code}`: the path parameter name every tool that walks the route table already fills (it is the category id).
@route("/v1/categories/{code}", "GET", ANY_KEY)
def get_category(code: str) -> Response:
    return inventory_api.get_category(req(), HUB, code)


@route("/v1/products", "GET", ANY_KEY)
def list_products() -> Response:
    return inventory_api.list_products(req(), HUB)


@route("/v1/products", "POST", CATALOG)
def create_product() -> Response:
    return inventory_api.create_product(req(), HUB)


# Static routes (/v1/products/search, /v1/products/autocomplete) win over `{sku}` in Chalice's routing.
@route("/v1/products/{sku}", "GET", ANY_KEY)
def get_product(sku: str) -> Response:
    return inventory_api.get_product(req(), HUB, sku)


@route("/v1/products/{sku}", "PUT", CATALOG)
def put_product(sku: str) -> Response:
    return inventory_api.put_product(req(), HUB, sku)


@route("/v1/catalog/import", "POST", CATALOG)
def import_catalog() -> Response:
    return inventory_api.import_catalog(req(), HUB)


@route("/v1/inventory", "GET", ANY_KEY)
def list_stock() -> Response:
    return inventory_api.list_stock(req(), HUB)


@route("/v1/inventory", "POST", CATALOG)
def post_stock() -> Response:
    return inventory_api.post_stock(req(), HUB)


@route("/v1/inventory/{store_code}/{sku}", "PUT", CATALOG)
def put_stock(store_code: str, sku: str) -> Response:
    return inventory_api.put_stock(req(), HUB, store_code, sku)


@route("/v1/inventory/{store_code}/{sku}", "GET", ANY_KEY)
def get_stock(store_code: str, sku: str) -> Response:
    return inventory_api.get_stock(req(), HUB, store_code, sku)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="hold_sweeper")
def hold_sweeper(event: CloudWatchEvent) -> dict[str, int]:
    return observe("schedule", event.context.aws_request_id, lambda: sweep_expired_holds(HUB))


# --- operator console: a page without data; all it shows it asks of this API with the operator's own key -------
@route("/console", "GET", PUBLIC)
def console_page() -> Response:
    return console_api.page()


@route("/console/{asset}", "GET", PUBLIC)
def console_asset(asset: str) -> Response:
    return console_api.asset(asset)
