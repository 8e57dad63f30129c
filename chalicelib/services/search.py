"""Catalog search and autocomplete over the FTS5 index in S3, and the index worker that rebuilds it.

The index may lag the catalog by a few seconds (a catalog write sends `catalog.reindex` through the outbox, and the
index is rebuilt once the catalog has been quiet for a moment: domain/reindex.py; each API process checks the
index's ETag at most every `OMNIMAN_SEARCH_CHECK_SECONDS`); availability in a store never
lags: it is read from the stock rows at query time. Product details (title, price) in the answers come from the
catalog itself, so they are current too.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..directives.contract import DirectiveContext
from ..directives.queue import MAX_DELAY_SECONDS
from ..domain.errors import DomainError, InvalidInput
from ..domain.lifecycle import derived_id
from ..domain.models import Directive
from ..domain.registry import Registry
from ..domain.reindex import CatalogWrites, Debounce, plan
from ..inventory import keys as inventory_keys
from ..lazy import deferred
from ..storage.aws import client
from ..storage.db import ConditionFailed, Page, decode_cursor, encode_cursor
from .hub import Hub

if TYPE_CHECKING:
    from ..inventory.models import Category, Product
    from ..search import CachedIndex, IndexStore, PublishedIndex, SearchDoc, SearchIndex

# chalicelib.search (the SQLite engine, the index store) is loaded by the first search or rebuild: no cold start of
# any function imports SQLite.
engine = deferred("chalicelib.search")

INDEX_KEY = "catalog/search.sqlite"
REINDEX = "catalog.reindex"
SCAN_CHUNK = 100  # hits checked against stock per round when filtering by store
MAX_SCAN = 2_000  # hits one request examines at most for a store filter; the cursor goes on from there
PUBLISH_ATTEMPTS = 3
_lock = threading.Lock()
_cache: dict[str, CachedIndex] = {}


class SearchUnavailable(DomainError):
    status = 503
    code = "search_unavailable"


def _store(hub: Hub) -> IndexStore:
    if not hub.settings.search_bucket:
        raise SearchUnavailable("search is not configured on this stage (OMNIMAN_SEARCH_BUCKET)")
    return engine.IndexStore(client("s3", hub.settings.aws_endpoint_url), hub.settings.search_bucket, INDEX_KEY)


def current_index(hub: Hub) -> SearchIndex | None:
    """The index this process serves; None before the first one was ever built (a catalog with no writes yet,
    which finds nothing). An S3 outage keeps the last index loaded serving."""
    bucket = hub.settings.search_bucket or ""
    with _lock:
        cached = _cache.get(bucket)
        if cached is None:
            every = hub.settings.search_check_seconds
            cached = _cache[bucket] = engine.CachedIndex(_store(hub), check_every_seconds=every)
    return cached.current()


def forget() -> None:
    """Drops the process's cached indexes (tests start each from an empty emulator)."""
    with _lock:
        _cache.clear()


# --- the index worker ---------------------------------------------------------------------------------------------

def reindex(hub: Hub, directive: Directive | None = None) -> dict[str, Any]:
    """Runs a `catalog.reindex` directive: when domain/reindex.py says the catalog's writes are due, writes its
    write's new and changed products into the published index (when that is all it lacks) or rebuilds the index
    from the whole catalog; else waits or leaves it to a later write's directive. Without a directive (an
    operator, a benchmark): rebuilds now unless the index is already at the catalog's version.

    Correct under concurrent writes: the version is read before the products, so the index published as version
    V holds at least V's writes (the products index is eventually consistent: the quiet period before a rebuild
    is longer than it takes to catch up); a write that lands during the rebuild is a later version, whose own
    directive finds the index behind and rebuilds. Concurrent rebuilds publish only over the object they saw (S3's
    conditional writes), so an older index never replaces a newer one.
    """
    store = _store(hub)
    now = datetime.now(UTC)
    writes = hub.inventory.store.catalog_writes()
    published = store.head()
    report: dict[str, Any] = {"version": writes.version, "rebuilt": 0}
    if directive is not None:
        token = str(directive.payload.get("write") or directive.id)
        decided = plan(now, writes, _version(published), token, debounce(hub))
        if decided.action == "wait" and decided.until is not None:
            return {**report, "outcome": "waiting", "until": _look_again(hub, directive, token, now, decided.until)}
        if decided.action != "rebuild":
            return {**report, "outcome": decided.action}
    elif _version(published) >= writes.version:
        return {**report, "outcome": "current"}
    written = _written_into_published(hub, store, directive, writes) if directive is not None else None
    if written is not None:
        data, published, done = written[0], written[1], {"outcome": "updated", "written": written[2]}
    else:
        data, done = engine.build_index(_docs(hub), str(writes.version)), {"outcome": "rebuilt", "rebuilt": 1}
    for _ in range(PUBLISH_ATTEMPTS):
        try:
            store.replace(data, str(writes.version), published)
        except engine.IndexChanged:
            published = store.head()
            if _version(published) >= writes.version:
                return {**report, "outcome": "current"}  # a build at least as new got there first
            continue  # an older one did: ours goes over it
        hub.inventory.store.mark_indexed(writes.version, _iso(now))
        return {**report, **done}
    raise engine.IndexChanged("the published index kept changing during this publish; the directive is retried")


