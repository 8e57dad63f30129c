"""The search engine on a small hand-made catalog (exact expectations) and on the seed catalog (scale, shape).

Query semantics pinned here: every word must match (title, description or category name), case and accents
never matter, and only the LAST word is a prefix ("runn" finds Running; "runn shoes" does not).
"""

from __future__ import annotations

import random
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.inventory import seed_data
from chalicelib.search import (
    Hit,
    SearchDoc,
    SearchIndex,
    build_index,
    fts5_available,
    match_expression,
    upsert_into_index,
)
from chalicelib.search.engine import MAX_QUERY_WORDS, SCHEMA_VERSION


def doc(sku: str, title: str, description: str, category_id: str, category_name: str, price_q: int) -> SearchDoc:
    return SearchDoc(sku, title, description, category_id, category_name, price_q)


DOCS = [
    doc("CAFE-1", "Café Espresso Beans", "Dark roast arabica.", "coffee", "Coffee & Tea", 1299),
    doc("CAFE-2", "cafe filter papers", "Unbleached paper filters.", "coffee", "Coffee & Tea", 399),
    doc("GRIND-1", "Coffee Grinder", "Burr grinder with 40 settings.", "kitchen", "Home & Kitchen", 4999),
    doc("MUG-1", "Stoneware Mug", "For coffee lovers.", "kitchen", "Home & Kitchen", 1800),
    doc("RUN-1", "Running Shoes", "Lightweight mesh upper.", "footwear", "Footwear", 8999),
    doc("RUN-2", "Trail Running Shoes", "Grippy outsole.", "footwear", "Footwear", 11999),
    doc("BOOT-1", "Hiking Boots", "Waterproof leather.", "footwear", "Footwear", 15999),
    doc("SOCK-1", "Merino Socks", "Soft socks for running and hiking.", "apparel", "Apparel", 1499),
    doc("BRULEE-1", "Crème Brûlée", "Vanilla custard.", "bakery", "Bakery & Desserts", 650),
    doc("JAL-1", "Jalapeño Hot Sauce", "Smoky heat.", "pantry", "Pantry", 799),
    doc("ACAI-1", "Açaí Bowl Mix", "Freeze-dried berries.", "pantry", "Pantry", 1199),
    doc("UBER-1", "Über Wireless Earbuds", "Noise cancelling.", "electronics", "Electronics", 12999),
    doc("STR-1", "Straße Sneakers", "City streets.", "footwear", "Footwear", 7999),
    # Same text twice: their order must come from the sku alone, whatever order they were built in.
    doc("TOTE-2", "Canvas Tote Bag", "Carries everything.", "bags", "Bags & Accessories", 2500),
    doc("TOTE-1", "Canvas Tote Bag", "Carries everything.", "bags", "Bags & Accessories", 2500),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.from_bytes(build_index(DOCS, "v-test"))


def skus(hits: list[Hit]) -> list[str]:
    return [h.sku for h in hits]


def products_as_docs(products: list[dict[str, Any]]) -> list[SearchDoc]:
    return [
        SearchDoc(p["sku"], p["title"], p["description"], p["category_id"], seed_data.category_name(p["category_id"]),
                  p["price_q"])
        for p in products
    ]


@pytest.fixture(scope="module")
def seed_index() -> SearchIndex:
    return SearchIndex.from_bytes(build_index(products_as_docs(seed_data.products(600)), "seed"))


def test_this_runtime_has_fts5() -> None:
    assert fts5_available() is True


# (query, the skus it must find, in any order)
MATCHES = [
    # accents and case, both ways
    ("cafe", {"CAFE-1", "CAFE-2"}),
    ("CAFÉ", {"CAFE-1", "CAFE-2"}),
    ("café", {"CAFE-1", "CAFE-2"}),
    ("CaFe", {"CAFE-1", "CAFE-2"}),
    ("creme brulee", {"BRULEE-1"}),
    ("CRÈME BRÛLÉE", {"BRULEE-1"}),
    ("cre\u0300me", {"BRULEE-1"}),  # decomposed accent, as some keyboards send it
    ("jalapeno", {"JAL-1"}),
    ("JALAPEÑO", {"JAL-1"}),
    ("uber", {"UBER-1"}),
    ("ÜBER", {"UBER-1"}),
    ("acai", {"ACAI-1"}),
    ("AÇAÍ", {"ACAI-1"}),
    ("strasse", {"STR-1"}),  # case folding maps ß to ss
    ("\uff23\uff21\uff26\uff25", {"CAFE-1", "CAFE-2"}),  # full-width letters
    ("ﬁlter", {"CAFE-2"}),  # a ligature
    # the last word is a prefix, earlier words are whole
    ("runn", {"RUN-1", "RUN-2", "SOCK-1"}),
    ("running sho", {"RUN-1", "RUN-2"}),
    ("shoes runn", {"RUN-1", "RUN-2"}),
    ("runn shoes", set()),
    ("trail running shoes", {"RUN-2"}),
    ("r", {"RUN-1", "RUN-2", "SOCK-1", "CAFE-1"}),  # one character: slower than the 2-4 prefix indexes, still works
    # category names are searched
    ("footwear", {"RUN-1", "RUN-2", "BOOT-1", "STR-1"}),
    ("desserts", {"BRULEE-1"}),
    ("bakery", {"BRULEE-1"}),
    # description words are searched
    ("waterproof", {"BOOT-1"}),
    ("hiking", {"BOOT-1", "SOCK-1"}),
    # every word must match
    ("coffee grinder", {"GRIND-1"}),
    ("canvas bag", {"TOTE-1", "TOTE-2"}),
    ("espresso shoes", set()),
    ("nothing like this", set()),
]


@pytest.mark.parametrize(("q", "expected"), MATCHES)
def test_search_matches(index: SearchIndex, q: str, expected: set[str]) -> None:
    found = skus(index.search(q, limit=100))
    if q == "r":
        assert expected <= set(found)
    else:
        assert set(found) == expected
    assert len(found) == len(set(found))


def test_query_words_become_quoted_strings_and_only_the_last_is_a_prefix() -> None:
    assert match_expression("running sho") == '"running" "sho"*'
    assert match_expression('NEAR(cafe "x") AND -y*') == '"near" "cafe" "x" "and" "y"*'
    assert match_expression("  ") is None
    assert match_expression("!!! 😀 ---") is None
    # a query cut at MAX_QUERY_WORDS has no prefix: its last kept word was finished by the user
    long_query = " ".join(f"w{i}" for i in range(MAX_QUERY_WORDS + 5))
    expression = match_expression(long_query)
    assert expression is not None
    assert expression.count('"') == 2 * MAX_QUERY_WORDS
    assert not expression.endswith("*")


def test_title_match_beats_category_match_beats_description_match(index: SearchIndex) -> None:
    hits = index.search("coffee")
    # GRIND-1 has it in the title, CAFE-1/2 in the category name, MUG-1 only in its description
    assert skus(hits)[0] == "GRIND-1"
    assert set(skus(hits)[1:3]) == {"CAFE-1", "CAFE-2"}
    assert skus(hits)[3] == "MUG-1"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)


