"""Omniman Serverless: the table of HTTP routes and event handlers. Everything else is in chalicelib/."""

from typing import Any

from chalice import Rate
from chalice.app import CloudWatchEvent, Request, Response, SQSEvent

from chalicelib.bootstrap import hub
from chalicelib.directives import worker
from chalicelib.domain.access import ANY_KEY, CHANNEL_READ, CHANNEL_WRITE, PUBLIC, RESOURCE, SIGNED, scope
from chalicelib.domain.events import OrderEvent
from chalicelib.domain.models import Channel, Directive, Order, Session
from chalicelib.domain.refs import RefBody
from chalicelib.http import (
    api,
    console_api,
    direct_api,
    docs_api,
    feed_api,
    inventory_api,
    keys_api,
    lifecycle_api,
    refs_api,
    search_api,
)
from chalicelib.http.chalice_app import ThreadSafeChalice
from chalicelib.http.codes import (
    ACTOR,
    CATEGORY,
    CHANNEL,
    CHANNEL_CONFIG,
    COMMIT,
    CONTENTION,
    DIRECT_ORDER,
    DIRECTIVE,
    FEED,
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_REQUIRED,
    IF_MATCH,
    IMPORT,
    KEY,
    OPEN_SESSION,
    OPS,
    ORDER,
    ORDER_COMMAND,
    PAYMENT,
    PRODUCT,
    REF,
    REF_GONE,
    REFUND,
    RESOLVE,
    SEARCH,
    SESSION,
    SIGNATURE,
    STOCK,
    STORE,
    TITLE,
    UNREADABLE_BODY,
    VALIDATED,
    VERSIONED,
    WEBHOOK,
)
from chalicelib.http.contract import E, Media, Models, Page, optional
from chalicelib.http.guard import guard
from chalicelib.http.routes import RouteTable
from chalicelib.inventory.models import (
    Category,
    CategoryBody,
    ImportBody,
    OnHandBody,
    Product,
    ProductBody,
    ProductReplaceBody,
    StockBody,
    StockLevel,
    StockRow,
    Store,
    StoreBody,
)
from chalicelib.inventory.service import field_codes, sweep_expired_holds
from chalicelib.observability import observe
from chalicelib.services.directives import relay_outbox

# Contract models imported only for their routes are named, not imported: the OpenAPI document imports them when it
# is first built, and a route's services are imported by its first request (chalicelib/http/contract.py, Models).
schemas, services = Models("chalicelib.http.schemas"), Models("chalicelib.services")

app = ThreadSafeChalice(app_name="omniman")
HUB = hub()  # fails fast at import when the environment is incomplete (I10)
# Every route says who may call it (chalicelib/domain/access.py), which the middleware enforces before the view, and
# what it takes and answers (chalicelib/http/contract.py), which the OpenAPI document is generated from.
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
@route("/v1/health", "GET", PUBLIC, returns=schemas.Health)
def health() -> Response:
    return api.health(req(), HUB)


# The API's own description: public, it reveals no data, and client generators fetch it without a key.
@route("/v1/openapi.json", "GET", PUBLIC, returns=Media("application/json", {"type": "object"}, "OpenAPI 3.1"))
def openapi_document() -> Response:
    return docs_api.openapi_json(req(), route)


@route("/v1/docs", "GET", PUBLIC, returns=Media("text/html", {"type": "string"}, "a readable page of the document"))
def api_docs() -> Response:
    return docs_api.docs(req(), route)


@route("/v1/channels", "GET", ANY_KEY, query=schemas.PageQuery, returns=Page(Channel))
def list_channels() -> Response:
    return api.list_channels(req(), HUB)


@route("/v1/channels", "POST", ADMIN, body=services.channels.ChannelBody, returns={201: Channel},
       errors=CHANNEL_CONFIG | E(409, "channel_exists") | E(422, "missing_code"))
def create_channel() -> Response:
    return api.create_channel(req(), HUB)


@route("/v1/channels/{code}", "GET", CHANNEL_READ, returns=Channel, errors=CHANNEL)
def get_channel(code: str) -> Response:
    return api.get_channel(req(), HUB, code)


@route("/v1/channels/{code}", "PUT", ADMIN, body=services.channels.ChannelBody, headers=(IF_MATCH,), returns=Channel,
       errors=CHANNEL | VERSIONED | CHANNEL_CONFIG | E(422, "code_mismatch"))
def put_channel(code: str) -> Response:
    return api.put_channel(req(), HUB, code)


