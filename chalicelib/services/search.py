"""Catalog search and autocomplete over the FTS5 index in S3, and the index worker that rebuilds it.

The index may lag the catalog by a few seconds (a catalog write sends `catalog.reindex` through the outbox; each
API process checks the index's ETag at most every `OMNIMAN_SEARCH_CHECK_SECONDS`); availability in a store never
lags: it is read from the stock rows at query time. Product details (title, price) in the answers come from the
catalog itself, so they are current too.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..directives.contract import DirectiveContext
from ..domain.errors import DomainError, InvalidInput
from ..domain.models import Directive
from ..domain.registry import Registry
from ..inventory import keys as inventory_keys
from ..lazy import deferred
from ..storage.aws import client
from ..storage.db import Page, decode_cursor, encode_cursor
from .hub import Hub

if TYPE_CHECKING:
    from ..search import CachedIndex, IndexStore, SearchIndex

# chalicelib.search (the SQLite engine, the index store) is loaded by the first search or rebuild: no cold start of
# any function imports SQLite.
engine = deferred("chalicelib.search")

INDEX_KEY = "catalog/search.sqlite"
REINDEX = "catalog.reindex"
SCAN_CHUNK = 100  # hits checked against stock per round when filtering by store
MAX_SCAN = 2_000  # hits one request examines at most for a store filter; the cursor goes on from there
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

def reindex(hub: Hub) -> dict[str, Any]:
    """Rebuilds the index from the whole catalog unless it is already as new as the catalog's version.

    Coalescing: a burst of catalog writes sends one directive each, and all but the first find the index current.
    A rebuild that read an older version and publishes after a newer one checks again and rebuilds once more, so
    the published index always ends at the catalog's latest version.
    """
    store = _store(hub)
    built = 0
    for _ in range(3):
        version = hub.inventory.store.catalog_version()
        if published_version(hub, store) >= version:
            return {"version": version, "rebuilt": built}
        categories = hub.inventory.store.categories_by_id()
        docs = [engine.SearchDoc(sku=p.sku, title=p.title, description=p.description or "", category_id=p.category,
                          category_name=categories[p.category].name if p.category in categories else "",
                          price_q=p.price_q) for p in hub.inventory.store.all_products()]
        store.publish(engine.build_index(docs, str(version)), str(version))
        built += 1
    return {"version": version, "rebuilt": built}


def published_version(hub: Hub, store: IndexStore) -> int:
    try:
        head = client("s3", hub.settings.aws_endpoint_url).head_object(Bucket=store.bucket, Key=store.key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return -1
        raise
    raw = head.get("Metadata", {}).get("index-version", "-1")
    return int(raw) if raw.lstrip("-").isdigit() else -1


def register(registry: Registry) -> None:
    @registry.register_handler(REINDEX)
    def run_reindex(directive: Directive, ctx: DirectiveContext) -> dict[str, Any]:
        return reindex(ctx.hub)


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