def test_a_title_match_beats_a_description_only_match(index: SearchIndex) -> None:
    found = skus(index.search("running"))
    assert set(found[:2]) == {"RUN-1", "RUN-2"}
    assert found[2] == "SOCK-1"


def test_equal_scores_are_ordered_by_sku(index: SearchIndex) -> None:
    assert skus(index.search("tote")) == ["TOTE-1", "TOTE-2"]
    listing = skus(index.search("", category_id="bags"))
    assert listing == ["TOTE-1", "TOTE-2"]


def test_blank_query_lists_everything_by_title_ignoring_case_and_accents(index: SearchIndex) -> None:
    for blank in ("", "   ", "\t\n", None):
        assert skus(index.search(blank, limit=100)) == [
            "ACAI-1", "CAFE-1", "CAFE-2", "TOTE-1", "TOTE-2", "GRIND-1", "BRULEE-1", "BOOT-1", "JAL-1", "SOCK-1",
            "RUN-1", "MUG-1", "STR-1", "RUN-2", "UBER-1",
        ]
    assert all(h.score == 0.0 for h in index.search(""))


def test_a_query_without_words_matches_nothing(index: SearchIndex) -> None:
    for q in ("!!!", "😀", "---", "* * *", '""', "()"):
        assert index.search(q) == []