# --- API keys -----------------------------------------------------------------------------------------------------
@route("/v1/me", "GET", ANY_KEY, returns=schemas.Me)
def whoami() -> Response:
    return keys_api.whoami(req(), HUB)


@route("/v1/keys", "GET", ADMIN, query=schemas.PageQuery, returns=Page(schemas.ApiKey))
def list_keys() -> Response:
    return keys_api.list_keys(req(), HUB)


@route("/v1/keys", "POST", ADMIN, body=services.api_keys.KeyBody, returns={201: schemas.NewApiKey}, errors=E(409,
       "key_exists"))
def create_key() -> Response:
    return keys_api.create_key(req(), HUB)


@route("/v1/keys/{key_id}", "GET", ADMIN, returns=schemas.ApiKey, errors=KEY)
def get_key(key_id: str) -> Response:
    return keys_api.get_key(req(), HUB, key_id)


@route("/v1/keys/{key_id}/revoke", "POST", ADMIN, body=None, returns=schemas.ApiKey, errors=KEY)
def revoke_key(key_id: str) -> Response:
    return keys_api.revoke_key(req(), HUB, key_id)


# --- sessions ---------------------------------------------------------------------------------------------------
@route("/v1/channels/{code}/sessions", "GET", CHANNEL_READ, query=schemas.SessionQuery, returns=Page(Session),
       errors=CHANNEL)
def list_sessions(code: str) -> Response:
    return api.list_sessions(req(), HUB, code)


@route("/v1/channels/{code}/sessions", "POST", CHANNEL_WRITE, body=optional(services.sessions.CreateSessionBody),
       headers=(ACTOR,),
       returns={201: Session}, errors=CHANNEL | E(409, "session_exists", "ref_taken") | E(422, "session_too_large"))
def create_session(code: str) -> Response:
    return api.create_session(req(), HUB, code)


@route("/v1/channels/{code}/sessions/{key}", "GET", CHANNEL_READ, returns=Session,
       errors=E(404, "session_not_found"))
def get_session(code: str, key: str) -> Response:
    return api.get_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/modify", "POST", CHANNEL_WRITE, body=services.modify.ModifyBody,
       headers=(IF_MATCH, ACTOR),
       returns=Session, errors=OPEN_SESSION | OPS | VALIDATED)
def modify_session(code: str, key: str) -> Response:
    return api.modify_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/commit", "POST", CHANNEL_WRITE, limits=("commit",),
       body=optional(services.commit.CommitBody), headers=(IDEMPOTENCY_KEY, ACTOR), returns={200: schemas.Committed,
       201: schemas.Committed},
       errors=COMMIT | VALIDATED)
def commit_session(code: str, key: str) -> Response:
    return api.commit_session(req(), HUB, code, key, app.lambda_context)


@route("/v1/channels/{code}/sessions/{key}/abandon", "POST", CHANNEL_WRITE, body=None, headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=Session, errors=OPEN_SESSION | UNREADABLE_BODY)
def abandon_session(code: str, key: str) -> Response:
    return api.abandon_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/resolve", "POST", CHANNEL_WRITE, body=services.resolve.ResolveBody,
       headers=(IF_MATCH, ACTOR, IDEMPOTENCY_KEY), returns=Session, errors=RESOLVE | VALIDATED)
def resolve_issue(code: str, key: str) -> Response:
    return api.resolve_issue(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/recheck", "POST", CHANNEL_WRITE, body=None, returns={202: schemas.Rechecked},
       errors=OPEN_SESSION | E(409, "empty_session"))
def recheck_session(code: str, key: str) -> Response:
    return api.recheck_session(req(), HUB, code, key)


@route("/v1/channels/{code}/sessions/{key}/checks/{check_code}", "POST", CHANNEL_WRITE,
       body=services.checks.CheckResultBody,
       returns=schemas.CheckWritten, errors=SESSION | CONTENTION | E(404, "check_not_found") | E(422,
       "session_too_large"))
def write_check(code: str, key: str, check_code: str) -> Response:
    return api.write_check(req(), HUB, code, key, check_code)


# --- orders -----------------------------------------------------------------------------------------------------
@route("/v1/orders", "GET", ANY_KEY, query=schemas.OrderQuery, returns=Page(Order))
def list_orders() -> Response:
    return api.list_orders(req(), HUB)


# The body names the channel: the service checks the key may write it.
@route("/v1/orders", "POST", RESOURCE, body=services.direct_orders.DirectOrderBody,
       headers=(IDEMPOTENCY_KEY_REQUIRED, ACTOR),
       returns={201: Order}, errors=DIRECT_ORDER)
