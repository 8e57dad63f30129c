"""The main table: typed reads, conditional writes, transactions and cursor-paginated index queries."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..domain.errors import InvalidInput
from . import codec
from .keys import KEY_ATTRS

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class ConditionFailed(Exception):
    """A conditional write lost: the stored item is not what the writer read."""

    def __init__(self, current: dict[str, Any] | None = None, reasons: list[dict[str, Any]] | None = None):
        super().__init__("condition failed")
        self.current = current
        self.reasons = reasons or []


class TransactionConflict(ConditionFailed):
    """Another transaction held one of the items at that moment; like a lost condition, re-read and retry.

    DynamoDB cancels a transaction (or refuses a single write) that collides with one in flight; under load
    this is routine and must never reach a client as an error.
    """


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Db:
    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    # --- single items ------------------------------------------------------

    def get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        resp = self.client.get_item(TableName=self.table, Key=codec.to_item(key), ConsistentRead=consistent)
        item = resp.get("Item")
        return strip_keys(codec.from_item(item)) if item else None

    def batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The items that exist among `keys` (any order), 100 keys per request, unprocessed keys re-asked."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: list[dict[str, Any]] = [codec.to_item(k) for k in keys[start:start + 100]]
            while pending:
                resp = self.client.batch_get_item(RequestItems={self.table: {"Keys": pending}})
                found += [strip_keys(codec.from_item(i)) for i in resp.get("Responses", {}).get(self.table, [])]
                pending = resp.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def put(self, item: dict[str, Any], condition: str | None = None,
            names: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": codec.to_item(item)}
        _add_condition(kwargs, condition, names, values)
        try:
            self.client.put_item(**kwargs, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            _raise_condition_failed(exc)
            raise

    def update(self, key: dict[str, str], set_values: dict[str, Any], condition: str | None = None,
               names: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               remove: tuple[str, ...] = ()) -> None:
        kwargs = self.update_request(key, set_values, condition, names, values, remove)
        try:
            self.client.update_item(**kwargs, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            _raise_condition_failed(exc)
            raise

    def update_request(self, key: dict[str, str], set_values: dict[str, Any], condition: str | None = None,
                       names: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                       remove: tuple[str, ...] = ()) -> dict[str, Any]:
        all_names = dict(names or {})
        all_values = dict(values or {})
        sets = []
        for i, (attr, val) in enumerate(set_values.items()):
            all_names[f"#s{i}"] = attr
            all_values[f":s{i}"] = val
            sets.append(f"#s{i} = :s{i}")
        clauses = ["SET " + ", ".join(sets)] if sets else []
        if remove:
            for i, attr in enumerate(remove):
                all_names[f"#r{i}"] = attr
            clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove))))
        expression = " ".join(clauses)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": codec.to_item(key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": all_names,
        }
        if all_values:
            kwargs["ExpressionAttributeValues"] = codec.to_item(all_values)
        if condition:
            kwargs["ConditionExpression"] = condition
        return kwargs

    def put_request(self, item: dict[str, Any], condition: str | None = None,
                    names: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": codec.to_item(item)}
        _add_condition(kwargs, condition, names, values)
        return kwargs

    def transact(self, writes: list[dict[str, Any]]) -> None:
        """Writes are {"Put": {...}} / {"Update": {...}} requests; all land or none (100 at most)."""
        for write in writes:
            for body in write.values():
                body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [
                {"code": r.get("Code"), "item": strip_keys(codec.from_item(r["Item"])) if r.get("Item") else None}
                for r in exc.response.get("CancellationReasons", [])
            ]
            codes = {r["code"] for r in reasons}
            if "ConditionalCheckFailed" in codes:
                raise ConditionFailed(reasons=reasons) from exc
            if "TransactionConflict" in codes:
                raise TransactionConflict(reasons=reasons) from exc
            raise

    # --- index queries -----------------------------------------------------

    def query(self, pk_attr: str, pk_value: str, *, index: str | None = None, limit: int = DEFAULT_LIMIT,
              cursor: str | None = None, newest_first: bool = False, sk_prefix: tuple[str, str] | None = None,
              sk_before: tuple[str, str] | None = None, filter_expression: str | None = None,
              filter_names: dict[str, str] | None = None, filter_values: dict[str, Any] | None = None) -> Page:
        scope = f"{index}|{pk_value}|{sk_prefix}|{sk_before}|{filter_expression}|{filter_values}"
        kwargs = self._query_request(pk_attr, pk_value, index, sk_prefix, sk_before, filter_names, filter_values)
        kwargs.update(Limit=limit, ScanIndexForward=not newest_first)
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, scope)
        resp = self.client.query(**kwargs)
        items = [strip_keys(codec.from_item(i)) for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, encode_cursor(last, scope) if last else None)


    def query_all(self, pk_attr: str, pk: str, *, index: str | None = None,
                  sk_before: tuple[str, str] | None = None, consistent: bool = False, limit: int | None = None,
                  page_size: int = 200) -> list[dict[str, Any]]:
        """Every page of one partition (up to `limit` items), for internal reads that need all of it.

        Key attributes are kept, so callers can tell item kinds in one partition apart.
        """
        kwargs = self._query_request(pk_attr, pk, index, None, sk_before)
        if consistent:
            kwargs["ConsistentRead"] = True
        items: list[dict[str, Any]] = []
        while True:
            size = page_size if limit is None else min(page_size, limit - len(items))
            resp = self.client.query(**kwargs, Limit=size)
            items.extend(codec.from_item(i) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = last


    def _query_request(self, pk_attr: str, pk: str, index: str | None, sk_prefix: tuple[str, str] | None,
                       sk_before: tuple[str, str] | None, filter_names: dict[str, str] | None = None,
                       filter_values: dict[str, Any] | None = None) -> dict[str, Any]:
        names = {"#pk": pk_attr, **(filter_names or {})}
        values: dict[str, Any] = {":pk": pk, **(filter_values or {})}
        condition = "#pk = :pk"
        if sk_prefix:
            names["#sk"] = sk_prefix[0]
            values[":skp"] = sk_prefix[1]
            condition += " AND begins_with(#sk, :skp)"
        elif sk_before:
            names["#sk"] = sk_before[0]
            values[":skb"] = sk_before[1]
            condition += " AND #sk < :skb"
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": codec.to_item(values),
        }
        if index:
            kwargs["IndexName"] = index
        return kwargs


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in KEY_ATTRS}


def clamp_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput("`limit` must be an integer", code="invalid_limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"`limit` must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    return limit


def _scope_tag(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def encode_cursor(last_key: dict[str, Any], scope: str) -> str:
    body = json.dumps({"k": last_key, "s": _scope_tag(scope)}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> dict[str, Any]:
    # A cursor only resumes the listing it came from: a tampered or foreign one is a 400, not a 500.
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = body["k"]
        ok = body["s"] == _scope_tag(scope) and isinstance(key, dict) and all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()
        )
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidInput("`cursor` is not valid for this listing", code="invalid_cursor")
    return key


def _add_condition(kwargs: dict[str, Any], condition: str | None, names: dict[str, str] | None,
                   values: dict[str, Any] | None) -> None:
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = codec.to_item(values)


def _raise_condition_failed(exc: ClientError) -> None:
    if exc.response["Error"]["Code"] == "TransactionConflictException":
        raise TransactionConflict() from exc
    if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
        old = exc.response.get("Item")
        raise ConditionFailed(current=strip_keys(codec.from_item(old)) if old else None) from exc
