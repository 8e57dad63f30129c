"""Product search on SQLite FTS5: one index, built from the catalog and written into per catalog write, shipped as
bytes, queried in memory.

Matching is case- and accent-insensitive (text is NFKC-normalised and case-folded in Python, then the
unicode61 tokenizer removes diacritics) and every query word must match somewhere in the title, description
or category name. Only the LAST word of a query is a prefix, the one the user is still typing: "runn"
finds "Running Shoes" and so does "running sho", but "runn shoes" does not, because "runn" is a finished word
there and no product has the word "runn". Ranking is BM25 with the title weighted above the category name
above the description; ties go by sku.

User input never reaches FTS5 as syntax: a query is cut into words by a regex over letters and digits and
every word is bound as a quoted FTS5 string, so `AND`, `OR` and `NEAR` are searched as plain words and `*`, `-`,
`^`, `:`, quotes and parentheses are separators like any punctuation.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..domain.errors import ConfigurationError

__all__ = [
    "MAX_QUERY_WORDS",
    "SCHEMA_VERSION",
    "Hit",
    "SearchDoc",
    "SearchIndex",
    "build_index",
    "fts5_available",
    "match_expression",
    "require_engine",
    "upsert_into_index",
]

SCHEMA_VERSION = "omniman-search/2"
# Version 1 had no `texts` table: it answers queries alike, but a product in it can only change by a full build.
READABLE_SCHEMAS = frozenset({"omniman-search/1", SCHEMA_VERSION})
# Query words beyond this many only narrow a result that is already specific, and each one costs a posting-list
# scan: capping them bounds the latency of a pasted 10 KB string.
MAX_QUERY_WORDS = 12
# No catalog word is longer; a longer "word" is pasted noise and a bounded token keeps FTS5's work bounded.
MAX_WORD_CHARS = 64
# SQLite integers are signed 64-bit: anything outside would raise OverflowError at bind time.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# bm25 weights in FTS5 column order (title, description, category_name). A word in the title says far more
# about what the product is than the same word in its description; the category name is a broad but honest
# signal, so it sits between.
TITLE_WEIGHT, DESCRIPTION_WEIGHT, CATEGORY_WEIGHT = 10.0, 1.0, 3.0

# Letters and digits (Unicode L* and N*), without `_`: this is exactly what the unicode61 tokenizer keeps as
# token characters (it treats `_` and all punctuation, symbols and emoji as separators), so a query word maps to
# one FTS5 token.
_WORD = re.compile(r"[^\W_]+")
# The combining marks unicode61 `remove_diacritics 2` folds into the preceding letter (all others split words).
# Stripping them from the query keeps a decomposed "cre\u0300me" one word, as FTS5 indexes it ("creme").
_FOLDED_MARKS = re.compile(
    "[\u0300-\u0304\u0306-\u030c\u030f\u0311\u031b\u0323-\u0328\u032d\u032e\u0330\u0331]"
)
# Lone surrogates cannot be encoded as UTF-8, so sqlite3 would refuse to bind them.
_SURROGATES = re.compile("[\ud800-\udfff]")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE docs (
    rowid INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    price_q INTEGER NOT NULL,
    category_id TEXT
);
-- The rest of what the full-text table was given for each doc (its title is docs.title folded). The full-text
-- table keeps no text (contentless: smaller and faster to load), and taking a changed product's words out of it
-- needs exactly the words that went in.
CREATE TABLE texts (
    rowid INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    category_name TEXT NOT NULL
);
CREATE VIRTUAL TABLE fts USING fts5(
    title, description, category_name,
    content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4'
);
-- Blank-query listing walks this in order instead of sorting the catalog on every page (a category filter
-- just skips along it: a per-category index would cost a tenth of the file for little).
CREATE INDEX docs_by_title ON docs (title_key, sku);
"""


@dataclass(frozen=True, slots=True)
class SearchDoc:
    sku: str
    title: str
    description: str
    category_id: str | None
    category_name: str
    price_q: int


@dataclass(frozen=True, slots=True)
class Hit:
    sku: str
    # Higher is more relevant (FTS5's bm25() is negated); 0.0 for a blank-query listing, which is not ranked.
    score: float


@cache
def fts5_available() -> bool:
    """Whether the running SQLite has FTS5 (AWS Lambda's python3.11 runtime may ship one without it)."""
    try:
        con = sqlite3.connect(":memory:")
        try:
            con.execute("CREATE VIRTUAL TABLE probe USING fts5(a, tokenize='unicode61 remove_diacritics 2')")
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return True


