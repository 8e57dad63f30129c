"""Where the search index lives between the worker that builds it and the API Lambdas that query it: one S3 object.

The index worker publishes a new object when products change; every API process keeps the last index it
loaded and asks S3 at most every few seconds whether it changed (a conditional GetObject: a 304 costs no
transfer), so a catalog change reaches search within seconds without a request ever waiting on S3 once warm.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import ClientError

from .engine import SearchIndex

__all__ = ["VERSION_METADATA_KEY", "CachedIndex", "FetchedIndex", "IndexChanged", "IndexStore", "PublishedIndex",
           "S3Client"]

log = logging.getLogger(__name__)

# S3 user metadata travels as x-amz-meta-* headers: ASCII only, and boto3 returns the keys lower-cased.
VERSION_METADATA_KEY = "index-version"
MAX_VERSION_CHARS = 256


class S3Client(Protocol):
    """The calls of a boto3 S3 client this module makes."""

    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...

    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...


class IndexChanged(Exception):
    """A conditional publish found another object than the one it was to replace: another build published first."""


class PublishedIndex(NamedTuple):
    etag: str
    version: str


class FetchedIndex(NamedTuple):
    data: bytes
    etag: str
    version: str


class IndexStore:
    def __init__(self, s3_client: S3Client, bucket: str, key: str):
        self._s3 = s3_client
        self.bucket = bucket
        self.key = key

    def publish(self, data: bytes, version: str) -> str:
        """Puts the index, over whatever is there, and returns its ETag (quoted, as S3 gives it and as IfNoneMatch
        takes it)."""
        return self._put(data, version, {})

    def replace(self, data: bytes, version: str, current: PublishedIndex | None) -> str:
        """Puts the index only over `current` (None: only if nothing is published yet), with S3's conditional
        writes (If-Match / If-None-Match); IndexChanged when another build published first. Concurrent builds
        therefore never put an older index back over a newer one."""
        if current is None:
            return self._put(data, version, {"IfNoneMatch": "*"})
        return self._put(data, version, {"IfMatch": current.etag})

    def _put(self, data: bytes, version: str, condition: dict[str, str]) -> str:
        if not version or len(version) > MAX_VERSION_CHARS or not (version.isascii() and version.isprintable()):
            raise ValueError("version must be 1-256 printable ASCII characters (it travels as an S3 metadata header)")
        try:
            response = self._s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=data,
                ContentType="application/vnd.sqlite3",
                Metadata={VERSION_METADATA_KEY: version},
                **condition,
            )
        except ClientError as e:
            # 412: not the object named; 409: another conditional put to the key was in flight at the same time.
            if condition and _code(e) in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise IndexChanged(f"s3://{self.bucket}/{self.key} changed before this publish") from None
            raise
        return str(response["ETag"])

    def head(self) -> PublishedIndex | None:
        """The published index's ETag and version (metadata only), or None when nothing is published yet."""
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as e:
            if _code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return PublishedIndex(str(response["ETag"]), str(response.get("Metadata", {}).get(VERSION_METADATA_KEY, "")))

    def fetch(self, if_none_match: str | None = None) -> FetchedIndex | None:
        """The published index, or None when there is nothing new to load: it still has ETag `if_none_match`
        (S3 answers 304), or no index has been published yet. Any other S3 failure raises."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as e:
            code = _code(e)
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 or code in ("304", "NotModified"):
                return None
            # NoSuchBucket is not "no index yet" but a misconfiguration: let it raise.
            if code == "NoSuchKey":
                log.info("no search index published yet at s3://%s/%s", self.bucket, self.key)
                return None
            raise
        body = response["Body"]
        try:
            data = body.read()
        finally:
            body.close()
        version = str(response.get("Metadata", {}).get(VERSION_METADATA_KEY, ""))
        return FetchedIndex(data, str(response["ETag"]), version)


class CachedIndex:
    """The latest published index for one process, as fresh as `check_every_seconds`.

    Requests never wait on S3 once an index is loaded: when a check is due, one thread makes it while the
    others go on with the index they have. Only a process that has no index yet waits for the first load.
    If S3 fails or publishes something unreadable, the last good index keeps serving (and the failure is logged).
    """

    def __init__(
        self,
        store: IndexStore,
        check_every_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if check_every_seconds < 0:
            raise ValueError("check_every_seconds must be >= 0")
        self._store = store
        self._every = check_every_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._etag: str | None = None
        # The ETag last answered by S3, loadable or not: an unreadable object is not downloaded again and again.
        self._seen_etag: str | None = None
        self._next_check: float | None = None

    @property
    def etag(self) -> str | None:
        """The ETag of the index being served."""
        return self._etag

    def current(self) -> SearchIndex | None:
        """The index to query, or None if none has been published (or loaded) yet."""
        # Without an index there is nothing to serve meanwhile, so only then does a request wait for the lock.
        if self._due() and self._lock.acquire(blocking=self._index is None):
            try:
                # Another thread may have checked while this one waited for the lock.
                if self._due():
                    self._check()
            finally:
                self._lock.release()
        return self._index

    def _due(self) -> bool:
        return self._next_check is None or self._clock() >= self._next_check

    def _check(self) -> None:
        started = self._clock()
        try:
            fetched = self._store.fetch(self._seen_etag)
            if fetched is not None:
                self._seen_etag = fetched.etag
                index = SearchIndex.from_bytes(fetched.data)
                self._index, self._etag = index, fetched.etag
                log.info("search index %s loaded (etag %s, %d docs)", index.version, fetched.etag, index.doc_count)
        except Exception:
            # Search keeps answering from the last good index; the next check may find S3 back or a new object.
            log.exception(
                "search index check failed for s3://%s/%s; serving %s",
                self._store.bucket,
                self._store.key,
                self._index.version if self._index else "no index",
            )
        finally:
            # Counted from the start of this check, and also after a failure: S3 down must not mean S3 hammered.
            self._next_check = started + self._every


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
