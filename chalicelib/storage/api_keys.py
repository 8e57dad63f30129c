"""API key records: `pk=KEY#{key_id}`; listed newest first on gsi1 `KEYS`. The secret is never stored."""

from __future__ import annotations

import contextlib
from typing import Any

from ..domain.errors import Conflict, NotFound
from .db import ConditionFailed, Db, Page

PUBLIC_FIELDS = ("key_id", "name", "scopes", "created_at", "created_by", "last_used_at", "revoked", "revoked_at",
                 "rate_limit_per_minute", "commit_rate_limit_per_minute")


def _key(key_id: str) -> dict[str, str]:
    return {"pk": f"KEY#{key_id}", "sk": "KEY"}


class ApiKeyStore:
    def __init__(self, db: Db):
        self.db = db

    def create(self, record: dict[str, Any]) -> None:
        item = {**_key(record["key_id"]), "gsi1pk": "KEYS", "gsi1sk": f"{record['created_at']}#{record['key_id']}",
                **record}
        try:
            self.db.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise Conflict(f"key {record['key_id']!r} already exists", code="key_exists") from None

    def get(self, key_id: str) -> dict[str, Any] | None:
        return self.db.get(_key(key_id))

    def require(self, key_id: str) -> dict[str, Any]:
        record = self.get(key_id)
        if record is None:
            raise NotFound(f"key {key_id!r} does not exist", code="key_not_found")
        return record

    def list(self, limit: int, cursor: str | None) -> Page:
        page = self.db.query("gsi1pk", "KEYS", index="gsi1", limit=limit, cursor=cursor, newest_first=True)
        page.items = [public(i) for i in page.items]
        return page

    def revoke(self, key_id: str, now: str) -> None:
        """Idempotent: the first revocation's time stays."""
        try:
            self.db.update(_key(key_id), {"revoked": True, "revoked_at": now},
                           condition="attribute_exists(pk) AND #r = :no", names={"#r": "revoked"},
                           values={":no": False})
        except ConditionFailed as exc:
            if exc.current is None:
                raise NotFound(f"key {key_id!r} does not exist", code="key_not_found") from None

    def touch(self, key_id: str, now: str, older_than: str) -> None:
        """Records use at most once per interval per key, so reads of a busy key do not each cost a write."""
        with contextlib.suppress(ConditionFailed):
            self.db.update(_key(key_id), {"last_used_at": now},
                           condition="attribute_exists(pk) AND (attribute_not_exists(#u) OR #u < :cut)",
                           names={"#u": "last_used_at"}, values={":cut": older_than})


def public(record: dict[str, Any]) -> dict[str, Any]:
    """What any answer may show of a key: never `secret_hash`."""
    return {field: record.get(field) for field in PUBLIC_FIELDS}
