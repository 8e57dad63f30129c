"""External references (the seed's contrib.refs): unique per (channel, namespace, value), found by value, carried
from a session to its order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest


@pytest.fixture
def shop(api):
    api.channel("pos", pricing_policy="external")
    api.channel("web", pricing_policy="external")


def place(api: Any, key: str, channel: str = "pos", refs: dict[str, str] | None = None) -> str:
    resp = api.post(f"/v1/channels/{channel}/sessions", {"session_key": key, **({"refs": refs} if refs else {})})
    assert resp.status == 201, resp.json
    api.modify(channel, key, {"op": "add_line", "sku": "TEA", "qty": 1, "unit_price_q": 400})
    resp = api.commit(channel, key, f"idem-{channel}-{key}")
    assert resp.status == 201, resp.json
    return resp.json["order_ref"]


def found(api: Any, namespace: str, value: str, channel: str = "pos") -> Any:
    return api.get(f"/v1/refs/{namespace}/{value}?channel={channel}")


def event_types(api: Any, ref: str) -> list[str]:
    return [e["event_type"] for e in api.get(f"/v1/orders/{ref}/events").json["items"]]


def test_an_order_ref_is_recorded_as_an_event_and_found_by_value(api, shop):
    ref = place(api, "T1")
    resp = api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-1001"})
    assert resp.status == 200, resp.json
    assert resp.json["order"]["refs"] == {"marketplace": "MK-1001"}
    assert api.get(f"/v1/orders/{ref}").json["refs"] == {"marketplace": "MK-1001"}
    assert event_types(api, ref) == ["OrderCreated", "OrderRefSet"]
    assert api.get("/v1/changes?channel=pos").json["items"][-1]["type"] == "OrderRefSet"
    assert found(api, "marketplace", "MK-1001").json == {
        "channel": "pos", "namespace": "marketplace", "value": "MK-1001", "kind": "order", "order_ref": ref,
        "session_key": "T1", "created_at": found(api, "marketplace", "MK-1001").json["created_at"]}
    # The same value again changes nothing.
    assert api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-1001"}).status == 200
    assert event_types(api, ref) == ["OrderCreated", "OrderRefSet"]


def test_a_value_another_order_holds_is_409_naming_it_and_changes_nothing(api, shop):
    first, second = place(api, "T1"), place(api, "T2")
    api.put(f"/v1/orders/{first}/refs/marketplace", {"value": "MK-7"})
    resp = api.put(f"/v1/orders/{second}/refs/marketplace", {"value": "MK-7"})
    assert (resp.status, resp.error_code()) == (409, "ref_taken")
    assert resp.json["error"]["details"]["order_ref"] == first
    assert api.get(f"/v1/orders/{second}").json["refs"] == {}
    assert event_types(api, second) == ["OrderCreated"]
    # Unique per channel: another channel may use the same value.
    other = place(api, "W1", channel="web")
    assert api.put(f"/v1/orders/{other}/refs/marketplace", {"value": "MK-7"}).status == 200
    assert found(api, "marketplace", "MK-7", channel="web").json["order_ref"] == other


def test_replacing_and_removing_a_ref_frees_the_old_value(api, shop):
    ref = place(api, "T1")
    api.put(f"/v1/orders/{ref}/refs/pos_ticket", {"value": "A-1"})
    resp = api.put(f"/v1/orders/{ref}/refs/pos_ticket", {"value": "A-2"})
    assert resp.json["events"][0]["payload"] == {"namespace": "pos_ticket", "value": "A-2", "previous": "A-1"}
    assert found(api, "pos_ticket", "A-1").error_code() == "ref_not_found"
    assert found(api, "pos_ticket", "A-2").json["order_ref"] == ref
    resp = api.request("DELETE", f"/v1/orders/{ref}/refs/pos_ticket")
    assert resp.status == 200 and resp.json["order"]["refs"] == {}
    assert event_types(api, ref)[-1] == "OrderRefRemoved"
    assert found(api, "pos_ticket", "A-2").status == 404
    assert api.request("DELETE", f"/v1/orders/{ref}/refs/pos_ticket").error_code() == "ref_not_found"
    other = place(api, "T2")
    assert api.put(f"/v1/orders/{other}/refs/pos_ticket", {"value": "A-1"}).status == 200


def test_session_refs_change_no_rev_and_travel_to_the_order(api, shop):
    api.session("pos", "T1")
    api.modify("pos", "T1", {"op": "add_line", "sku": "TEA", "qty": 1, "unit_price_q": 400})
    resp = api.put("/v1/channels/pos/sessions/T1/refs/payment_intent", {"value": "pi_123"})
    assert resp.status == 200 and resp.json["refs"] == {"payment_intent": "pi_123"}
    assert resp.json["rev"] == 1 and resp.headers["etag"] == '"1"'
    assert found(api, "payment_intent", "pi_123").json["kind"] == "session"
    ref = api.commit("pos", "T1", "idem-T1").json["order_ref"]
    assert api.get(f"/v1/orders/{ref}").json["refs"] == {"payment_intent": "pi_123"}
    assert found(api, "payment_intent", "pi_123").json == {
        **found(api, "payment_intent", "pi_123").json, "kind": "order", "order_ref": ref, "session_key": "T1"}
    resp = api.put("/v1/channels/pos/sessions/T1/refs/other", {"value": "x"})
    assert (resp.status, resp.error_code()) == (409, "already_committed")


def test_an_import_with_the_same_ref_is_409_naming_the_existing_session_then_order(api, shop):
    api.post("/v1/channels/pos/sessions", {"session_key": "IMP-1", "refs": {"marketplace": "MK-55"}})
    resp = api.post("/v1/channels/pos/sessions", {"session_key": "IMP-2", "refs": {"marketplace": "MK-55"}})
    assert (resp.status, resp.error_code()) == (409, "ref_taken")
    assert resp.json["error"]["details"]["session_key"] == "IMP-1"
    assert api.get("/v1/channels/pos/sessions/IMP-2").status == 404
    api.modify("pos", "IMP-1", {"op": "add_line", "sku": "TEA", "qty": 1, "unit_price_q": 400})
    ref = api.commit("pos", "IMP-1", "idem-imp").json["order_ref"]
    resp = api.post("/v1/channels/pos/sessions", {"session_key": "IMP-3", "refs": {"marketplace": "MK-55"}})
    assert resp.json["error"]["details"]["order_ref"] == ref
    assert api.post("/v1/channels/pos/sessions", {"session_key": "IMP-1"}).error_code() == "session_exists"


def test_abandoning_a_session_frees_its_refs(api, shop):
    api.post("/v1/channels/pos/sessions", {"session_key": "A", "refs": {"marketplace": "MK-9"}})
    api.post("/v1/channels/pos/sessions/A/abandon", {})
    assert found(api, "marketplace", "MK-9").status == 404
    assert api.get("/v1/channels/pos/sessions/A").json["refs"] == {"marketplace": "MK-9"}  # kept as a record
    assert api.post("/v1/channels/pos/sessions", {"session_key": "B", "refs": {"marketplace": "MK-9"}}).status == 201


def test_a_session_ref_can_be_removed(api, shop):
    api.post("/v1/channels/pos/sessions", {"session_key": "A", "refs": {"marketplace": "MK-9"}})
    resp = api.request("DELETE", "/v1/channels/pos/sessions/A/refs/marketplace")
    assert resp.status == 200 and resp.json["refs"] == {}
    assert found(api, "marketplace", "MK-9").status == 404
    assert api.request("DELETE", "/v1/channels/pos/sessions/A/refs/marketplace").error_code() == "ref_not_found"


def test_racing_claims_of_one_value_leave_exactly_one_holder(api, shop):
    refs = [place(api, f"T{i}") for i in range(8)]
    barrier = threading.Barrier(8)

    def claim(ref: str) -> int:
        barrier.wait()
        return api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-HOT"}).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(claim, refs))
    assert sorted(statuses) == [200] + [409] * 7
    winner = refs[statuses.index(200)]
    assert found(api, "marketplace", "MK-HOT").json["order_ref"] == winner
    assert [r for r in refs if api.get(f"/v1/orders/{r}").json["refs"]] == [winner]


def test_racing_imports_with_one_ref_create_one_session(api, shop):
    barrier = threading.Barrier(6)

    def create(i: int) -> int:
        barrier.wait()
        body = {"session_key": f"IMP-{i}", "refs": {"marketplace": "MK-R"}}
        return api.post("/v1/channels/pos/sessions", body).status

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(create, range(6)))
    assert sorted(statuses) == [201] + [409] * 5
    assert len(api.get("/v1/channels/pos/sessions").json["items"]) == 1


@pytest.mark.parametrize("path, body, status, code", [
    ("/v1/orders/{ref}/refs/Bad NS", {"value": "x"}, 400, "invalid_namespace"),
    ("/v1/orders/{ref}/refs/marketplace", {"value": "has/slash"}, 400, "validation_error"),
    ("/v1/orders/{ref}/refs/marketplace", {"value": ""}, 400, "validation_error"),
    ("/v1/orders/{ref}/refs/marketplace", {"value": "x", "extra": 1}, 400, "validation_error"),
    ("/v1/orders/{ref}/refs/marketplace", ["x"], 400, "invalid_body"),
    ("/v1/orders/O-NOPE/refs/marketplace", {"value": "x"}, 404, "order_not_found"),
])
def test_bad_refs_are_refused(api, shop, path, body, status, code):
    ref = place(api, "T1")
    resp = api.put(path.format(ref=ref), body)
    assert (resp.status, resp.error_code()) == (status, code)
    assert api.get(f"/v1/orders/{ref}").json["refs"] == {}


def test_at_most_20_refs(api, shop):
    refs = {f"ns{i}": f"v{i}" for i in range(20)}
    assert api.post("/v1/channels/pos/sessions", {"session_key": "MANY", "refs": refs}).status == 201
    resp = api.put("/v1/channels/pos/sessions/MANY/refs/ns20", {"value": "v20"})
    assert (resp.status, resp.error_code()) == (422, "too_many_refs")
    too_many = {**refs, "ns20": "v20"}
    assert api.post("/v1/channels/pos/sessions", {"session_key": "MORE", "refs": too_many}).status == 400


def test_finding_needs_read_access_and_a_channel(api, shop):
    ref = place(api, "T1")
    api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-1"})
    reader = api.new_key("channel:pos:read")
    assert reader.get("/v1/refs/marketplace/MK-1").json["order_ref"] == ref  # its one channel
    assert reader.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-2"}).error_code() == "forbidden"
    stranger = api.new_key("channel:web")
    assert stranger.get("/v1/refs/marketplace/MK-1?channel=pos").error_code() == "forbidden"
    assert api.get("/v1/refs/marketplace/MK-1").error_code() == "channel_required"
    assert api.get("/v1/refs/marketplace/bad%20value?channel=pos").error_code() == "invalid_ref"


def test_a_ref_put_is_once_per_idempotency_key(api, shop):
    ref = place(api, "T1")
    key = {"Idempotency-Key": "ref-once"}
    first = api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-1"}, headers=key)
    again = api.put(f"/v1/orders/{ref}/refs/marketplace", {"value": "MK-1"}, headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json == first.json
    other = api.put(f"/v1/orders/{ref}/refs/pos_ticket", {"value": "MK-1"}, headers=key)
    assert (other.status, other.error_code()) == (422, "idempotency_key_reused")


def test_direct_orders_claim_refs_and_a_second_import_is_409(api):
    api.channel("market", pricing_policy="internal")
    assert api.post("/v1/stores", {"code": "s1", "name": "Store 1"}).status == 201
    assert api.post("/v1/products", {"sku": "MUG", "title": "Enamel Mug", "price_q": 900}).status == 201
    assert api.put("/v1/inventory/s1/MUG", {"on_hand": 5}).status == 200
    body = {"channel": "market", "store_code": "s1", "items": [{"sku": "MUG", "quantity": 1}],
            "refs": {"marketplace": "AMZ-1"}}
    first = api.post("/v1/orders", body, headers={"Idempotency-Key": "d-1"})
    assert first.status == 201 and first.json["refs"] == {"marketplace": "AMZ-1"}
    again = api.post("/v1/orders", body, headers={"Idempotency-Key": "d-2"})
    assert (again.status, again.error_code()) == (409, "ref_taken")
    assert again.json["error"]["details"]["order_ref"] == first.json["ref"]
    assert api.get("/v1/inventory/s1/MUG").json["available"] == "4"
    assert found(api, "marketplace", "AMZ-1", channel="market").json["order_ref"] == first.json["ref"]