def require_engine() -> None:
    """Raises ConfigurationError unless this SQLite can build and load an index (FTS5 and serialize)."""
    missing = []
    if not fts5_available():
        missing.append("FTS5")
    if not hasattr(sqlite3.Connection, "serialize") or not hasattr(sqlite3.Connection, "deserialize"):
        missing.append("serialize/deserialize (needs Python 3.11+ on SQLite 3.23+)")
    if missing:
        raise ConfigurationError(
            f"product search needs SQLite with {' and '.join(missing)}; "
            f"this runtime has SQLite {sqlite3.sqlite_version}"
        )


def build_index(docs: Iterable[SearchDoc], version: str) -> bytes:
    """The whole catalog as one serialised SQLite database: the same docs and version give the same bytes.

    Raises ValueError on a duplicate or invalid sku or category id, TypeError on a price that is not an int.
    """
    require_engine()
    if not isinstance(version, str) or not version:
        raise ValueError("version must be a non-empty string")
    rows, texts = _rows(docs)
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(_SCHEMA)
        with con:
            con.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
            _insert_texts(con, texts)
            con.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("version", _clean(version)), ("doc_count", str(len(rows)))],
            )
            # One b-tree per term instead of one segment per flush: smaller and faster to query.
            con.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        con.execute("VACUUM")
        return con.serialize()
    finally:
        con.close()


def upsert_into_index(data: bytes, docs: Iterable[SearchDoc], version: str) -> bytes:
    """`data` (what build_index or this produced) with `docs` in it, as `version`: a doc whose sku is indexed
    replaces it, the others are added. What a catalog write that creates or changes products needs, without reading
    the rest of the catalog again; the result answers (and ranks) exactly as a build of the same docs would.
    Raises ValueError if `data` is no index of this schema or `docs` repeats a sku; `data` is never changed.
    """
    require_engine()
    if not isinstance(version, str) or not version:
        raise ValueError("version must be a non-empty string")
    con = sqlite3.connect(":memory:")
    try:
        try:
            con.deserialize(bytes(data))
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            (top,) = con.execute("SELECT coalesce(max(rowid), 0) FROM docs").fetchone()
        except sqlite3.Error as e:
            raise ValueError(f"not a search index: {e}") from e
        if meta.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"not a search index of schema {SCHEMA_VERSION}: {meta.get('schema')!r}")
        rows, texts = _rows(docs, first_rowid=top + 1)
        with con:
            # A changed product's old words come out exactly as they went in, and it keeps its row number.
            indexed = [found for row in rows if (found := con.execute(_INDEXED, (row[1],)).fetchone())]
            con.executemany(
                "INSERT INTO fts (fts, rowid, title, description, category_name) VALUES ('delete', ?, ?, ?, ?)",
                [(rowid, _fold(title), description, category) for _, rowid, title, description, category in indexed],
            )
            gone = [(rowid,) for _, rowid, *_ in indexed]
            con.executemany("DELETE FROM texts WHERE rowid = ?", gone)
            con.executemany("DELETE FROM docs WHERE rowid = ?", gone)
            kept = {sku: rowid for sku, rowid, *_ in indexed}
            rowids = [kept.get(row[1], row[0]) for row in rows]
            rows = [(rowid, *row[1:]) for rowid, row in zip(rowids, rows, strict=True)]
            texts = [(rowid, *text[1:]) for rowid, text in zip(rowids, texts, strict=True)]
            con.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
            _insert_texts(con, texts)
            (count,) = con.execute("SELECT count(*) FROM docs").fetchone()
            con.executemany("UPDATE meta SET value = ? WHERE key = ?",
                            [(_clean(version), "version"), (str(count), "doc_count")])
            con.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        con.execute("VACUUM")
        return con.serialize()
    finally:
        con.close()


_INDEXED = ("SELECT d.sku, d.rowid, d.title, t.description, t.category_name FROM docs d JOIN texts t USING (rowid) "
            "WHERE d.sku = ?")


def _insert_texts(con: sqlite3.Connection, texts: list[tuple[int, str, str, str]]) -> None:
    con.executemany("INSERT INTO texts (rowid, description, category_name) VALUES (?, ?, ?)",
                    [(rowid, description, category) for rowid, _, description, category in texts])
    con.executemany("INSERT INTO fts (rowid, title, description, category_name) VALUES (?, ?, ?, ?)", texts)


