"""The search index in S3 (moto): publish, conditional fetch, and the per-process cache that reloads on a new ETag.

Time is an injected clock, never a sleep; S3 failures are injected with botocore's own event hooks, so the
code under test runs unchanged against the emulated S3.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from chalicelib.search import (
    CachedIndex,
    FetchedIndex,
    IndexChanged,
    IndexStore,
    PublishedIndex,
    SearchDoc,
    SearchIndex,
    build_index,
)

BUCKET = "omniman-search-test"
KEY = "search/index.sqlite"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class S3Calls:
    """Counts GetObject calls and, when told to, fails or holds them, through the client's own event system."""

    def __init__(self, client: Any):
        self.gets = 0
        self.fail: Exception | None = None
        self.hold: threading.Event | None = None
        self.entered = threading.Event()
        client.meta.events.register("before-call.s3.GetObject", self._before)

    def _before(self, **_: Any) -> None:
        self.gets += 1
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(timeout=30)
        if self.fail is not None:
            raise self.fail


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def store(s3: Any) -> IndexStore:
    return IndexStore(s3, BUCKET, KEY)


def index_bytes(*titles: str, version: str = "v") -> bytes:
    docs = [SearchDoc(f"SKU-{i}", t, f"About {t}.", "cat", "Category", 100 * (i + 1)) for i, t in enumerate(titles)]
    return build_index(docs, version)


def test_publish_then_fetch_returns_the_bytes_etag_and_version(store: IndexStore) -> None:
    data = index_bytes("Café Espresso Beans", version="v1")
    etag = store.publish(data, "v1")
    assert etag.startswith('"')
    assert etag.endswith('"')
    fetched = store.fetch(None)
    assert fetched == FetchedIndex(data, etag, "v1")
    data_, _etag, version_ = fetched  # it is the (bytes, etag, version) tuple callers unpack
    assert SearchIndex.from_bytes(data_).version == version_ == "v1"


def test_fetch_with_the_current_etag_is_unchanged(store: IndexStore) -> None:
    etag = store.publish(index_bytes("A Thing"), "v1")
    assert store.fetch(etag) is None
    # a different ETag than the object's: the object comes back
    fetched = store.fetch('"0123456789abcdef0123456789abcdef"')
    assert fetched is not None
    assert fetched.etag == etag


def test_a_new_publish_changes_the_etag(store: IndexStore) -> None:
    first = store.publish(index_bytes("A Thing", version="v1"), "v1")
    second = store.publish(index_bytes("A Thing", "Another Thing", version="v2"), "v2")
    assert first != second
    fetched = store.fetch(first)
    assert fetched is not None
    assert (fetched.etag, fetched.version) == (second, "v2")


def test_republishing_identical_bytes_keeps_the_etag(store: IndexStore) -> None:
    data = index_bytes("A Thing")
    assert store.publish(data, "v1") == store.publish(index_bytes("A Thing"), "v1")


def test_no_index_published_yet_is_not_an_error(store: IndexStore) -> None:
    assert store.fetch(None) is None
    assert store.fetch('"whatever"') is None


def test_replace_puts_only_over_the_object_it_names(store: IndexStore) -> None:
    assert store.head() is None
    first_etag = store.replace(index_bytes("A Thing", version="1"), "1", None)  # nothing there yet: fine
    first = store.head()
    assert first == PublishedIndex(first_etag, "1")
    with pytest.raises(IndexChanged):
        store.replace(index_bytes("B Thing", version="1"), "1", None)  # something is there now
    second_etag = store.replace(index_bytes("A Thing", "B Thing", version="2"), "2", first)
    with pytest.raises(IndexChanged):
        store.replace(index_bytes("Stale", version="3"), "3", first)  # built against what is gone
    assert store.head() == PublishedIndex(second_etag, "2")


def test_a_missing_bucket_is_an_error(s3: Any) -> None:
    with pytest.raises(ClientError):
        IndexStore(s3, "no-such-bucket-here", KEY).fetch(None)


def test_publish_refuses_a_version_s3_metadata_cannot_carry(store: IndexStore) -> None:
    for version in ("", "v\u20131", "x" * 257, "line\nbreak"):
        with pytest.raises(ValueError):
            store.publish(b"data", version)


def test_cached_index_loads_the_published_index(store: IndexStore) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    cache = CachedIndex(store, check_every_seconds=5, clock=Clock())
    index = cache.current()
    assert index is not None
    assert index.version == "v1"
    assert [h.sku for h in index.search("runn")] == ["SKU-0"]
    assert cache.etag == store.fetch(None).etag  # type: ignore[union-attr]


