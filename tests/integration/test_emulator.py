"""The emulator's fixes (devstack/atomic_moto.py) keep DynamoDB's behaviour: transactions stay all-or-nothing while
backing up only what they name (a cancelled one leaves every item, every index view and moto's own partitions
exactly as they were), and items written out as they are read back the same, every attribute type included."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from tests.conftest import STAGE

MAIN = f"omniman-{STAGE}-main"
IDEMPOTENCY = f"omniman-{STAGE}-idempotency"
INDEXES = ("gsi1", "gsi2", "gsi3", "gsi4", "gsi5", "outbox")


@pytest.fixture
def ddb(aws):
    client = boto3.client("dynamodb")
    client.put_item(TableName=MAIN, Item=_item("A", "1", n="1", gsi1pk="G", gsi1sk="a"))
    client.put_item(TableName=MAIN, Item=_item("A", "2", n="2", gsi1pk="G", gsi1sk="b"))
    client.put_item(TableName=MAIN, Item=_item("B", "1", n="3", gsi2pk="H", gsi2sk="b"))
    client.put_item(TableName=IDEMPOTENCY, Item={"id": {"S": "kept"}, "v": {"S": "old"}})
    return client


def _item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: ({"N": v} if k == "n" else {"S": v}) for k, v in attrs.items()}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def state(client: Any) -> dict[str, Any]:
    """Everything a reader can see (both tables, every index partition used here) and moto's partitions."""
    tables = {name: sorted(client.scan(TableName=name, ConsistentRead=True)["Items"], key=repr)
              for name in (MAIN, IDEMPOTENCY)}
    views = {(index, pk): client.query(TableName=MAIN, IndexName=index, KeyConditionExpression="#p = :p",
                                       ExpressionAttributeNames={"#p": f"{index}pk" if index != "outbox" else
                                                                 "outbox_pk"},
                                       ExpressionAttributeValues={":p": {"S": pk}})["Items"]
             for index in INDEXES for pk in ("G", "H", "NEW")}
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    partitions = {name: sorted(str(k.value) for k in backend.tables[name].items) for name in (MAIN, IDEMPOTENCY)}
    return copy.deepcopy({"tables": tables, "views": views, "partitions": partitions})


def cancelled(client: Any, items: list[dict[str, Any]]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=items)
    return caught.value


def test_a_cancelled_transaction_that_creates_updates_and_deletes_leaves_everything_as_it_was(ddb):
    before = state(ddb)
    error = cancelled(ddb, [
        {"Put": {"TableName": MAIN, "Item": _item("NEWPART", "x", gsi1pk="NEW", gsi1sk="x")}},  # a new partition
        {"Put": {"TableName": MAIN, "Item": _item("A", "3", gsi1pk="G", gsi1sk="c")}},  # new item, old partition
        {"Put": {"TableName": MAIN, "Item": _item("A", "2", n="20", gsi2pk="H", gsi2sk="a")}},  # moves indexes
        {"Update": {"TableName": MAIN, "Key": _key("A", "1"), "UpdateExpression": "SET n = n + :one REMOVE gsi1pk",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Update": {"TableName": MAIN, "Key": _key("CREATED", "by-update"), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "x"}}}},
        {"Delete": {"TableName": MAIN, "Key": _key("B", "1")}},
        {"Put": {"TableName": IDEMPOTENCY, "Item": {"id": {"S": "new"}}}},
        {"Update": {"TableName": IDEMPOTENCY, "Key": {"id": {"S": "kept"}}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "new"}}}},
        {"ConditionCheck": {"TableName": MAIN, "Key": _key("NOPE", "1"),
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert error.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error.response["CancellationReasons"]] == ["None"] * 8 + ["ConditionalCheckFailed"]
    assert state(ddb) == before


def test_a_transaction_refused_after_some_of_its_writes_ran_leaves_everything_as_it_was(ddb):
    # moto finds an item named twice only when it reaches the second mention, after applying the writes before it.
    before = state(ddb)
    error = cancelled(ddb, [
        {"Put": {"TableName": MAIN, "Item": _item("NEWPART", "x")}},
        {"Delete": {"TableName": MAIN, "Key": _key("A", "1")}},
        {"Update": {"TableName": IDEMPOTENCY, "Key": {"id": {"S": "kept"}}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "new"}}}},
        {"Put": {"TableName": MAIN, "Item": _item("NEWPART", "x", v="again")}},
    ])
    assert error.response["Error"]["Code"] == "ValidationException"
    assert state(ddb) == before


def test_a_transaction_that_passes_writes_everything(ddb):
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": MAIN, "Item": _item("NEWPART", "x", gsi1pk="NEW", gsi1sk="x")}},
        {"Update": {"TableName": MAIN, "Key": _key("A", "1"), "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}, "ConditionExpression": "n = :one"}},
        {"Delete": {"TableName": MAIN, "Key": _key("B", "1")}},
        {"ConditionCheck": {"TableName": MAIN, "Key": _key("A", "2"), "ConditionExpression": "attribute_exists(pk)"}},
    ])
    seen = state(ddb)
    assert [i["pk"]["S"] for i in seen["views"][("gsi1", "NEW")]] == ["NEWPART"]
    assert seen["views"][("gsi2", "H")] == []
    assert ddb.get_item(TableName=MAIN, Key=_key("A", "1"))["Item"]["n"] == {"N": "2"}


def test_one_item_named_by_many_cancelled_transactions_keeps_its_last_committed_value(ddb):
    for n in range(5):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": MAIN, "Key": _key("A", "1"), "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        cancelled(ddb, [
            {"Update": {"TableName": MAIN, "Key": _key("A", "1"), "UpdateExpression": "SET n = n + :big",
                        "ExpressionAttributeValues": {":big": {"N": "100"}}}},
            {"ConditionCheck": {"TableName": MAIN, "Key": _key("A", "2"),
                                "ConditionExpression": "attribute_not_exists(pk)"}}])
        assert ddb.get_item(TableName=MAIN, Key=_key("A", "1"))["Item"]["n"] == {"N": str(n + 2)}


# --- answers: every attribute type reads back as written ----------------------------------------------------------

EVERY_TYPE = {
    "pk": {"S": "TYPES"}, "sk": {"S": "1"}, "gsi1pk": {"S": "TYPES"}, "gsi1sk": {"S": "1"},
    "s": {"S": "café ☕ \"quoted\""}, "n": {"N": "-12.50"}, "b": {"B": b"\x00\xffbytes"},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01", b"\x02"]},
    "t": {"BOOL": True}, "f": {"BOOL": False}, "none": {"NULL": True},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"B": b"\x03"}}}, {"L": []}]},
    "m": {"M": {"a": {"S": "b"}, "empty": {"M": {}}, "list": {"L": [{"BOOL": False}]}}},
}


