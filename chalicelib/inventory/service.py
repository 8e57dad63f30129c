"""Inventory use cases: categories, products, stores, counted stock, listings, the catalog import, the hold sweeper.

Every catalog write (a category or product created, a product replaced, an import) adds 1 to the catalog version
and writes a `catalog.reindex` directive in the same DynamoDB transaction as the write itself (the outbox), so the
search index always learns of it, however the request ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ..domain.clock import now_iso
from ..domain.errors import Conflict, InvalidInput, NotFound, PreconditionRequired, Unprocessable
from ..domain.ids import new_id
from ..domain.models import Code, Directive
from ..services.hub import Hub
from ..services.retry import optimistic
from ..storage.db import ConditionFailed, Page, TransactionConflict, strip_keys
from . import keys
from .backend import When
from .models import (
    CATEGORY_ID_PATTERN,
    SKU_PATTERN,
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
from .store import MAX_STORES_PER_PAGE, Contended, category_item, new_stock_item, product_item, stock_row, store_item

SWEEP_BATCH = 500
REINDEX_TOPIC = "catalog.reindex"
# One import request: what a client can send in one go and the API write within API Gateway's 29 s.
MAX_IMPORT = {"categories": 500, "products": 500, "stores": 100, "stock": 2000}
MAX_PRICE_Q = 10**15
_CODE = TypeAdapter(Code, config=ConfigDict(defer_build=True))  # built on first use
_DIGITS = re.compile("[0-9]{1,16}")
M = TypeVar("M", bound=BaseModel)


# --- parsing: the first invalid field names the error code --------------------------------------------------------


def _parse(model: type[M], data: Any, section: str | None = None, index: int | None = None) -> M:
    where = {"section": section, "index": index} if section is not None else {}
    what = f"{section}[{index}]" if section is not None else "body"
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object", code="invalid_body", details=where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors(include_url=False, include_context=False, include_input=False)]
        first = errors[0]
        field = first["loc"][0] if first["loc"] else ""
        if first["type"] == "extra_forbidden":
            code = "unknown_field"  # the field is the client's: it never becomes part of a code
        elif first["type"] == "missing":
            code = f"missing_{field}"
        else:
            code = f"invalid_{field}"
        raise InvalidInput(f"{what}: {'.'.join(first['loc']) or what}: {first['msg']}", code=code,
                           details={**where, "field": field, "errors": errors}) from None


def field_codes(*models: type[BaseModel]) -> frozenset[tuple[int, str]]:
    """What `_parse` answers for these models, as (status, code): declared by the routes that take them."""
    names = {name for model in models for name in model.model_fields}
    required = {name for model in models for name, info in model.model_fields.items() if info.is_required()}
    return frozenset({(400, "invalid_body"), (400, "unknown_field")} | {(400, f"invalid_{n}") for n in names}
                     | {(400, f"missing_{n}") for n in required})


def _title(req: ProductBody | ProductReplaceBody, section: str | None = None, index: int | None = None) -> str:
    """`title`, or `name`, its first spelling; both may be sent if they agree."""
    where = {"section": section, "index": index} if section is not None else {}
    if req.title is None and req.name is None:
        raise InvalidInput("`title` is required (or `name`, its older spelling)", code="missing_title", details=where)
    if req.title is not None and req.name is not None and req.title != req.name:
        raise InvalidInput("`title` and `name` name the same thing and must agree", code="title_mismatch",
                           details=where)
    return req.title if req.title is not None else str(req.name)


def _is_code(value: str) -> bool:
    try:
        _CODE.validate_python(value)
    except ValidationError:
        return False
    return True


# --- the catalog version and its reindex directive ----------------------------------------------------------------


def _catalog_write(hub: Hub, writes: list[dict[str, Any]], reason: str, **payload: Any) -> Directive:
    """`writes` + `ADD version 1` on the catalog item + a `catalog.reindex` directive, one transaction.

    The directive's id is the write's token on the catalog item (`last_write`): see domain/reindex.py. `skus`
    (in `payload`) lists the products the write created or changed, which the index can take without a rebuild.

    ConditionFailed (with one reason per write, in order) is the caller's to explain. Every catalog write also
    touches the one catalog item, so concurrent writes collide there now and then: those are retried.
    """
    for _ in optimistic():
        now = now_iso()
        # Delayed by the quiet period: by the time it runs, a burst of writes has usually moved on past it.
        directive = Directive(id=new_id("D"), topic=REINDEX_TOPIC, payload={"reason": reason, **payload},
                              delay_seconds=hub.settings.reindex_quiet_seconds, created_at=now, updated_at=now)
        try:
            hub.db.transact([*writes, hub.inventory.store.bump_catalog_request(now, directive.id),
                             *hub.directives.create_requests([directive])])
        except TransactionConflict:
            continue
        hub.queue.dispatch([directive])  # the relay sends it if this does not
        return directive
    raise AssertionError("unreachable: optimistic() raises when exhausted")


def _failed(exc: ConditionFailed) -> set[int]:
    return {i for i, r in enumerate(exc.reasons) if r.get("code") == "ConditionalCheckFailed"}


# --- stores -------------------------------------------------------------------------------------------------------


def create_store(hub: Hub, body: Any) -> Store:
    req = _parse(StoreBody, body)
    store = Store(code=req.code, name=req.name, location=req.location, created_at=now_iso())
    hub.inventory.store.create_store(store)
    return store


def get_store(hub: Hub, code: str) -> Store:
    store = hub.inventory.store.get_store(code) if _is_code(code) else None
    if store is None:
        raise NotFound(f"store {code!r} does not exist", code="store_not_found")
    return store


def list_stores(hub: Hub, limit: int, cursor: str | None) -> Page:
    return hub.inventory.store.list_stores(limit, cursor)


# --- categories ---------------------------------------------------------------------------------------------------


def create_category(hub: Hub, body: Any) -> Category:
    req = _parse(CategoryBody, body)
    category = Category(id=req.id, name=req.name, description=req.description, created_at=now_iso())
    try:
        _catalog_write(hub, [hub.inventory.store.create_category_request(category)], "category.created",
                       category=category.id, skus=[])
    except ConditionFailed:
        raise Conflict(f"category {category.id!r} already exists", code="category_exists") from None
    return category


def get_category(hub: Hub, category_id: str) -> Category:
    category = hub.inventory.store.get_category(category_id) if CATEGORY_ID_PATTERN.fullmatch(category_id) else None
    if category is None:
        raise NotFound(f"category {category_id!r} does not exist", code="category_not_found")
    return category


def list_categories(hub: Hub, limit: int, cursor: str | None) -> Page:
    return hub.inventory.store.list_categories(limit, cursor)


# --- products -----------------------------------------------------------------------------------------------------


def create_product(hub: Hub, body: Any) -> Product:
    req = _parse(ProductBody, body)
    now = now_iso()
    product = Product(sku=req.sku, title=_title(req), description=req.description, price_q=req.price_q,
                      category=req.category, version=1, created_at=now, updated_at=now)
    store = hub.inventory.store
    writes = [store.create_product_request(product)]
    if product.category is not None:
        writes.append(store.category_exists_request(product.category))
    try:
        _catalog_write(hub, writes, "product.created", sku=product.sku, skus=[product.sku])
    except ConditionFailed as exc:
        if 1 in _failed(exc):
            raise _unknown_category(product.category) from None
        raise Conflict(f"product {product.sku!r} already exists", code="product_exists") from None
    return product


def replace_product(hub: Hub, sku: str, body: Any, if_match: int | None) -> Product:
    """The whole product again, only over the version the client read (428 without one, 409 if it moved)."""
    req = _parse(ProductReplaceBody, body)
    if req.sku is not None and req.sku != sku:
        raise Unprocessable("a product's sku cannot change", code="sku_mismatch")
    title = _title(req)
    expected = req.expected_version if req.expected_version is not None else if_match
    if expected is None:
        # A PUT rewrites price and category: unpinned, it would undo a concurrent edit without a trace.
        raise PreconditionRequired(
            'replacing a product needs the version it replaces: If-Match: "<version>" or `expected_version`')
    store = hub.inventory.store
    for _ in optimistic():
        item = store.get_product_item(sku) if SKU_PATTERN.fullmatch(sku) else None
        if item is None:
            raise NotFound(f"product {sku!r} does not exist", code="product_not_found")
        current = Product.model_validate(item)
        if expected != current.version:
            raise _stale(current.version)
        updated = Product(sku=sku, title=title, description=req.description, price_q=req.price_q,
                          category=req.category, version=current.version + 1, created_at=current.created_at,
                          updated_at=now_iso())
        writes = [store.replace_product_request(updated, current, "version" in item)]
        if updated.category is not None:
            writes.append(store.category_exists_request(updated.category))
        try:
            _catalog_write(hub, writes, "product.replaced", sku=sku, skus=[sku])
            return updated
        except ConditionFailed as exc:
            failed = _failed(exc)
        if 1 in failed:
            raise _unknown_category(updated.category)
        # Another writer got there between the read and the write: the next read says by how much.
    raise AssertionError("unreachable: optimistic() raises when exhausted")


def get_product(hub: Hub, sku: str) -> Product:
    product = hub.inventory.store.get_product(sku) if SKU_PATTERN.fullmatch(sku) else None
    if product is None:
        raise NotFound(f"product {sku!r} does not exist", code="product_not_found")
    return product


def list_products(hub: Hub, category: str | None, min_price_q: str | None, max_price_q: str | None, limit: int,
                  cursor: str | None) -> Page:
    if category is not None and not CATEGORY_ID_PATTERN.fullmatch(category):
        raise InvalidInput("`category` must be a category id", code="invalid_category")
    low = _price_param("min_price_q", min_price_q, 0)
    high = _price_param("max_price_q", max_price_q, MAX_PRICE_Q)
    if low > high:
        raise InvalidInput("`min_price_q` is above `max_price_q`", code="invalid_price_range",
                           details={"min_price_q": low, "max_price_q": high})
    return hub.inventory.store.list_products(category, low, high, limit, cursor)


def _price_param(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) > MAX_PRICE_Q:
        raise InvalidInput(f"`{name}` must be an integer amount in minor units, 0 to {MAX_PRICE_Q}",
                           code=f"invalid_{name}")
    return int(raw)


def _unknown_category(category_id: str | None) -> Unprocessable:
    return Unprocessable(f"category {category_id!r} does not exist", code="unknown_category",
                         details={"categories": [category_id]})


def _stale(current_version: int) -> Conflict:
    return Conflict("product changed since it was read", code="stale_version",
                    details={"current_version": current_version})


# --- stock --------------------------------------------------------------------------------------------------------


def set_on_hand(hub: Hub, store_code: str, sku: str, body: Any) -> StockLevel:
    req = _parse(OnHandBody, body)
    get_store(hub, store_code)
    get_product(hub, sku)
    level = hub.inventory.stock.set_on_hand(store_code, sku, req.on_hand)
    if req.reorder_level is not None:
        hub.inventory.store.set_reorder_level(store_code, sku, req.reorder_level, now_iso())
    return level


def set_stock(hub: Hub, body: Any) -> tuple[StockRow, bool]:
    """POST /v1/inventory: creates the row (201) or counts it again (200), never below what live holds reserve."""
    req = _parse(StockBody, body)
    store = hub.inventory.store
    stock_key = keys.stock(req.store_code, req.sku)
    # The store, the product and the row in one read.
    found = store.get_many([keys.store(req.store_code), keys.product(req.sku), stock_key])
    if keys.store(req.store_code)["pk"] not in found:
        raise Unprocessable(f"store {req.store_code!r} does not exist", code="unknown_store",
                            details={"stores": [req.store_code]})
    if keys.product(req.sku)["pk"] not in found:
        raise Unprocessable(f"product {req.sku!r} does not exist", code="unknown_product",
                            details={"skus": [req.sku]})
    stored = found.get(stock_key["pk"])
    now = now_iso()
    if stored is None:
        reorder = req.reorder_level if req.reorder_level is not None else Decimal(0)
        try:
            store.create_stock(req.store_code, req.sku, req.on_hand, now, reorder)
            return StockRow(store_code=req.store_code, sku=req.sku, on_hand=req.on_hand, reserved=Decimal(0),
                            available=req.on_hand, reorder_level=reorder), True
        except (ConditionFailed, Contended):
            pass  # created in between by someone else: count it like any existing row
    level = hub.inventory.stock.set_on_hand(req.store_code, req.sku, req.on_hand)
    if req.reorder_level is not None:
        store.set_reorder_level(req.store_code, req.sku, req.reorder_level, now)
        reorder = req.reorder_level
    else:
        row = stock_row(stored) if stored is not None else store.get_stock_row(req.store_code, req.sku)
        reorder = row.reorder_level if row is not None else Decimal(0)
    return StockRow(**level.model_dump(), reorder_level=reorder), False


def get_stock(hub: Hub, store_code: str, sku: str) -> StockLevel:
    if not (_is_code(store_code) and SKU_PATTERN.fullmatch(sku)):
        raise NotFound(f"store {store_code!r} has no stock of {sku!r}", code="stock_not_found")
    return hub.inventory.stock.get_stock(store_code, sku)


def list_stock(hub: Hub, store_code: str | None, sku: str | None, low_stock: str | None, limit: int,
               cursor: str | None) -> Page:
    """Stock rows as stored (`available` counts a lapsed hold until the sweeper gives it back; the single-row
    GET gives the instant value). By store: a page of keys from gsi5, then the rows in one BatchGetItem. By sku:
    a page of stores, then their rows of that sku in one BatchGetItem. `low_stock=true` keeps the rows with
    `available <= reorder_level` of each page, so a page may come back short while the cursor goes on."""
    if store_code is not None and not _is_code(store_code):
        raise InvalidInput("`store` must be a store code", code="invalid_store")
    if sku is not None and not SKU_PATTERN.fullmatch(sku):
        raise InvalidInput("`sku` must be a sku", code="invalid_sku")
    if low_stock not in (None, "true", "false"):
        raise InvalidInput("`low_stock` is `true` or `false`", code="invalid_low_stock")
    low = low_stock == "true"
    store = hub.inventory.store
    scope = f"stock|{store_code}|{sku}|{low}"
    at = store.position(cursor, scope) if cursor else None
    if store_code is not None and sku is not None:
        # One row at most: no cursor is ever issued, so any cursor sent is refused by position() above.
        row = store.get_stock_row(store_code, sku)
        rows, position = ([row] if row else []), None
    elif sku is not None:
        codes, more = store.store_codes_after(at["store"] if at else None, limit)
        rows = store.stock_rows([(code, sku) for code in codes])
        position = {"store": codes[-1]} if more and codes else None
    else:
        pairs, position = _walk_stores(hub, store_code, at, limit)
        rows = store.stock_rows(pairs)
    items = [r.model_dump(mode="json") for r in rows if r.low or not low]
    return Page(items, store.cursor(position, scope) if position else None)


@dataclass
class _Walk:
    """Where a stock listing across stores stands: the store it is in, the last sku it gave of it."""

    store: str | None
    after: str | None


def _walk_stores(hub: Hub, store_code: str | None, at: dict[str, str] | None,
                 limit: int) -> tuple[list[tuple[str, str]], dict[str, str] | None]:
    """Up to `limit` (store, sku) keys from gsi5, store after store in code order (one store with a filter),
    visiting at most MAX_STORES_PER_PAGE stores; and where the next page starts (None: nothing after)."""
    store = hub.inventory.store
    upcoming: list[str] = []

    def next_store(after: str | None) -> str | None:
        if store_code is not None:
            return None  # a store filter never walks on
        if not upcoming:
            upcoming.extend(store.store_codes_after(after, MAX_STORES_PER_PAGE)[0])
        return upcoming.pop(0) if upcoming else None

    if at is not None:
        walk = _Walk(at["store"], at["after"] or None)
    else:
        walk = _Walk(store_code if store_code is not None else next_store(None), None)
    pairs: list[tuple[str, str]] = []
    visited = 0
    while walk.store is not None and len(pairs) < limit and visited < MAX_STORES_PER_PAGE:
        visited += 1
        skus, more = store.store_stock_keys(walk.store, walk.after, limit - len(pairs))
        pairs += [(walk.store, s) for s in skus]
        if more:
            walk.after = skus[-1] if skus else walk.after
        else:
            walk = _Walk(next_store(walk.store), None)
    if walk.store is None:
        return pairs, None
    return pairs, {"store": walk.store, "after": walk.after or ""}


# --- the catalog import -------------------------------------------------------------------------------------------


def import_catalog(hub: Hub, body: Any) -> dict[str, Any]:
    """Categories, products, stores and stock rows in one request, each validated like its own route.

    Idempotent: what exists already is left as it is (an import never changes a product: PUT does, on its
    version; and never recounts a stock row, so a re-seed cannot clobber reserved stock), so running it twice
    writes the same rows. New items go out with BatchWriteItem (25 a request), references before what refers to
    them; then one transaction bumps the catalog version and writes the `catalog.reindex` directive.
    """
    req = _parse(ImportBody, body)
    sections = {"categories": req.categories, "products": req.products, "stores": req.stores, "stock": req.stock}
    if not any(sections.values()):
        raise InvalidInput("an import names at least one category, product, store or stock row", code="empty_import")
    for section, entries in sections.items():
        if len(entries) > MAX_IMPORT[section]:
            raise InvalidInput(f"at most {MAX_IMPORT[section]} {section} per import, not {len(entries)}",
                               code=f"too_many_{section}", details={"max": MAX_IMPORT[section],
                                                                   "count": len(entries)})
    now = now_iso()
    categories = [_parse(CategoryBody, raw, "categories", i) for i, raw in enumerate(req.categories)]
    products = []
    for i, raw in enumerate(req.products):
        p = _parse(ProductBody, raw, "products", i)
        products.append(Product(sku=p.sku, title=_title(p, "products", i), description=p.description,
                                price_q=p.price_q, category=p.category, version=1, created_at=now, updated_at=now))
    stores = [_parse(StoreBody, raw, "stores", i) for i, raw in enumerate(req.stores)]
    stock = [_parse(StockBody, raw, "stock", i) for i, raw in enumerate(req.stock)]
    _refuse_duplicates("categories", [c.id for c in categories])
    _refuse_duplicates("products", [p.sku for p in products])
    _refuse_duplicates("stores", [s.code for s in stores])
    _refuse_duplicates("stock", [f"{r.store_code}/{r.sku}" for r in stock])

    # Strongly consistent reads of everything named: what exists, and whether every reference resolves.
    named_categories = {c.id for c in categories} | {p.category for p in products if p.category}
    named_stores = {s.code for s in stores} | {r.store_code for r in stock}
    named_skus = {p.sku for p in products} | {r.sku for r in stock}
    found = hub.inventory.store.get_many(
        [keys.category(c) for c in sorted(named_categories)] + [keys.store(s) for s in sorted(named_stores)]
        + [keys.product(s) for s in sorted(named_skus)])
    # A stock row exists only for a product that did (every write of one checks the product first, and products
    # are never deleted): only those rows need reading, which spares a first seed reading every row it writes.
    found |= hub.inventory.store.get_many([keys.stock(r.store_code, r.sku) for r in stock
                                           if keys.product(r.sku)["pk"] in found], only_keys=True)
    _refuse_unknown("unknown_category", "categories",
                    sorted(c for c in named_categories - {c.id for c in categories}
                           if keys.category(c)["pk"] not in found))
    _refuse_unknown("unknown_store", "stores",
                    sorted(s for s in named_stores - {s.code for s in stores} if keys.store(s)["pk"] not in found))
    _refuse_unknown("unknown_product", "skus",
                    sorted(s for s in named_skus - {p.sku for p in products} if keys.product(s)["pk"] not in found))

    new_categories = [c for c in categories if keys.category(c.id)["pk"] not in found]
    new_stores = [s for s in stores if keys.store(s.code)["pk"] not in found]
    new_products = [p for p in products if keys.product(p.sku)["pk"] not in found]
    new_stock = [r for r in stock if keys.stock(r.store_code, r.sku)["pk"] not in found]
    items = (
        [category_item(Category(id=c.id, name=c.name, description=c.description, created_at=now))
         for c in new_categories]
        + [store_item(Store(code=s.code, name=s.name, location=s.location, created_at=now)) for s in new_stores]
        + [product_item(p) for p in new_products]
        + [new_stock_item(r.store_code, r.sku, r.on_hand, r.reorder_level or Decimal(0), now) for r in new_stock]
    )
    hub.inventory.store.put_many(items)
    directive = _catalog_write(hub, [], "catalog.imported", products=len(new_products),
                               skus=[p.sku for p in new_products],
                               categories=len(new_categories))
    created = {"categories": len(new_categories), "products": len(new_products), "stores": len(new_stores),
               "stock": len(new_stock)}
    return {
        "created": created,
        "existing": {name: len(sections[name]) - count for name, count in created.items()},
        # Entries that exist with other values than sent: left as they are (PUT changes a product).
        "differing": {
            "categories": sorted(c.id for c in categories if _differs(found.get(keys.category(c.id)["pk"]), c)),
            "products": sorted(p.sku for p in products if _product_differs(found.get(keys.product(p.sku)["pk"]), p)),
            "stores": sorted(s.code for s in stores if _differs(found.get(keys.store(s.code)["pk"]), s)),
        },
        "directive_id": directive.id,
    }


def _refuse_duplicates(section: str, ids: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(ids):
        if value in seen:
            raise InvalidInput(f"{section}[{index}] repeats {section}[{seen[value]}] ({value})",
                               code=f"duplicate_{section}", details={"section": section, "index": index,
                                                                     "first_index": seen[value]})
        seen[value] = index


def _refuse_unknown(code: str, what: str, missing: list[str]) -> None:
    if missing:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise Unprocessable(f"neither this import nor the catalog has these {what}: {shown}", code=code,
                            details={what: missing})


def _differs(stored: dict[str, Any] | None, sent: BaseModel) -> bool:
    if stored is None:
        return False
    return any(stored.get(field) != value for field, value in sent.model_dump().items())


def _product_differs(stored: dict[str, Any] | None, sent: Product) -> bool:
    if stored is None:
        return False
    current = Product.model_validate(strip_keys(stored))
    return (current.title, current.description, current.price_q, current.category) != (
        sent.title, sent.description, sent.price_q, sent.category)


# --- the hold sweeper ---------------------------------------------------------------------------------------------


def sweep_expired_holds(hub: Hub, now: When = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Gives expired holds' stock back. Reads never wait for it (an expired hold already counts as released);
    it keeps `reserved` honest and the live-hold indexes small."""
    return {"released": hub.inventory.stock.release_expired(now, limit)}