@pytest.mark.parametrize(
    ("q", "filters", "expected"),
    [
        ("", {"min_price_q": 1000, "max_price_q": 2000}, ["ACAI-1", "CAFE-1", "SOCK-1", "MUG-1"]),
        ("", {"min_price_q": 8999, "max_price_q": 8999}, ["RUN-1"]),  # bounds are inclusive
        ("", {"min_price_q": 15000}, ["BOOT-1"]),
        ("", {"max_price_q": 650}, ["CAFE-2", "BRULEE-1"]),
        ("", {"min_price_q": 5000, "max_price_q": 4000}, []),
        ("", {"category_id": "footwear"}, ["BOOT-1", "RUN-1", "STR-1", "RUN-2"]),
        ("", {"category_id": "nope"}, []),
        ("shoes", {"max_price_q": 10000}, ["RUN-1"]),
        ("shoes", {"min_price_q": 10000}, ["RUN-2"]),
        ("coffee", {"category_id": "kitchen"}, ["GRIND-1", "MUG-1"]),
        ("coffee", {"category_id": "kitchen", "max_price_q": 2000}, ["MUG-1"]),
        ("cafe", {"category_id": "footwear"}, []),
    ],
)
def test_filters(index: SearchIndex, q: str, filters: dict[str, Any], expected: list[str]) -> None:
    assert skus(index.search(q, limit=100, **filters)) == expected


def test_filters_out_of_any_range_match_nothing_or_everything(index: SearchIndex) -> None:
    assert index.search("", min_price_q=10**30) == []
    assert index.search("", max_price_q=-(10**30)) == []
    assert len(index.search("", min_price_q=-(10**30), max_price_q=10**30, limit=100)) == len(DOCS)
    assert index.search("", offset=10**30) == []
    assert len(index.search("", limit=10**30)) == len(DOCS)
    assert index.search("cafe", limit=0) == []
    assert index.search("", category_id="' OR 1=1 --") == []
    assert index.search("", category_id="\ud800") == []