def _rows(docs: Iterable[SearchDoc], first_rowid: int = 1
          ) -> tuple[list[tuple[int, str, str, str, int, str | None]], list[tuple[int, str, str, str]]]:
    """The docs table's rows and the full-text rows of `docs`, numbered from `first_rowid`."""
    rows: list[tuple[int, str, str, str, int, str | None]] = []
    texts: list[tuple[int, str, str, str]] = []
    seen: set[str] = set()
    for rowid, doc in enumerate(docs, start=first_rowid):
        _check_doc(doc)
        if doc.sku in seen:
            raise ValueError(f"duplicate sku {doc.sku!r}")
        seen.add(doc.sku)
        title = _clean(doc.title)
        rows.append((rowid, doc.sku, title, _sort_key(title), doc.price_q, doc.category_id))
        texts.append((rowid, _fold(title), _fold(_clean(doc.description)), _fold(_clean(doc.category_name))))
    return rows, texts


class SearchIndex:
    """A loaded index. Safe to share between threads: every statement runs under one lock (queries take
    milliseconds, and a Lambda process serves one request at a time anyway)."""

    def __init__(self, con: sqlite3.Connection, version: str, doc_count: int):
        self._con = con
        self._lock = threading.Lock()
        self.version = version
        self.doc_count = doc_count

    @classmethod
    def from_bytes(cls, data: bytes) -> SearchIndex:
        """Loads what build_index produced. Raises ValueError if the bytes are not such an index."""
        require_engine()
        if not isinstance(data, bytes | bytearray | memoryview) or not data:
            raise ValueError("not a search index: no data")
        con = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            con.deserialize(bytes(data))
            # The index is immutable once built; nothing may write to it.
            con.execute("PRAGMA query_only = ON")
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            con.execute("SELECT rowid FROM fts WHERE fts MATCH '\"probe\"' LIMIT 1").fetchall()
        except sqlite3.Error as e:
            con.close()
            raise ValueError(f"not a search index: {e}") from e
        if meta.get("schema") not in READABLE_SCHEMAS or "version" not in meta:
            con.close()
            raise ValueError(f"not a search index of schema {SCHEMA_VERSION}: {meta.get('schema')!r}")
        return cls(con, meta["version"], int(meta.get("doc_count", "0")))

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def search(
        self,
        q: str | None,
        *,
        min_price_q: int | None = None,
        max_price_q: int | None = None,
        category_id: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> list[Hit]:
        """Hits in rank order, `offset`/`limit` into the full ranked list (callers filtering by stock walk on).

        A blank q lists every doc matching the filters ordered by title; a q with no words at all (only
        punctuation or emoji) matches nothing.
        """
        offset, limit = _clamp(offset, "offset"), _clamp(limit, "limit")
        where, params = _filters(min_price_q, max_price_q, category_id)
        if where is None or limit == 0:
            return []
        if q is None or not q.strip():
            sql = f"SELECT sku FROM docs d WHERE 1 {where} ORDER BY title_key, sku LIMIT ? OFFSET ?"  # noqa: S608
            return [Hit(sku, 0.0) for (sku,) in self._all(sql, (*params, limit, offset))]
        expression = match_expression(q)
        if expression is None:
            return []
        sql = (
            "SELECT d.sku, bm25(fts, ?, ?, ?) AS score FROM fts JOIN docs d ON d.rowid = fts.rowid "  # noqa: S608
            f"WHERE fts MATCH ? {where} ORDER BY score, d.sku LIMIT ? OFFSET ?"
        )
        weights = (TITLE_WEIGHT, DESCRIPTION_WEIGHT, CATEGORY_WEIGHT)
        rows = self._all(sql, (*weights, expression, *params, limit, offset))
        return [Hit(sku, -score) for sku, score in rows]

    def autocomplete(self, prefix: str | None, limit: int = 10) -> list[str]:
        """Distinct titles whose words match `prefix` (its last word as a prefix), best first: titles that
        start with the typed words, then by BM25 over the title, then alphabetically."""
        limit = _clamp(limit, "limit")
        words = _words(prefix or "")
        if not words or limit == 0:
            return []
        phrases = [_phrase(w, last) for w, last in words]
        anywhere = " ".join(f"title : {p}" for p in phrases)
        # FTS5's `^` matches only a title's first token: "Running Shoes" before "Trail Running Shoes" for "run".
        anchored = " ".join(f"title : {'^' if i == 0 else ''}{p}" for i, p in enumerate(phrases))
        # Sorted in SQL, deduplicated here: several skus (sizes, colours) may share a title.
        sql = """
            SELECT d.title FROM fts JOIN docs d ON d.rowid = fts.rowid
            WHERE fts MATCH ?
            ORDER BY fts.rowid NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?), bm25(fts, 1.0, 0.0, 0.0),
                     d.title_key, d.title
        """
        titles: dict[str, None] = {}
        with self._lock:
            cursor = self._con.execute(sql, (anywhere, anchored))
            try:
                for (title,) in cursor:
                    titles.setdefault(title)
                    if len(titles) == limit:
                        break
            finally:
                cursor.close()
        return list(titles)

    def _all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()


def match_expression(q: str) -> str | None:
    """The FTS5 MATCH expression for a user query: its words as quoted strings, ANDed, the last as a prefix.

    None when q has no words. Exposed so the query language is testable on its own.
    """
    words = _words(q)
    if not words:
        return None
    return " ".join(_phrase(w, last) for w, last in words)


def _words(text: str) -> list[tuple[str, bool]]:
    """(word, is_a_prefix) for at most MAX_QUERY_WORDS distinct words of `text`, in order."""
    folded = _FOLDED_MARKS.sub("", _fold(_clean(text)))
    found: list[str] = []
    ended_early = False
    for m in _WORD.finditer(folded):
        if len(found) == MAX_QUERY_WORDS:
            ended_early = True
            break
        found.append(m.group())
    words: list[tuple[str, bool]] = []
    for i, word in enumerate(found):
        # Only the word the user is still typing is a prefix; if the query was cut, the last kept word is whole.
        prefix = i == len(found) - 1 and not ended_early
        if len(word) > MAX_WORD_CHARS:
            # A cut word still finds every doc that has the whole word, and some that only start the same way.
            word, prefix = word[:MAX_WORD_CHARS], True
        if (word, prefix) not in words:
            words.append((word, prefix))
    return words


def _phrase(word: str, prefix: bool) -> str:
    # Words are letters and digits only, but doubling quotes keeps this safe whatever _WORD becomes.
    quoted = '"' + word.replace('"', '""') + '"'
    return quoted + "*" if prefix else quoted


def _filters(
    min_price_q: int | None, max_price_q: int | None, category_id: str | None
) -> tuple[str | None, tuple[Any, ...]]:
    """SQL conditions over docs `d` and their parameters; (None, ()) when nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    low = None if min_price_q is None else _int(min_price_q, "min_price_q")
    high = None if max_price_q is None else _int(max_price_q, "max_price_q")
    if (low is not None and low > _INT64_MAX) or (high is not None and high < _INT64_MIN):
        return None, ()
    if low is not None and high is not None and low > high:
        return None, ()
    if low is not None:
        where.append("AND d.price_q >= ?")
        params.append(max(low, _INT64_MIN))
    if high is not None:
        where.append("AND d.price_q <= ?")
        params.append(min(high, _INT64_MAX))
    if category_id is not None:
        if not isinstance(category_id, str):
            raise TypeError("category_id must be a string")
        if _SURROGATES.search(category_id):
            # No indexed id can contain one (build refuses them), and sqlite3 could not bind it.
            return None, ()
        where.append("AND d.category_id = ?")
        params.append(category_id)
    return " ".join(where), tuple(params)


def _int(value: Any, name: str) -> int:
    # bool is an int, and a float price is exactly what money in minor units forbids.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (minor units)")
    return value


def _clamp(value: Any, name: str) -> int:
    value = _int(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return min(value, _INT64_MAX)


def _check_doc(doc: SearchDoc) -> None:
    if not isinstance(doc.sku, str) or not doc.sku or _SURROGATES.search(doc.sku):
        raise ValueError(f"invalid sku {doc.sku!r}")
    if doc.category_id is not None and (not isinstance(doc.category_id, str) or _SURROGATES.search(doc.category_id)):
        raise ValueError(f"invalid category_id {doc.category_id!r} for sku {doc.sku!r}")
    _int(doc.price_q, "price_q")
    if not _INT64_MIN <= doc.price_q <= _INT64_MAX:
        raise ValueError(f"price_q out of range for sku {doc.sku!r}")
    for name in ("title", "description", "category_name"):
        if not isinstance(getattr(doc, name), str):
            raise ValueError(f"{name} of sku {doc.sku!r} must be a string")


def _clean(text: str) -> str:
    return _SURROGATES.sub("", text)


def _fold(text: str) -> str:
    # Case-folding in Python as well as in FTS5 maps what unicode61 alone would not ("Straße" = "strasse"), and
    # NFKC maps compatibility forms (ligatures, full-width letters) to the letters people type.
    return unicodedata.normalize("NFKC", text.casefold())


def _sort_key(title: str) -> str:
    # Listing order that ignores case and accents, so "Éclair" sorts with the e's rather than after "Z".
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