def create_direct_order() -> Response:
    return direct_api.create_order(req(), HUB)


@route("/v1/orders/stats", "GET", ANY_KEY, query=schemas.StatsQuery, returns=schemas.Stats)
def order_stats() -> Response:
    return direct_api.stats(req(), HUB)


@route("/v1/orders/{ref}", "GET", RESOURCE, returns=Order, errors=ORDER)
def get_order(ref: str) -> Response:
    return api.get_order(req(), HUB, ref)


@route("/v1/orders/{ref}/events", "GET", RESOURCE, query=schemas.PageQuery, returns=Page(OrderEvent), errors=ORDER)
def order_events(ref: str) -> Response:
    return api.order_events(req(), HUB, ref)


@route("/v1/orders/{ref}/transition", "POST", RESOURCE, body=services.orders.TransitionBody, headers=(ACTOR,
       IDEMPOTENCY_KEY),
       returns=schemas.Transitioned, errors=ORDER_COMMAND)
def transition_order(ref: str) -> Response:
    return api.transition_order(req(), HUB, ref)


@route("/v1/orders/{ref}/history", "GET", RESOURCE, returns=Page(schemas.HistoryEntry), errors=ORDER)
def order_history(ref: str) -> Response:
    return lifecycle_api.history(req(), HUB, ref)


@route("/v1/orders/{ref}/pay", "POST", RESOURCE, body=optional(services.commands.PayBody),
       headers=(IDEMPOTENCY_KEY_REQUIRED, ACTOR),
       returns={200: schemas.Paid, 202: schemas.Paid}, errors=ORDER_COMMAND | PAYMENT)
def pay_order(ref: str) -> Response:
    return lifecycle_api.pay(req(), HUB, ref)


@route("/v1/orders/{ref}/cancel", "POST", RESOURCE, body=optional(services.commands.CancelBody),
       headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=schemas.Cancelled, errors=ORDER_COMMAND)
def cancel_order(ref: str) -> Response:
    return lifecycle_api.cancel(req(), HUB, ref)


@route("/v1/orders/{ref}/ship", "POST", RESOURCE, body=services.commands.ShipBody, headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=schemas.Shipped,
       errors=ORDER_COMMAND)
def ship_order(ref: str) -> Response:
    return lifecycle_api.ship(req(), HUB, ref)


@route("/v1/orders/{ref}/deliver", "POST", RESOURCE, body=optional(services.commands.DeliverBody),
       headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=schemas.OrderChanged, errors=ORDER_COMMAND)
def deliver_order(ref: str) -> Response:
    return lifecycle_api.deliver(req(), HUB, ref)


@route("/v1/orders/{ref}/refund", "POST", RESOURCE, body=optional(services.commands.RefundBody),
       headers=(IDEMPOTENCY_KEY_REQUIRED, ACTOR), returns={200: schemas.Refunded, 202: schemas.Refunded},
       errors=ORDER_COMMAND | REFUND)
def refund_order(ref: str) -> Response:
    return lifecycle_api.refund(req(), HUB, ref)


@route("/v1/orders/{ref}/payments", "GET", RESOURCE, returns=Page(schemas.PaymentRecord), errors=ORDER)
def order_payments(ref: str) -> Response:
    return lifecycle_api.payments(req(), HUB, ref)


@route("/v1/orders/{ref}/shipments", "GET", RESOURCE, returns=Page(schemas.ShipmentRecord), errors=ORDER)
def order_shipments(ref: str) -> Response:
    return lifecycle_api.shipments(req(), HUB, ref)


@route("/v1/orders/{ref}/webhooks", "GET", RESOURCE, query=schemas.PageQuery, returns=Page(schemas.WebhookDelivery),
       errors=ORDER)
def order_webhooks(ref: str) -> Response:
    return lifecycle_api.webhook_log(req(), HUB, ref)


# --- change feed: every order event and session commit/abandon per channel, resumable, long-polled --------------
@route("/v1/changes", "GET", ANY_KEY, query=schemas.ChangesQuery, returns=schemas.Changes, errors=FEED)
def list_changes() -> Response:
    return feed_api.changes_after(req(), HUB)


# --- external references (a marketplace's order id, a POS ticket): unique per channel, carried to the order ----
@route("/v1/orders/{ref}/refs/{namespace}", "PUT", RESOURCE, body=RefBody, headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=schemas.OrderChanged, errors=ORDER | CONTENTION | REF)
def set_order_ref(ref: str, namespace: str) -> Response:
    return refs_api.set_order_ref(req(), HUB, ref, namespace)