def test_money_and_paging_arguments_must_be_ints(index: SearchIndex) -> None:
    with pytest.raises(TypeError):
        index.search("cafe", min_price_q=12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        index.search("cafe", max_price_q=True)
    with pytest.raises(ValueError):
        index.search("cafe", offset=-1)
    with pytest.raises(ValueError):
        index.search("cafe", limit=-1)


@pytest.mark.parametrize(("q", "filters"), [("coffee", {}), ("", {}), ("b", {}), ("", {"max_price_q": 5000}),
                                            ("leather", {"min_price_q": 5000})])
def test_pages_are_consistent_and_never_repeat(seed_index: SearchIndex, q: str, filters: dict[str, Any]) -> None:
    everything = seed_index.search(q, limit=10_000, **filters)
    assert len(everything) > 25
    paged: list[Hit] = []
    for offset in range(0, len(everything) + 7, 7):
        paged += seed_index.search(q, offset=offset, limit=7, **filters)
    assert paged == everything
    assert len({h.sku for h in paged}) == len(paged)
    # asked again, the same order: callers walk on past a page to fill it with in-stock products
    assert seed_index.search(q, limit=10_000, **filters) == everything


def test_autocomplete_titles_starting_with_the_words_come_first(index: SearchIndex) -> None:
    assert index.autocomplete("run") == ["Running Shoes", "Trail Running Shoes"]
    assert index.autocomplete("r") == ["Running Shoes", "Trail Running Shoes"]
    assert index.autocomplete("running sh") == ["Running Shoes", "Trail Running Shoes"]
    assert index.autocomplete("tr") == ["Trail Running Shoes"]
    assert index.autocomplete("CAF") == ["Café Espresso Beans", "cafe filter papers"]
    assert index.autocomplete("jalap") == ["Jalapeño Hot Sauce"]
    assert index.autocomplete("ub") == ["Über Wireless Earbuds"]


def test_autocomplete_only_looks_at_titles_and_returns_each_title_once(index: SearchIndex) -> None:
    assert index.autocomplete("lightweight") == []  # a description word
    assert index.autocomplete("footw") == []  # a category name
    assert index.autocomplete("tote") == ["Canvas Tote Bag"]
    for nothing in ("", "   ", "!!", "😀", None):
        assert index.autocomplete(nothing) == []


def test_autocomplete_gives_the_top_ten(seed_index: SearchIndex) -> None:
    for prefix in ("c", "ca", "s", "w", "b"):
        titles = seed_index.autocomplete(prefix)
        assert len(titles) == 10
        assert len(set(titles)) == 10
    assert seed_index.autocomplete("c", limit=3) == seed_index.autocomplete("c")[:3]
    assert seed_index.autocomplete("c", limit=0) == []
    # every suggestion has a title word starting with what was typed, accents and case aside
    for title in seed_index.autocomplete("cafe"):
        assert "café" in title.lower() or "cafe" in title.lower()
    starts = seed_index.autocomplete("espr")
    assert starts
    assert all("espresso" in t.lower() for t in starts)


HOSTILE = [
    '"', '""', "'", "*", "a*", '"cafe', 'cafe"', "NEAR(cafe running)", "NEAR(cafe running, 2)", "cafe AND running",
    "cafe OR running", "NOT cafe", "cafe -running", "-cafe", "(cafe", ")", "title:cafe", 'title : "cafe"',
    "{title description}: cafe", "^cafe", "cafe^", "NEAR", "AND", "OR", "NOT", "\x00", "\x00cafe", "caf\x00e",
    "\u200b", "emoji 😀 cafe", "😀", "🇫🇷", "👨‍👩‍👧", "x" * 10_000, "cafe " * 3000, "ä" * 10_000, "\ud800",
    "caf\udc80e", "\ud83d", "\t\n\r\x0b\x0c", "%", "_", "\\", "'; DROP TABLE docs; --", "\uffff", "\U0010ffff",
    "\ue000", "a" * 64 + "b", "١٢٣", "日本語", "हिन्दी", "\u0301", "e\u0301" * 5000, "+cafe", "cafe:", "[cafe]",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_input_never_raises(index: SearchIndex, q: str) -> None:
    assert isinstance(index.search(q), list)
    assert isinstance(index.search(q, min_price_q=0, max_price_q=10**6, category_id=q, offset=3, limit=5), list)
    assert isinstance(index.autocomplete(q), list)


def test_hostile_input_means_what_its_words_say(index: SearchIndex) -> None:
    assert set(skus(index.search('"cafe'))) == {"CAFE-1", "CAFE-2"}
    assert set(skus(index.search("(cafe)"))) == {"CAFE-1", "CAFE-2"}
    assert set(skus(index.search("emoji-free 😀 cafe"))) == set()  # "emoji" and "free" are words too
    assert set(skus(index.search("😀 cafe"))) == {"CAFE-1", "CAFE-2"}
    assert set(skus(index.search("caf\udc80e"))) == {"CAFE-1", "CAFE-2"}  # the lone surrogate is dropped
    assert index.search("cafe OR running") == []  # OR is just a word no product has
    assert index.search("NOT cafe") == []


def test_random_garbage_never_raises(index: SearchIndex) -> None:
    rng = random.Random(7)
    alphabet = [*'"*^:(){}[]-+ ,.;\'\\%_\x00\t\n', "AND", "OR", "NOT", "NEAR", "cafe", "run", "é", "\u0301", "😀",
                "\ud800", "\udfff", "ß", "İ", "\U0001f1eb"]
    for _ in range(400):
        q = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        index.search(q)
        index.autocomplete(q)


def test_the_index_is_shared_safely_between_threads(seed_index: SearchIndex) -> None:
    queries = ["coffee", "leather", "ca", "running sho", "", "açaí", "w"]
    expected = {q: seed_index.search(q, limit=50) for q in queries}
    completions = {q: seed_index.autocomplete(q) for q in queries}

    def run(i: int) -> bool:
        q = queries[i % len(queries)]
        return seed_index.search(q, limit=50) == expected[q] and seed_index.autocomplete(q) == completions[q]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(run, range(400)))


def test_the_index_round_trips_with_its_version_and_is_deterministic() -> None:
    data = build_index(DOCS, "2026-01-01T00:00:00Z#42")
    loaded = SearchIndex.from_bytes(data)
    assert loaded.version == "2026-01-01T00:00:00Z#42"
    assert loaded.doc_count == len(DOCS)
    # an unchanged catalog gives the same bytes, hence the same S3 ETag: no API process reloads for nothing
    assert build_index(DOCS, "2026-01-01T00:00:00Z#42") == data


def test_the_loaded_index_is_read_only(index: SearchIndex) -> None:
    with pytest.raises(sqlite3.OperationalError):
        index._con.execute("DELETE FROM docs")


def test_an_empty_catalog_builds_an_index_that_finds_nothing() -> None:
    empty = SearchIndex.from_bytes(build_index([], "empty"))
    assert empty.doc_count == 0
    assert empty.search("cafe") == []
    assert empty.search("") == []
    assert empty.autocomplete("c") == []


def test_build_refuses_what_it_cannot_index() -> None:
    with pytest.raises(ValueError, match="duplicate sku"):
        build_index([DOCS[0], DOCS[0]], "v")
    with pytest.raises(TypeError):
        build_index([doc("X", "t", "d", "c", "C", 12.5)], "v")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_index([doc("\ud800", "t", "d", "c", "C", 1)], "v")
    with pytest.raises(ValueError):
        build_index(DOCS, "")


def test_text_with_lone_surrogates_is_indexed_without_them() -> None:
    loaded = SearchIndex.from_bytes(build_index([doc("S-1", "Ca\ud800fé Noir", "x\udfff", "c", "C", 1)], "v"))
    assert skus(loaded.search("cafe")) == ["S-1"]
    assert loaded.autocomplete("caf") == ["Café Noir"]


def test_from_bytes_refuses_what_is_not_an_index() -> None:
    for data in (b"", b"not a database at all" * 100):
        with pytest.raises(ValueError):
            SearchIndex.from_bytes(data)
    other = sqlite3.connect(":memory:")
    other.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    other.execute("INSERT INTO meta VALUES ('schema', 'something-else')")
    with pytest.raises(ValueError):
        SearchIndex.from_bytes(other.serialize())
    assert SCHEMA_VERSION.startswith("omniman-search/")


def test_the_seed_catalog_is_searchable_accent_insensitively(seed_index: SearchIndex) -> None:
    products = {p["sku"]: p for p in seed_data.products(600)}
    for plain, accented in (("cafe", "café"), ("jalapeno", "jalapeño"), ("acai", "açaí"), ("uber", "über"),
                            ("creme brulee", "crème brûlée")):
        hits = seed_index.search(plain, limit=1000)
        assert hits, plain
        assert seed_index.search(accented, limit=1000) == hits
        for hit in hits[:5]:
            p = products[hit.sku]
            text = f"{p['title']} {p['description']}".lower()
            assert all(word in text for word in accented.split())


# --- seed data -------------------------------------------------------------------------------------------

SKU = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,63}$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def test_seed_products_are_deterministic_per_seed() -> None:
    assert seed_data.products(200) == seed_data.products(200)
    assert seed_data.products(200, seed=5) == seed_data.products(200, seed=5)
    assert seed_data.products(200, seed=5) != seed_data.products(200, seed=6)
    # a bigger catalog starts like a smaller one of the same seed
    assert seed_data.products(300, seed=5)[:200] == seed_data.products(200, seed=5)
    assert seed_data.products(0) == []


