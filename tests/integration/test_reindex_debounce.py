"""The debounced reindex on moto and S3: a burst of catalog writes costs one rebuild, a lone write is searchable
once its quiet period is over, and neither a write during a rebuild nor a concurrent rebuild loses an index."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from tests.integration.test_directives import invoke, record, sqs_event


@pytest.fixture
def quiet(hub, monkeypatch):
    """Short real quiet periods: 1 s after a lone write, 2 s after a run of writes."""
    monkeypatch.setattr(hub.settings, "reindex_quiet_seconds", 1)
    monkeypatch.setattr(hub.settings, "reindex_burst_quiet_seconds", 2)
    return hub


def reindex_directives(api) -> list[dict[str, Any]]:
    """Every catalog.reindex directive, oldest first."""
    return list(reversed(api.get("/v1/directives?topic=catalog.reindex&limit=200").json["items"]))


def deliver(api, directive: dict[str, Any]) -> dict[str, Any]:
    """Delivers a directive as SQS does: not before its delay is over."""
    due = datetime.fromisoformat(directive["created_at"]).timestamp() + directive["delay_seconds"]
    time.sleep(max(0.0, due - time.time()))
    assert invoke(api, sqs_event(record(directive["id"])), "directive_worker") == {"batchItemFailures": []}
    return api.get(f"/v1/directives/{directive['id']}").json


def found(api, q: str) -> list[str]:
    r = api.get(f"/v1/products/search?q={q}&limit=50")
    assert r.status == 200, r.json
    return sorted(p["sku"] for p in r.json["items"])


def batch(n: int) -> dict[str, Any]:
    return {"products": [{"sku": f"B{n}-{i}", "title": f"Batchware {n} {i}", "price_q": 100 + i} for i in range(10)]}


def test_an_import_in_batches_costs_one_rebuild_and_a_lone_write_waits_only_its_quiet_period(api, quiet):
    """Then a lone new product and a lone change are written into the published index, without a rebuild."""
    for n in range(5):
        assert api.post("/v1/catalog/import", batch(n)).status == 200
        if n:  # SQS delivers the previous batch's directive while this import goes on
            assert deliver(api, reindex_directives(api)[n - 1])["result"]["outcome"] == "superseded"
    last = deliver(api, reindex_directives(api)[-1])
    # The last batch's directive is not the last word: a run of writes waits for the longer quiet period.
    assert (last["result"]["outcome"], found(api, "batchware")) == ("waiting", [])
    [follow_up] = [d for d in reindex_directives(api) if d["payload"].get("write") == last["id"]]
    assert follow_up["delay_seconds"] in (1, 2) and follow_up["result"] is None  # what is left of the 2 s
    assert deliver(api, follow_up)["result"] == {"outcome": "rebuilt", "rebuilt": 1, "version": 5}
    assert len(found(api, "batchware")) == 50

    time.sleep(2.5)  # the run is over: the next write is a lone one
    assert api.post("/v1/products", {"sku": "LONE-1", "title": "Solitary Teapot", "price_q": 900}).status == 201
    lone = reindex_directives(api)[-1]
    assert (lone["payload"]["reason"], lone["delay_seconds"]) == ("product.created", 1)
    # All the index lacks is this new product: it is added to the published index, the catalog is not read again.
    assert deliver(api, lone)["result"] == {"outcome": "updated", "written": 1, "rebuilt": 0, "version": 6}
    assert found(api, "solitary") == ["LONE-1"]
    assert len(found(api, "batchware")) == 50

    time.sleep(2.5)
    assert api.put("/v1/products/LONE-1", {"title": "Solitary Kettle", "price_q": 900},
                   headers={"If-Match": '"1"'}).status == 200
    changed = reindex_directives(api)[-1]
    assert changed["payload"] == {"reason": "product.replaced", "sku": "LONE-1", "skus": ["LONE-1"]}
    assert deliver(api, changed)["result"] == {"outcome": "updated", "written": 1, "rebuilt": 0, "version": 7}
    assert (found(api, "teapot"), found(api, "kettle")) == ([], ["LONE-1"])
    assert len(found(api, "batchware")) == 50
    assert sum(d["result"]["rebuilt"] for d in reindex_directives(api)) == 1


def test_a_directive_that_runs_early_waits_and_its_redelivery_schedules_one_follow_up(api, quiet):
    assert api.post("/v1/products", {"sku": "EARLY-1", "title": "Early Kettle", "price_q": 900}).status == 201
    [directive] = reindex_directives(api)
    for _ in range(2):  # delivered before its delay (as a clock ahead would), twice
        assert invoke(api, sqs_event(record(directive["id"])), "directive_worker") == {"batchItemFailures": []}
        quiet.db.update({"pk": f"DIR#{directive['id']}", "sk": "DIRECTIVE"}, {"status": "queued"})
    ran = api.get(f"/v1/directives/{directive['id']}").json
    assert ran["result"]["outcome"] == "waiting"
    [follow_up] = reindex_directives(api)[1:]
    assert follow_up["payload"] == {"reason": "catalog.quiet_check", "write": directive["id"], "skus": ["EARLY-1"]}
    assert deliver(api, follow_up)["result"]["outcome"] == "rebuilt"  # nothing was published to write into
    assert found(api, "kettle") == ["EARLY-1"]


def test_the_catalog_item_keeps_the_latest_write_the_one_before_and_the_first_unindexed(api, hub):
    assert api.post("/v1/products", {"sku": "M-1", "title": "One", "price_q": 1}).status == 201
    first = hub.inventory.store.catalog_writes()
    assert first.previous_write_at is not None and first.previous_write_at.year == 1970  # no write before it
    assert api.post("/v1/products", {"sku": "M-2", "title": "Two", "price_q": 1}).status == 201
    second = hub.inventory.store.catalog_writes()
    assert (second.version, second.previous_write_at, second.dirty_since) == (2, first.updated_at, first.updated_at)
    assert second.last_write == reindex_directives(api)[-1]["id"]
    assert deliver(api, reindex_directives(api)[-1])["result"]["outcome"] == "rebuilt"
    assert hub.inventory.store.catalog_writes().dirty_since is None  # everything is in the index


class S3Puts:
    """Runs `during` inside the first index upload (a botocore hook on the S3 client: the code under test runs
    unchanged), on the uploading thread, before the object is written."""

    def __init__(self, hub, during) -> None:
        from chalicelib.storage.aws import client

        self.events = client("s3", hub.settings.aws_endpoint_url).meta.events
        self.during = during
        self.done = False
        self.events.register("before-call.s3.PutObject", self, unique_id="reindex-test-puts")

    def __call__(self, **_: Any) -> None:
        if not self.done:
            self.done = True
            self.during()

    def remove(self) -> None:
        self.events.unregister("before-call.s3.PutObject", unique_id="reindex-test-puts")


def test_a_write_that_lands_during_a_rebuild_is_indexed_by_the_next_one(api, hub):
    assert api.post("/v1/products", {"sku": "BEFORE-1", "title": "Before Lamp", "price_q": 10}).status == 201
    [before] = reindex_directives(api)

    def write_meanwhile() -> None:
        # Another writer (a thread of its own, as another Lambda would be) lands a product mid-rebuild.
        writer = threading.Thread(target=lambda: api.post("/v1/products", {"sku": "DURING-1",
                                                                             "title": "During Lamp", "price_q": 10}))
        writer.start()
        writer.join()

    hook = S3Puts(hub, write_meanwhile)
    try:
        ran = deliver(api, before)
    finally:
        hook.remove()
    assert ran["result"] == {"outcome": "rebuilt", "rebuilt": 1, "version": 1}  # built from what it read first
    assert found(api, "lamp") == ["BEFORE-1"]
    assert hub.inventory.store.catalog_writes().dirty_since is not None  # the index knows it is behind
    during = reindex_directives(api)[-1]
    assert deliver(api, during)["result"] == {"outcome": "updated", "written": 1, "rebuilt": 0, "version": 2}
    assert found(api, "lamp") == ["BEFORE-1", "DURING-1"]


def test_a_slow_rebuild_never_publishes_its_older_index_over_a_newer_one(api, hub):
    from chalicelib.domain.models import Directive
    from chalicelib.services import search

    assert api.post("/v1/products", {"sku": "OLD-1", "title": "Old Chair", "price_q": 10}).status == 201
    slow_thread: list[threading.Thread] = []
    newer_published = threading.Event()

    def newer_build_first() -> None:
        # The slow build holds its upload until a write and a newer build have published meanwhile.
        def newer() -> None:
            assert api.post("/v1/products", {"sku": "NEW-1", "title": "New Chair", "price_q": 10}).status == 201
            assert search.reindex(hub)["outcome"] == "rebuilt"
            newer_published.set()

        if threading.current_thread() is slow_thread[0]:
            threading.Thread(target=newer).start()
            assert newer_published.wait(30)

    results: list[dict[str, Any]] = []
    directive = Directive.model_validate(reindex_directives(api)[0])
    slow_thread.append(threading.Thread(target=lambda: results.append(search.reindex(hub, directive))))
    hook = S3Puts(hub, newer_build_first)
    try:
        slow_thread[0].start()
        slow_thread[0].join(60)
    finally:
        hook.remove()
    assert results == [{"outcome": "current", "rebuilt": 0, "version": 1}]  # it built, saw a newer one, stood aside
    assert found(api, "chair") == ["NEW-1", "OLD-1"]
    assert search.reindex(hub)["outcome"] == "current"