def _written_into_published(hub: Hub, store: IndexStore, directive: Directive, writes: CatalogWrites
                            ) -> tuple[bytes, PublishedIndex, int] | None:
    """When the published index lacks only this directive's write and that write names the products it created or
    changed (`skus`): the published index with them written in, the object it replaces and how many; else None (a
    full rebuild). It costs the index's download and those products' reads instead of the whole catalog."""
    skus = directive.payload.get("skus")
    if not isinstance(skus, list) or writes.last_write != (directive.payload.get("write") or directive.id):
        return None
    current = store.fetch(None)
    if current is None or current.version != str(writes.version - 1):
        return None
    categories = hub.inventory.store.categories_by_id() if skus else {}
    products = hub.inventory.store.products([str(sku) for sku in skus], consistent=True)
    try:
        data = engine.upsert_into_index(current.data, [_doc(p, categories) for p in products.values()],
                                        str(writes.version))
    except ValueError:
        return None  # an index of an older schema: the full rebuild replaces it
    return data, engine.PublishedIndex(current.etag, current.version), len(products)


def debounce(hub: Hub) -> Debounce:
    s = hub.settings
    return Debounce(s.reindex_quiet_seconds, s.reindex_burst_quiet_seconds, s.reindex_max_lag_seconds)


def _docs(hub: Hub) -> list[SearchDoc]:
    categories = hub.inventory.store.categories_by_id()
    return [_doc(p, categories) for p in hub.inventory.store.all_products()]


def _doc(product: Product, categories: dict[str, Category]) -> SearchDoc:
    return engine.SearchDoc(sku=product.sku, title=product.title, description=product.description or "",
                     category_id=product.category,
                     category_name=categories[product.category].name if product.category in categories else "",
                     price_q=product.price_q)


def _version(published: PublishedIndex | None) -> int:
    raw = published.version if published is not None else ""
    return int(raw) if raw.isdigit() else -1


def _look_again(hub: Hub, early: Directive, token: str, now: datetime, until: datetime) -> str:
    """Schedules one more reindex directive for the write `token` (and the products `early` names), due at `until`.
    Its id comes from the token and the time, so a redelivered run schedules it once."""
    at, due = _iso(now), _iso(until)
    skus = {"skus": early.payload["skus"]} if "skus" in early.payload else {}
    directive = Directive(id=derived_id("D", REINDEX, token, due), topic=REINDEX,
                          payload={"reason": "catalog.quiet_check", "write": token, **skus},
                          delay_seconds=min(MAX_DELAY_SECONDS, max(1, math.ceil((until - now).total_seconds()))),
                          created_at=at, updated_at=at)
    try:
        hub.db.transact(hub.directives.create_requests([directive]))
    except ConditionFailed:
        return due  # an earlier run of this directive scheduled it
    hub.queue.dispatch([directive])
    return due


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def register(registry: Registry) -> None:
    @registry.register_handler(REINDEX)
    def run_reindex(directive: Directive, ctx: DirectiveContext) -> dict[str, Any]:
        return reindex(ctx.hub, directive)


# --- queries ------------------------------------------------------------------------------------------------------

def search(hub: Hub, *, q: str | None, min_price_q: int | None, max_price_q: int | None, store: str | None,
           category: str | None, limit: int, cursor: str | None) -> Page:
    index = current_index(hub)
    if index is None:
        return Page([], None)
    scope = f"search|{q}|{min_price_q}|{max_price_q}|{store}|{category}"
    offset = _offset(hub, cursor, scope)
    filters = {"min_price_q": min_price_q, "max_price_q": max_price_q, "category_id": category}
    if store is None:
        hits = index.search(q, offset=offset, limit=limit + 1, **filters)
        page, more, next_offset = hits[:limit], len(hits) > limit, offset + limit
    else:
        page, more, next_offset = _available(hub, index, q, filters, store, offset, limit)
    products = hub.inventory.store.products([h.sku for h in page])
    items = [{**products[h.sku].model_dump(mode="json"), "score": round(h.score, 6)} for h in page
             if h.sku in products]
    return Page(items, encode_cursor({"o": {"S": str(next_offset)}}, scope, hub.db.cursor_key()) if more else None)


def _available(hub: Hub, index: SearchIndex, q: str | None, filters: dict[str, Any], store: str, offset: int,
               limit: int) -> tuple[list[Any], bool, int]:
    """Hits whose stock row in `store` has something available now, read in chunks in rank order."""
    kept: list[Any] = []
    position = offset
    while len(kept) <= limit and position - offset < MAX_SCAN:
        hits = index.search(q, offset=position, limit=SCAN_CHUNK, **filters)
        if not hits:
            return kept[:limit], False, position
        rows = {r["sku"]: r for r in hub.db.batch_get([inventory_keys.stock(store, h.sku) for h in hits],
                                                      consistent=True)}
        for n, hit in enumerate(hits):
            row = rows.get(hit.sku)
            if row is not None and row["available"] > 0:
                kept.append(hit)
                if len(kept) > limit:
                    return kept[:limit], True, position + n
        position += len(hits)
    return kept[:limit], True, position


def _offset(hub: Hub, cursor: str | None, scope: str) -> int:
    if cursor is None:
        return 0
    raw = decode_cursor(cursor, scope, hub.db.cursor_key())["o"]["S"]
    if not raw.isdigit():
        raise InvalidInput("`cursor` is not valid for this listing", code="invalid_cursor")
    return int(raw)


def autocomplete(hub: Hub, q: str | None) -> list[str]:
    index = current_index(hub)
    return index.autocomplete(q, 10) if index is not None else []