def test_seed_products_have_the_right_shape() -> None:
    products = seed_data.products(2000, seed=3)
    category_ids = {c["id"] for c in seed_data.categories()}
    for p in products:
        assert set(p) == {"sku", "title", "description", "price_q", "category_id"}
        assert SKU.match(p["sku"])
        assert type(p["price_q"]) is int
        assert p["price_q"] > 0
        assert p["price_q"] % 100 in (49, 99)
        assert p["category_id"] in category_ids
        assert 10 < len(p["title"]) <= 200
        sentences = re.findall(r"[.!?](?:\s|$)", p["description"])
        assert 1 <= len(sentences) <= 2, p["description"]
    assert len({p["sku"] for p in products}) == len(products)


def test_fifty_seed_products_look_varied() -> None:
    products = seed_data.products(50)
    assert len({p["title"] for p in products}) >= 45
    assert len({p["description"] for p in products}) >= 45
    assert len({p["price_q"] for p in products}) >= 35
    assert {p["category_id"] for p in products} == {c["id"] for c in seed_data.categories()}
    assert len({p["title"].split()[0] for p in products}) >= 10  # many brands


def test_seed_categories_have_real_names() -> None:
    categories = seed_data.categories()
    assert 8 <= len(categories) <= 12
    for c in categories:
        assert CODE.match(c["id"])
        assert c["name"][0].isupper()
        assert seed_data.category_name(c["id"]) == c["name"]
    assert len({c["name"] for c in categories}) == len(categories)