@route("/v1/orders/{ref}/refs/{namespace}", "DELETE", RESOURCE, body=None, headers=(IDEMPOTENCY_KEY, ACTOR),
       returns=schemas.OrderChanged, errors=ORDER | CONTENTION | REF_GONE)
def remove_order_ref(ref: str, namespace: str) -> Response:
    return refs_api.remove_order_ref(req(), HUB, ref, namespace)


@route("/v1/channels/{code}/sessions/{key}/refs/{namespace}", "PUT", CHANNEL_WRITE, body=RefBody,
       headers=(IDEMPOTENCY_KEY,), returns=Session, errors=OPEN_SESSION | REF | E(422, "session_too_large"))
def set_session_ref(code: str, key: str, namespace: str) -> Response:
    return refs_api.set_session_ref(req(), HUB, code, key, namespace)


@route("/v1/channels/{code}/sessions/{key}/refs/{namespace}", "DELETE", CHANNEL_WRITE, body=None,
       headers=(IDEMPOTENCY_KEY,), returns=Session, errors=OPEN_SESSION | REF_GONE)
def remove_session_ref(code: str, key: str, namespace: str) -> Response:
    return refs_api.remove_session_ref(req(), HUB, code, key, namespace)


@route("/v1/refs/{namespace}/{value}", "GET", ANY_KEY, query=schemas.RefQuery, returns=schemas.RefHolder,
       errors=REF_GONE | E(400, "invalid_ref"))
def find_ref(namespace: str, value: str) -> Response:
    return refs_api.find(req(), HUB, namespace, value)


# --- catalog search ---------------------------------------------------------------------------------------------
@route("/v1/products/search", "GET", ANY_KEY, query=schemas.SearchQuery, returns=Page(schemas.SearchHit), errors=SEARCH)
def search_products() -> Response:
    return search_api.search_products(req(), HUB)


@route("/v1/products/autocomplete", "GET", ANY_KEY, query=schemas.AutocompleteQuery, returns=schemas.Titles,
       errors=SEARCH)
def autocomplete_products() -> Response:
    return search_api.autocomplete(req(), HUB)


# --- provider webhooks: signed by the provider instead of a key ---------------------------------------------------
@route("/v1/webhooks/payment", "POST", SIGNED, body=services.provider_webhooks.WebhookEvent,
       query=schemas.WebhookQuery, headers=(SIGNATURE,),
       returns={200: schemas.WebhookOutcome, 202: schemas.WebhookOutcome}, errors=WEBHOOK | CONTENTION)
def payment_webhook() -> Response:
    return lifecycle_api.receive_webhook(req(), HUB, "payment")


@route("/v1/webhooks/shipping", "POST", SIGNED, body=services.provider_webhooks.WebhookEvent,
       query=schemas.WebhookQuery, headers=(SIGNATURE,),
       returns={200: schemas.WebhookOutcome, 202: schemas.WebhookOutcome}, errors=WEBHOOK | CONTENTION)
def shipping_webhook() -> Response:
    return lifecycle_api.receive_webhook(req(), HUB, "shipping")


# --- directives -------------------------------------------------------------------------------------------------
@route("/v1/directives", "GET", OPERATOR, query=schemas.DirectiveQuery, returns=Page(Directive))
def list_directives() -> Response:
    return api.list_directives(req(), HUB)


@route("/v1/directives/{directive_id}", "GET", OPERATOR, returns=Directive, errors=DIRECTIVE)
def get_directive(directive_id: str) -> Response:
    return api.get_directive(req(), HUB, directive_id)


@route("/v1/directives/{directive_id}/retry", "POST", OPERATOR, body=None, headers=(IDEMPOTENCY_KEY,),
       returns={200: schemas.RetriedDirective, 202: schemas.RetriedDirective},
       errors=DIRECTIVE | UNREADABLE_BODY | E(409, "directive_done"))
def retry_directive(directive_id: str) -> Response:
    return api.retry_directive(req(), HUB, directive_id)


@route("/v1/directives/redrive", "POST", OPERATOR, body=optional(services.directives.RedriveBody),
       returns=schemas.Redriven)
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

@route("/v1/stores", "GET", ANY_KEY, query=schemas.PageQuery, returns=Page(Store))
def list_stores() -> Response:
    return inventory_api.list_stores(req(), HUB)


