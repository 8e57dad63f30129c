"""Product search and autocomplete: an SQLite FTS5 index built from the catalog, published to S3, cached per process.

`build_index` turns SearchDocs into bytes, `IndexStore.publish` puts them in S3, and `CachedIndex.current()`
gives the API the latest published `SearchIndex` (reloaded when its ETag changes, checked every few seconds).
"""

from __future__ import annotations

from .engine import (
    Hit,
    SearchDoc,
    SearchIndex,
    build_index,
    fts5_available,
    match_expression,
    require_engine,
    upsert_into_index,
)
from .index_store import CachedIndex, FetchedIndex, IndexChanged, IndexStore, PublishedIndex

__all__ = [
    "CachedIndex",
    "FetchedIndex",
    "Hit",
    "IndexChanged",
    "IndexStore",
    "PublishedIndex",
    "SearchDoc",
    "SearchIndex",
    "build_index",
    "fts5_available",
    "match_expression",
    "require_engine",
    "upsert_into_index",
]