def test_seed_products_carry_accented_words() -> None:
    text = " ".join(f"{p['title']} {p['description']}" for p in seed_data.products(500)).lower()
    for word in ("café", "crème brûlée", "jalapeño", "über", "açaí"):
        assert word in text


def test_seed_stores_and_stock() -> None:
    stores = seed_data.stores()
    assert len(stores) == 3
    assert len({s["code"] for s in stores}) == 3
    for s in stores:
        assert CODE.match(s["code"])
        assert s["name"]
        assert s["location"]
    products = seed_data.products(300)
    rows = seed_data.stock(products, stores, seed=1)
    assert rows == seed_data.stock(products, stores, seed=1)
    assert rows != seed_data.stock(products, stores, seed=2)
    assert {(r["store_code"], r["sku"]) for r in rows} == {(s["code"], p["sku"]) for s in stores for p in products}
    assert len(rows) == len(stores) * len(products)
    for r in rows:
        assert type(r["on_hand"]) is int
        assert r["on_hand"] >= 0
        assert type(r["reorder_level"]) is int
        assert r["reorder_level"] > 0
    assert sum(r["on_hand"] == 0 for r in rows) > len(rows) // 20
    assert sum(0 < r["on_hand"] < r["reorder_level"] for r in rows) > len(rows) // 20
    assert sum(r["on_hand"] >= r["reorder_level"] for r in rows) > len(rows) // 2


# --- writing into a built index (a catalog write that creates or changes products) ---------------------------------

QUERIES = ["coffee", "cafe", "runn", "running shoes", "footwear", "socks hiking", "creme", "strasse", "tote", "bag"]


def answers(index: SearchIndex) -> list[Any]:
    """Everything a reader can ask, with scores: what an index written into must answer like a full build."""
    out: list[Any] = [index.version, index.doc_count]
    for q in [*QUERIES, ""]:
        out.append([(h.sku, round(h.score, 9)) for h in index.search(q, limit=50)])
        out.append(skus(index.search(q, min_price_q=1000, max_price_q=9000, category_id="footwear", limit=50)))
    out += [index.autocomplete(p) for p in ("c", "ca", "run", "tr", "s", "über")]
    return out


