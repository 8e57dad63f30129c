"""The main table: typed reads, conditional writes, transactions and cursor-paginated index queries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..domain.errors import ConfigurationError, InvalidInput
from . import codec
from .keys import KEY_ATTRS

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# A signed key of every index this table has fits in a few hundred characters; longer is never a real cursor.
MAX_CURSOR_CHARS = 2048
_CURSOR = re.compile("[A-Za-z0-9_-]+")
_MAC_BYTES = hashlib.sha256().digest_size


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
    def __init__(self, client: Any, table: str, cursor_key: Callable[[], bytes] | None = None):
        self.client = client
        self.table = table
        # Signs list cursors (see encode_cursor); read lazily, it may come from a secret store.
        self.cursor_key = cursor_key

    # --- single items ------------------------------------------------------

    def get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        resp = self.client.get_item(TableName=self.table, Key=codec.to_item(key), ConsistentRead=consistent)
        item = resp.get("Item")
        return strip_keys(codec.from_item(item)) if item else None

    def batch_get(self, keys: list[dict[str, str]], consistent: bool = False) -> list[dict[str, Any]]:
        """The items that exist among `keys` (any order), 100 keys per request, unprocessed keys re-asked.

        `consistent` makes every read strongly consistent (as `get`), at the same price per item: several items
        a write depends on can then be read in one round trip without any of them being stale.
        """
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: list[dict[str, Any]] = [codec.to_item(k) for k in keys[start:start + 100]]
            while pending:
                request = {"Keys": pending, "ConsistentRead": consistent}
                resp = self.client.batch_get_item(RequestItems={self.table: request})
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
        # Everything that makes this listing this listing: a cursor resumes it and nothing else.
        scope = (f"{self.table}|{index}|{pk_attr}|{pk_value}|{newest_first}|{sk_prefix}|{sk_before}|"
                 f"{filter_expression}|{filter_names}|{filter_values}")
        kwargs = self._query_request(pk_attr, pk_value, index, sk_prefix, sk_before, filter_names, filter_values)
        kwargs.update(Limit=limit, ScanIndexForward=not newest_first)
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, scope, self._cursor_key())
        resp = self.client.query(**kwargs)
        items = [strip_keys(codec.from_item(i)) for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, encode_cursor(last, scope, self._cursor_key()) if last else None)

    def _cursor_key(self) -> bytes:
        key = self.cursor_key() if self.cursor_key is not None else b""
        if not key:
            raise ConfigurationError("list cursors cannot be signed: no cursor key is configured")
        return key


    def query_all(self, pk_attr: str, pk: str, *, index: str | None = None,
                  sk_before: tuple[str, str] | None = None, sk_prefix: tuple[str, str] | None = None,
                  consistent: bool = False, limit: int | None = None, page_size: int = 200) -> list[dict[str, Any]]:
        """Every page of one partition (up to `limit` items), for internal reads that need all of it.

        Key attributes are kept, so callers can tell item kinds in one partition apart.
        """
        kwargs = self._query_request(pk_attr, pk, index, sk_prefix, sk_before)
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
    # A few ASCII digits only: int() would also take " 5", "1_0" or Arabic-Indic digits, and parse 5,000 of them.
    if len(raw) > len(str(MAX_LIMIT)) or not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(f"`limit` must be an integer between 1 and {MAX_LIMIT}", code="invalid_limit")
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"`limit` must be an integer between 1 and {MAX_LIMIT}", code="invalid_limit")
    return limit


def encode_cursor(last_key: dict[str, Any], scope: str, key: bytes) -> str:
    """An opaque, URL-safe token: the HMAC-SHA256 of (scope, LastEvaluatedKey) followed by the key itself.

    Signing makes any edit detectable: an unsigned key could be pointed at another channel's partition.
    """
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(_cursor_mac(key, scope, payload) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, key: bytes) -> dict[str, Any]:
    """The LastEvaluatedKey of a cursor this listing issued; any other string is a 400, never a 500."""
    last_key = _verified_key(cursor, scope, key)
    if last_key is None:
        raise InvalidInput("`cursor` is not valid for this listing", code="invalid_cursor")
    return last_key


def _verified_key(cursor: str, scope: str, key: bytes) -> dict[str, Any] | None:
    if len(cursor) > MAX_CURSOR_CHARS or not _CURSOR.fullmatch(cursor):
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:  # binascii.Error: a length no base64 text has
        return None
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not hmac.compare_digest(mac, _cursor_mac(key, scope, payload)):
        return None
    # Signed by us, so well formed; checked anyway so that a leaked key cannot turn into a 500 either.
    last_key = json.loads(payload)
    if isinstance(last_key, dict) and all(_is_string_attr(v) for v in last_key.values()):
        return last_key
    return None


def _cursor_mac(key: bytes, scope: str, payload: bytes) -> bytes:
    # The scope enters as its fixed-length digest, so no (scope, payload) pair can pose as another.
    scope_digest = hashlib.sha256(scope.encode("utf-8", "surrogatepass")).digest()
    return hmac.new(key, b"omniman.cursor.v1" + scope_digest + payload, hashlib.sha256).digest()


def _is_string_attr(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)


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