def test_cached_index_checks_s3_at_most_every_interval(s3: Any, store: IndexStore) -> None:
    store.publish(index_bytes("Running Shoes"), "v1")
    calls = S3Calls(s3)
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    first = cache.current()
    for _ in range(50):
        assert cache.current() is first
    assert calls.gets == 1
    clock.now += 4.999
    assert cache.current() is first
    assert calls.gets == 1
    clock.now += 0.001
    assert cache.current() is first  # unchanged (304): the same object, nothing reloaded
    assert calls.gets == 2
    clock.now += 5
    cache.current()
    cache.current()
    assert calls.gets == 3


def test_cached_index_reloads_when_the_etag_changes(store: IndexStore) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    v1 = cache.current()
    assert v1 is not None
    assert v1.version == "v1"
    new_etag = store.publish(index_bytes("Running Shoes", "Hiking Boots", version="v2"), "v2")
    assert cache.current() is v1  # not before the interval
    clock.now += 5
    v2 = cache.current()
    assert v2 is not None
    assert v2.version == "v2"
    assert cache.etag == new_etag
    assert [h.sku for h in v2.search("hiking")] == ["SKU-1"]
    # the old index still answers whoever holds it
    assert v1.search("hiking") == []


def test_cached_index_without_a_published_index_serves_none_then_picks_it_up(store: IndexStore) -> None:
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    assert cache.current() is None
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    assert cache.current() is None  # checked a moment ago
    clock.now += 5
    index = cache.current()
    assert index is not None
    assert index.version == "v1"


def test_s3_failure_keeps_serving_the_last_good_index(
    s3: Any, store: IndexStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    calls = S3Calls(s3)
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    v1 = cache.current()
    assert v1 is not None
    store.publish(index_bytes("Hiking Boots", version="v2"), "v2")
    calls.fail = EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="chalicelib.search.index_store"):
        assert cache.current() is v1
    assert "search index check failed" in caplog.text
    # a failed check still waits the interval: S3 being down must not mean S3 hammered
    gets = calls.gets
    assert cache.current() is v1
    assert calls.gets == gets
    calls.fail = None
    clock.now += 5
    v2 = cache.current()
    assert v2 is not None
    assert v2.version == "v2"


def test_an_unreadable_object_keeps_the_last_good_index_and_is_not_downloaded_again(
    s3: Any, store: IndexStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    v1 = cache.current()
    good_etag = cache.etag
    store.publish(b"this is not an sqlite database" * 50, "broken")
    calls = S3Calls(s3)
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="chalicelib.search.index_store"):
        assert cache.current() is v1
    assert "search index check failed" in caplog.text
    assert cache.etag == good_etag
    clock.now += 5
    assert cache.current() is v1
    assert calls.gets == 2  # the second check was a 304 for the broken object, not a second download
    store.publish(index_bytes("Hiking Boots", version="v3"), "v3")
    clock.now += 5
    v3 = cache.current()
    assert v3 is not None
    assert v3.version == "v3"


def test_one_thread_checks_while_the_others_keep_the_current_index(s3: Any, store: IndexStore) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    calls = S3Calls(s3)
    clock = Clock()
    cache = CachedIndex(store, check_every_seconds=5, clock=clock)
    v1 = cache.current()
    assert v1 is not None
    store.publish(index_bytes("Hiking Boots", version="v2"), "v2")
    clock.now += 5

    calls.entered.clear()
    calls.hold = threading.Event()
    checker_result: list[SearchIndex | None] = []
    checker = threading.Thread(target=lambda: checker_result.append(cache.current()))
    checker.start()
    assert calls.entered.wait(timeout=30)  # the checker is inside GetObject, holding the check
    gets = calls.gets
    for _ in range(20):
        assert cache.current() is v1  # nobody waits for S3, nobody checks twice
    assert calls.gets == gets
    calls.hold.set()
    checker.join(timeout=30)
    assert checker_result[0] is not None
    assert checker_result[0].version == "v2"
    assert cache.current() is checker_result[0]


def test_without_any_index_concurrent_first_requests_wait_for_one_load(s3: Any, store: IndexStore) -> None:
    store.publish(index_bytes("Running Shoes", version="v1"), "v1")
    calls = S3Calls(s3)
    cache = CachedIndex(store, check_every_seconds=5, clock=Clock())
    calls.hold = threading.Event()
    results: list[SearchIndex | None] = []
    lock = threading.Lock()

    def first_request() -> None:
        index = cache.current()
        with lock:
            results.append(index)

    threads = [threading.Thread(target=first_request) for _ in range(4)]
    for t in threads:
        t.start()
    assert calls.entered.wait(timeout=30)
    calls.hold.set()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4
    assert all(r is not None and r is results[0] for r in results)
    assert calls.gets == 1