def test_adding_docs_answers_as_a_build_of_all_of_them():
    # Built from part of the catalog in one order, the rest added in two writes: the same answers as one build.
    first, second, third = DOCS[5:], DOCS[:2], DOCS[2:5]
    grown = upsert_into_index(upsert_into_index(build_index(first, "1"), second, "2"), third, "3")
    assert answers(SearchIndex.from_bytes(grown)) == answers(SearchIndex.from_bytes(build_index(DOCS, "3")))


def changed(original: SearchDoc, **fields: Any) -> SearchDoc:
    return SearchDoc(**{**{f: getattr(original, f) for f in SearchDoc.__slots__}, **fields})


def test_changing_docs_answers_as_a_build_of_the_changed_catalog():
    # New words in, old words out (title, description and category each), a price and a category moved, and a
    # new product in the same write: the index answers exactly as one built from the catalog as it now is.
    edits = [
        changed(DOCS[0], title="Decaf Espresso Beans", description="Swiss water process.", price_q=1499),
        changed(DOCS[2], category_id="footwear", category_name="Footwear"),
        changed(DOCS[4], description="Nothing about what it used to say."),
    ]
    new = doc("NEW-1", "Café Crème Pods", "Capsules.", "coffee", "Coffee & Tea", 599)
    catalog = {d.sku: d for d in DOCS} | {d.sku: d for d in [*edits, new]}
    written = upsert_into_index(upsert_into_index(build_index(DOCS, "1"), edits[:1], "2"), [*edits[1:], new], "3")
    index = SearchIndex.from_bytes(written)
    assert answers(index) == answers(SearchIndex.from_bytes(build_index(list(catalog.values()), "3")))
    assert "CAFE-1" in skus(index.search("decaf")) and "CAFE-1" not in skus(index.search("arabica"))
    assert skus(index.search("espresso", min_price_q=1400, max_price_q=1500)) == ["CAFE-1"]


def test_changing_a_doc_back_and_forth_leaves_no_trace():
    flipped = changed(DOCS[1], title="Paper Cones", description="For pour-over.")
    written = build_index(DOCS, "1")
    for n in range(2, 9):  # ends on the original
        written = upsert_into_index(written, [flipped if n % 2 else DOCS[1]], str(n))
    con = sqlite3.connect(":memory:")
    con.deserialize(written)
    con.execute("INSERT INTO fts (fts) VALUES ('integrity-check')")  # raises if any word was left behind
    assert answers(SearchIndex.from_bytes(written))[1:] == answers(SearchIndex.from_bytes(build_index(DOCS, "8")))[1:]


def test_writing_nothing_moves_only_the_version():
    grown = SearchIndex.from_bytes(upsert_into_index(build_index(DOCS, "1"), [], "2"))
    assert answers(grown)[1:] == answers(SearchIndex.from_bytes(build_index(DOCS, "1")))[1:]
    assert grown.version == "2"


def test_what_cannot_be_written_is_refused_and_the_given_index_never_changes():
    built = build_index(DOCS[:3], "1")
    with pytest.raises(ValueError, match="duplicate"):
        upsert_into_index(built, [DOCS[4], DOCS[4]], "2")
    with pytest.raises(ValueError):
        upsert_into_index(b"not an index at all", [DOCS[4]], "2")
    with pytest.raises(ValueError):
        upsert_into_index(built, [DOCS[4]], "")
    assert SearchIndex.from_bytes(built).doc_count == 3


def test_an_index_of_the_first_schema_is_read_but_never_written_into():
    # What S3 holds when this version deploys: searchable at once, and replaced by the first full build.
    con = sqlite3.connect(":memory:")
    con.deserialize(build_index(DOCS, "1"))
    with con:
        con.execute("DROP TABLE texts")
        con.execute("UPDATE meta SET value = 'omniman-search/1' WHERE key = 'schema'")
    first = con.serialize()
    assert skus(SearchIndex.from_bytes(first).search("espresso")) == ["CAFE-1"]
    with pytest.raises(ValueError, match="schema"):
        upsert_into_index(first, [DOCS[0]], "2")
