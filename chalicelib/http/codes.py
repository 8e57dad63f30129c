"""The contract vocabulary app.py declares routes with at import: the headers routes read and the error codes routes
share. No pydantic model is made here (the models are in schemas.py, imported when the document is first built), so
declaring every route costs a cold start next to nothing."""

from ..inventory.models import CategoryBody, ImportBody, ProductBody, StockBody, StoreBody
from ..inventory.service import MAX_IMPORT, field_codes
from .contract import E, Header, extension_codes

# --- request headers ---------------------------------------------------------------------------------------------

IF_MATCH = Header("If-Match", 'The version (rev) the change was computed from, `"3"` or `3`: it lands only on that '
                  "one (409 otherwise).", {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,18}"?$'},
                  errors=E(400, "invalid_if_match"))
ACTOR = Header("X-Actor", "Who acts, recorded in audits and order events; the key's name without it.",
               {"type": "string", "pattern": r"^[A-Za-z0-9_.@:/+-]{1,128}$"}, errors=E(400, "invalid_actor"))
IDEMPOTENCY_KEY = Header(
    "Idempotency-Key", "The request runs once per key: a repeat gets the first answer (Idempotent-Replayed: true).",
    {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
    errors=E(400, "invalid_idempotency_key") | E(409, "idempotency_in_progress") | E(422, "idempotency_key_reused"))
IDEMPOTENCY_KEY_REQUIRED = IDEMPOTENCY_KEY.but_required(E(400, "missing_idempotency_key"))
SIGNATURE = Header("Omniman-Signature", 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>"> with the '
                   "provider's secret, at most 5 minutes old.", required=True)

# --- error codes routes share -------------------------------------------------------------------------------------

# What a route that reads the body answers for one it cannot read (also routes that only hash it for idempotency).
UNREADABLE_BODY = E(400, "invalid_json", "number_out_of_range") | E(413, "payload_too_large")
CONTENTION = E(409, "contention")
CHANNEL = E(404, "channel_not_found")
SESSION = CHANNEL | E(404, "session_not_found")
OPEN_SESSION = SESSION | E(409, "already_committed", "already_abandoned") | CONTENTION
CHANNEL_CONFIG = E(422, "channel_too_large", "unknown_directive_topic", "unknown_event_handler", "unknown_backend")
OPS = (E(400, "invalid_ops", "too_many_ops", "invalid_op", "unsupported_op", "unknown_field", "missing_sku",
         "invalid_sku", "missing_qty", "invalid_qty", "missing_line_id", "invalid_line_id", "missing_unit_price_q",
         "invalid_unit_price_q", "missing_path", "invalid_path", "missing_value", "invalid_value", "invalid_meta",
         "unknown_line_id", "invalid_merge", "reserved_path")
       | E(403, "price_override_forbidden") | E(409, "stale_rev", "locked")
       | E(422, "price_not_found", "sku_mismatch", "price_mismatch", "session_too_large"))
# Routes that run the registry's validators (modify, commit, resolve): a validator refuses with a DomainError of its
# own, so these statuses may carry codes no route can list.
VALIDATED = extension_codes(400, 403, 409, 422)
COMMIT = OPEN_SESSION | E(400, "idempotency_key_mismatch", "missing_idempotency_key") | E(
    409, "stale_rev", "session_changed", "empty_session", "missing_checks", "stale_checks", "hold_expired",
    "blocking_issues")
RESOLVE = OPEN_SESSION | OPS | E(404, "issue_not_found") | E(422, "unknown_action", "no_resolver",
                                                             "invalid_action_params")
ORDER = E(404, "order_not_found")
ORDER_COMMAND = ORDER | E(409, "invalid_transition") | CONTENTION
PAYMENT = E(422, "invalid_amount", "overpayment")
REFUND = E(409, "nothing_to_refund") | E(422, "invalid_amount", "refund_exceeds_captured")
REF = E(400, "invalid_namespace") | E(409, "ref_taken") | E(422, "too_many_refs")
REF_GONE = E(400, "invalid_namespace") | E(404, "ref_not_found")
DIRECT_ORDER = CHANNEL | CONTENTION | E(400, "empty_items", "too_many_lines", "duplicate_sku", "unknown_sku") | E(
    422, "store_not_found") | E(409, "ref_taken")
WEBHOOK = E(401, "unknown_provider", "invalid_signature") | E(400, "invalid_json", "invalid_body", "validation_error",
                                                              "unknown_event_type") | E(413, "payload_too_large")
DIRECTIVE = E(404, "directive_not_found")
FEED = CHANNEL | E(410, "cursor_expired")
KEY = E(404, "key_not_found")
STORE = E(404, "store_not_found")
CATEGORY = E(404, "category_not_found")
PRODUCT = E(404, "product_not_found")
STOCK = E(404, "stock_not_found")
VERSIONED = E(409, "stale_version") | E(428, "precondition_required")
SEARCH = E(503, "search_unavailable")
TITLE = E(400, "missing_title", "title_mismatch")
IMPORT = (field_codes(ImportBody, CategoryBody, ProductBody, StoreBody, StockBody) | TITLE
          | E(400, "empty_import", *(f"too_many_{s}" for s in MAX_IMPORT), *(f"duplicate_{s}" for s in MAX_IMPORT))
          | E(422, "unknown_category", "unknown_store", "unknown_product"))