@route("/v1/stores", "POST", CATALOG, body=StoreBody, returns={201: Store},
       errors=field_codes(StoreBody) | E(409, "store_exists"))
def create_store() -> Response:
    return inventory_api.create_store(req(), HUB)


@route("/v1/stores/{code}", "GET", ANY_KEY, returns=Store, errors=STORE)
def get_store(code: str) -> Response:
    return inventory_api.get_store(req(), HUB, code)


@route("/v1/categories", "GET", ANY_KEY, query=schemas.PageQuery, returns=Page(Category))
def list_categories() -> Response:
    return inventory_api.list_categories(req(), HUB)


@route("/v1/categories", "POST", CATALOG, body=CategoryBody, returns={201: Category},
       errors=field_codes(CategoryBody) | E(409, "category_exists"))
def create_category() -> Response:
    return inventory_api.create_category(req(), HUB)


# `{code}`: the path parameter name every tool that walks the route table already fills (it is the category id).
@route("/v1/categories/{code}", "GET", ANY_KEY, returns=Category, errors=CATEGORY)
def get_category(code: str) -> Response:
    return inventory_api.get_category(req(), HUB, code)


@route("/v1/products", "GET", ANY_KEY, query=schemas.ProductQuery, returns=Page(Product))
def list_products() -> Response:
    return inventory_api.list_products(req(), HUB)


@route("/v1/products", "POST", CATALOG, body=ProductBody, returns={201: Product},
       errors=field_codes(ProductBody) | TITLE | E(409, "product_exists") | E(422, "unknown_category"))
def create_product() -> Response:
    return inventory_api.create_product(req(), HUB)


# Static routes (/v1/products/search, /v1/products/autocomplete) win over `{sku}` in Chalice's routing.
@route("/v1/products/{sku}", "GET", ANY_KEY, returns=Product, errors=PRODUCT)
def get_product(sku: str) -> Response:
    return inventory_api.get_product(req(), HUB, sku)


@route("/v1/products/{sku}", "PUT", CATALOG, body=ProductReplaceBody, headers=(IF_MATCH,), returns=Product,
       errors=field_codes(ProductReplaceBody) | TITLE | PRODUCT | VERSIONED | CONTENTION
       | E(422, "sku_mismatch", "unknown_category"))
def put_product(sku: str) -> Response:
    return inventory_api.put_product(req(), HUB, sku)


@route("/v1/catalog/import", "POST", CATALOG, body=ImportBody, returns=schemas.Imported, errors=IMPORT)
def import_catalog() -> Response:
    return inventory_api.import_catalog(req(), HUB)


@route("/v1/inventory", "GET", ANY_KEY, query=schemas.StockQuery, returns=Page(StockRow))
def list_stock() -> Response:
    return inventory_api.list_stock(req(), HUB)


@route("/v1/inventory", "POST", CATALOG, body=StockBody, returns={200: StockRow, 201: StockRow},
       errors=field_codes(StockBody) | E(409, "below_reserved") | E(422, "unknown_store", "unknown_product"))
def post_stock() -> Response:
    return inventory_api.post_stock(req(), HUB)


@route("/v1/inventory/{store_code}/{sku}", "PUT", CATALOG, body=OnHandBody, returns=StockLevel,
       errors=field_codes(OnHandBody) | STORE | PRODUCT | E(409, "below_reserved"))
def put_stock(store_code: str, sku: str) -> Response:
    return inventory_api.put_stock(req(), HUB, store_code, sku)


@route("/v1/inventory/{store_code}/{sku}", "GET", ANY_KEY, returns=StockLevel, errors=STOCK)
def get_stock(store_code: str, sku: str) -> Response:
    return inventory_api.get_stock(req(), HUB, store_code, sku)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="hold_sweeper")
def hold_sweeper(event: CloudWatchEvent) -> dict[str, int]:
    return observe("schedule", event.context.aws_request_id, lambda: sweep_expired_holds(HUB))


# --- operator console: a page without data; all it shows it asks of this API with the operator's own key -------
@route("/console", "GET", PUBLIC, returns=Media("text/html", {"type": "string"}, "the console's page"))
def console_page() -> Response:
    return console_api.page()


@route("/console/{asset}", "GET", PUBLIC, errors=E(404, "not_found"), returns=Media(
    ("text/javascript", "text/css", "text/html", "application/json"), {}, "one of its files"))
def console_asset(asset: str) -> Response:
    return console_api.asset(asset)