def _same(item: dict[str, Any]) -> dict[str, Any]:
    """Sets come back in any order."""
    return {k: ({t: sorted(v)} if t in ("SS", "NS", "BS") else {t: v}) for k, a in item.items() for t, v in a.items()}


def new_n(ddb: Any, key: dict[str, Any]) -> dict[str, str]:
    return ddb.get_item(TableName=MAIN, Key=key)["Item"]["n"]


def test_every_attribute_type_reads_back_as_written_from_every_read(ddb):
    ddb.put_item(TableName=MAIN, Item=EVERY_TYPE)
    key = {"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]}
    expected = _same(EVERY_TYPE)
    assert _same(ddb.get_item(TableName=MAIN, Key=key, ConsistentRead=True)["Item"]) == expected
    [queried] = ddb.query(TableName=MAIN, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": EVERY_TYPE["pk"]})["Items"]
    [indexed] = ddb.query(TableName=MAIN, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                          ExpressionAttributeValues={":p": EVERY_TYPE["pk"]})["Items"]
    [batched] = ddb.batch_get_item(RequestItems={MAIN: {"Keys": [key]}})["Responses"][MAIN]
    assert _same(queried) == _same(indexed) == _same(batched) == expected
    projected = ddb.get_item(TableName=MAIN, Key=key, ProjectionExpression="b, bs, m")["Item"]
    assert _same(projected) == {k: expected[k] for k in ("b", "bs", "m")}
    new = ddb.update_item(TableName=MAIN, Key=key, UpdateExpression="SET n = n + :one",
                          ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")["Attributes"]
    assert Decimal(new.pop("n")["N"]) == Decimal("-11.5")
    assert _same(new) == {k: v for k, v in expected.items() if k != "n"}
    error = cancelled(ddb, [{"ConditionCheck": {"TableName": MAIN, "Key": key, "ConditionExpression": "n = :zero",
                                                "ExpressionAttributeValues": {":zero": {"N": "0"}},
                                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
    assert _same(error.response["CancellationReasons"][0]["Item"]) == {**expected, "n": new_n(ddb, key)}


# --- queries: a partition's answer, page by page, as DynamoDB orders it -------------------------------------------

def pages(client: Any, **query: Any) -> list[tuple[str, str]]:
    """Every key the query answers, three a page, in the order the pages give them."""
    out: list[tuple[str, str]] = []
    start = None
    while True:
        resp = client.query(TableName=MAIN, Limit=3, **query, **({"ExclusiveStartKey": start} if start else {}))
        out += [(i["pk"]["S"], i["sk"]["S"]) for i in resp["Items"]]
        start = resp.get("LastEvaluatedKey")
        if not start:
            return out


def test_queries_answer_their_partition_in_key_order_page_by_page(aws):
    client = boto3.client("dynamodb")
    # Written out of order, across partitions, with index keys that sort otherwise than the table keys.
    for n in (7, 3, 9, 1, 5, 8, 2, 6, 4, 0):
        for pk in ("P#b", "P#a", "P#c"):
            client.put_item(TableName=MAIN, Item=_item(pk, f"s{n}", gsi1pk=f"G{pk[-1]}", gsi1sk=f"{9 - n}"))
    every = sorted((i["pk"]["S"], i["sk"]["S"], i["gsi1sk"]["S"])
                   for i in client.scan(TableName=MAIN, ConsistentRead=True)["Items"])
    a = [(pk, sk) for pk, sk, _ in every if pk == "P#a"]
    by_index = [(pk, sk) for pk, sk, g in sorted(every, key=lambda e: (e[2], e[0], e[1])) if pk == "P#b"]
    key = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "P#a"}}}
    assert pages(client, **key) == a
    assert pages(client, ScanIndexForward=False, **key) == a[::-1]
    assert pages(client, KeyConditionExpression="pk = :p AND sk BETWEEN :x AND :y",
                 ExpressionAttributeValues={":p": {"S": "P#a"}, ":x": {"S": "s2"}, ":y": {"S": "s6"}}) == [
        ("P#a", f"s{n}") for n in range(2, 7)]
    index = {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :g",
             "ExpressionAttributeValues": {":g": {"S": "Gb"}}}
    assert pages(client, **index) == by_index
    assert pages(client, ScanIndexForward=False, **index) == by_index[::-1]
    assert pages(client, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#none"}}) == []
    # A scan still walks the table in key order.
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in client.scan(TableName=MAIN)["Items"]] == [(p, s) for p, s, _ in every]
