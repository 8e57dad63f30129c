"""API keys: issue (the secret is shown once), list, revoke, and authenticate a request's key.

A key is `omk_<key_id>_<secret>`. Only SHA-256 of the whole key is stored (the secret is 256 random bits, so a
slow hash would add nothing), looked up by the key id it carries. A key given whole by an operator
(OMNIMAN_BOOTSTRAP_ADMIN_KEY) may have any shape; its id is then derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from ..domain.access import ADMIN, SCOPE_PATTERN, Principal
from ..domain.clock import now_iso
from ..domain.errors import ConfigurationError, Unauthenticated
from ..storage.api_keys import ApiKeyStore, public
from ..storage.db import Page
from .validation import parse

PREFIX = "omk"
_FORMAT = re.compile(r"^omk_([0-9a-f]{12})_[A-Za-z0-9_-]{16,}$")
LOCAL_STAGES = frozenset({"local"})
TOUCH_EVERY = timedelta(minutes=1)
MAX_PRESENTED = 512

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:/+-]{0,63}$")]
PerMinute = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class KeyBody(BaseModel):
    # Built on first use: each body serves one route, and every function imports every route's module.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name
    scopes: Annotated[list[str], Field(min_length=1, max_length=50)]
    rate_limit_per_minute: PerMinute | None = None
    commit_rate_limit_per_minute: PerMinute | None = None

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        bad = [s for s in scopes if not isinstance(s, str) or not SCOPE_PATTERN.match(s)]
        if bad:
            raise ValueError(f"unknown scopes {bad}: use admin, operator, catalog:write, price:override, "
                             "channel:<code> or channel:<code>:read")
        return sorted(set(scopes))


def key_id_of(presented: str) -> str:
    match = _FORMAT.match(presented)
    if match:
        return match.group(1)
    return hashlib.sha256(b"omniman:key-id:" + presented.encode()).hexdigest()[:12]


def _hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def issue(store: ApiKeyStore, body: Any, *, created_by: str, secret: str | None = None) -> tuple[dict[str, Any], str]:
    """Creates a key; returns its public record and the whole key, which is never shown again."""
    req = parse(KeyBody, body)
    if secret is None:
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    else:
        key_id = key_id_of(secret)
    record = {
        "key_id": key_id, "name": req.name, "scopes": req.scopes, "secret_hash": _hash(secret),
        "created_at": now_iso(), "created_by": created_by, "revoked": False,
        "rate_limit_per_minute": req.rate_limit_per_minute,
        "commit_rate_limit_per_minute": req.commit_rate_limit_per_minute,
    }
    store.create(record)
    return public(record), secret


def bootstrap_local_admin(store: ApiKeyStore, stage: str, secret: str) -> dict[str, Any]:
    """The local stack's admin key with exactly the secret the developer chose; refused on any other stage,
    where a known secret in an environment variable would be a standing credential."""
    if stage not in LOCAL_STAGES:
        raise ConfigurationError(f"OMNIMAN_BOOTSTRAP_ADMIN_KEY is for the local stack only, not stage {stage!r}; "
                                 "create a stage's first admin key with `python -m cli keys bootstrap`")
    if not 16 <= len(secret) <= MAX_PRESENTED or not secret.isascii() or not secret.isprintable() or " " in secret:
        raise ConfigurationError("OMNIMAN_BOOTSTRAP_ADMIN_KEY must be 16-512 printable ASCII characters, no spaces")
    existing = store.get(key_id_of(secret))
    if existing is not None and hmac.compare_digest(existing["secret_hash"], _hash(secret)) \
            and not existing.get("revoked"):
        return public(existing)
    record, _ = issue(store, {"name": "local-admin", "scopes": [ADMIN]}, created_by="devstack", secret=secret)
    return record


def list_keys(store: ApiKeyStore, limit: int, cursor: str | None) -> Page:
    return store.list(limit, cursor)


def get(store: ApiKeyStore, key_id: str) -> dict[str, Any]:
    return public(store.require(key_id))


class Authenticator:
    """Turns a presented key into a Principal. Key records are cached for `cache_seconds`: a request then costs
    no read for its key, and a revocation reaches every warm process within that time (at once in this one)."""

    def __init__(self, store: ApiKeyStore, cache_seconds: int):
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def authenticate(self, presented: str | None) -> tuple[Principal, dict[str, Any]]:
        if not presented:
            raise Unauthenticated("an API key is required: send Authorization: Bearer <key> or X-Api-Key: <key>")
        if len(presented) > MAX_PRESENTED or not presented.isascii():
            raise Unauthenticated("the API key is not valid", code="invalid_key")
        key_id = key_id_of(presented)
        record = self._record(key_id)
        if record is None or not hmac.compare_digest(record["secret_hash"], _hash(presented)):
            raise Unauthenticated("the API key is not valid", code="invalid_key")
        if record.get("revoked"):
            raise Unauthenticated("the API key has been revoked", code="revoked_key")
        self._touch(key_id)
        return Principal(key_id=key_id, name=record["name"], scopes=frozenset(record["scopes"])), record

    def revoke(self, key_id: str) -> dict[str, Any]:
        self.store.revoke(key_id, now_iso())
        self.forget(key_id)
        return public(self.store.require(key_id))

    def forget(self, key_id: str | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._cache.clear()
                self._touched.clear()
            else:
                self._cache.pop(key_id, None)

    def _record(self, key_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        record = self.store.get(key_id)
        if record is not None and self.cache_seconds:
            with self._lock:
                self._cache[key_id] = (now, record)
        return record

    def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key_id, -1e9) < TOUCH_EVERY.total_seconds():
                return
            self._touched[key_id] = now
        at = datetime.now(UTC)
        cutoff = (at - TOUCH_EVERY).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.store.touch(key_id, now_iso(), cutoff)


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """`Authorization: Bearer <key>` or `X-Api-Key: <key>`; anything else counts as no key."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise Unauthenticated("Authorization must be `Bearer <key>`", code="invalid_authorization")
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None
