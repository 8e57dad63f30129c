"""The change feed's items: a sequence counter per channel, one entry (or void) per number, delivery positions."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..domain.feed import Change, Entry
from . import keys
from .db import ConditionFailed, Db, _raise_condition_failed


class FeedStore:
    def __init__(self, db: Db):
        self.db = db

    def allocate(self, channel: str, count: int) -> list[int]:
        """The next `count` numbers of the channel's feed: one atomic ADD, never a read first, never contended."""
        resp = self.db.client.update_item(
            TableName=self.db.table, Key=_key(keys.feed_counter(channel)), UpdateExpression="ADD #seq :n",
            ExpressionAttributeNames={"#seq": "seq"}, ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="UPDATED_NEW")
        last = int(resp["Attributes"]["seq"]["N"])
        return list(range(last - count + 1, last + 1))

    def entry_requests(self, channel: str, seqs: list[int], changes: list[Change], written_at: str,
                       written_ms: int, expires_epoch: int) -> list[dict[str, Any]]:
        """Puts for the transaction that writes the changes: each only where its number is still free (a reader
        may have voided a number whose writer took too long; the whole transaction then fails and is retried)."""
        return [{"Put": self.db.put_request({**keys.feed_entry(channel, seq), "doc": change.model_dump_json(),
                                             "written_at": written_at, "written_ms": written_ms,
                                             "ttl": expires_epoch},
                                            condition="attribute_not_exists(pk)")}
                for seq, change in zip(seqs, changes, strict=True)]

    def void(self, channel: str, seqs: list[int], written_ms: int, expires_epoch: int) -> None:
        """Marks numbers that will never hold a change; a number whose entry landed meanwhile keeps it."""
        for seq in seqs:
            try:
                self.db.put({**keys.feed_entry(channel, seq), "void": True, "written_ms": written_ms,
                             "ttl": expires_epoch}, condition="attribute_not_exists(pk)")
            except ConditionFailed:
                continue

    def read(self, channel: str, after: int, limit: int) -> list[Entry]:
        """Entries numbered above `after`, in order: one strongly consistent query of the channel's partition."""
        resp = self.db.client.query(
            TableName=self.db.table, KeyConditionExpression="pk = :pk AND sk > :after", ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": keys.feed_partition(channel)},
                                       ":after": {"S": keys.feed_sort(after)}},
            Limit=limit)
        return [_entry(item) for item in resp.get("Items", [])]

    def last(self, channel: str) -> Entry | None:
        resp = self.db.client.query(
            TableName=self.db.table, KeyConditionExpression="pk = :pk", ConsistentRead=True, ScanIndexForward=False,
            ExpressionAttributeValues={":pk": {"S": keys.feed_partition(channel)}}, Limit=1)
        items = resp.get("Items", [])
        return _entry(items[0]) if items else None

    def first_retained(self, channel: str, now_epoch: int) -> int | None:
        """The number of the oldest entry not past its retention; expired entries wait for TTL's sweep, so they are
        skipped page by page (at most two days of them)."""
        kwargs: dict[str, Any] = {
            "TableName": self.db.table, "KeyConditionExpression": "pk = :pk", "ConsistentRead": True,
            "FilterExpression": "#ttl > :now", "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {":pk": {"S": keys.feed_partition(channel)}, ":now": {"N": str(now_epoch)}},
            "ProjectionExpression": "sk", "Limit": 500}
        while True:
            resp = self.db.client.query(**kwargs)
            if resp.get("Items"):
                return int(resp["Items"][0]["sk"]["S"])
            if "LastEvaluatedKey" not in resp:
                return None
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # --- push subscriptions: how far each (subscription, order) has been delivered --------------------------------

    def claim_position(self, channel: str, subscription: str, ref: str, owner: str, now: str,
                       lease_until: str) -> dict[str, Any]:
        """Takes the delivery lease of one order for one subscription; ConditionFailed while another holds it."""
        try:
            resp = self.db.client.update_item(
                TableName=self.db.table, Key=_key(keys.delivery_position(channel, subscription, ref)),
                UpdateExpression="SET #owner = :owner, #until = :until",
                ConditionExpression="attribute_not_exists(#until) OR #until < :now",
                ExpressionAttributeNames={"#owner": "lease_owner", "#until": "lease_until"},
                ExpressionAttributeValues={":owner": {"S": owner}, ":until": {"S": lease_until}, ":now": {"S": now}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            _raise_condition_failed(exc)
            raise
        attrs = resp["Attributes"]
        return {"delivered": int(attrs.get("delivered", {"N": "0"})["N"]),
                "refused": [v["S"] for v in attrs.get("refused", {"L": []})["L"]]}

    def advance_position(self, channel: str, subscription: str, ref: str, owner: str, delivered: int,
                         refused: list[str], *, release: bool) -> None:
        """Records how far the lease holder got; `release` gives the lease up in the same write."""
        self.db.update(keys.delivery_position(channel, subscription, ref),
                       {"delivered": delivered, "refused": refused[-20:]},
                       condition="#owner = :owner", names={"#owner": "lease_owner"}, values={":owner": owner},
                       remove=("lease_owner", "lease_until") if release else ())


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


def _entry(item: dict[str, Any]) -> Entry:
    change = None if "void" in item else Change.model_validate_json(item["doc"]["S"])
    return Entry(seq=int(item["sk"]["S"]), written_epoch=int(item["written_ms"]["N"]) / 1000, change=change)
