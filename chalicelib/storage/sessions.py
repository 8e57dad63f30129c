from __future__ import annotations

from typing import Any

from ..domain.errors import Conflict, NotFound, Unprocessable
from ..domain.models import Session
from . import keys
from .db import ConditionFailed, Db, Page

# DynamoDB's item limit is 400 KB, and the order a session becomes carries its lines twice (the order's
# items and its snapshot): a session capped here always fits as an order.
MAX_DOC_BYTES = 180_000


class SessionStore:
    def __init__(self, db: Db):
        self.db = db

    def get(self, channel_code: str, session_key: str) -> Session:
        return self.get_with_seq(channel_code, session_key)[0]

    def create(self, session: Session) -> None:
        try:
            self.db.put(item(session, write_seq=0), condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise self.exists_error(session) from None

    def create_request(self, session: Session) -> dict[str, Any]:
        return {"Put": self.db.put_request(item(session, write_seq=0), condition="attribute_not_exists(pk)")}

    @staticmethod
    def exists_error(session: Session) -> Conflict:
        return Conflict(f"session {session.session_key!r} already exists", code="session_exists")

    def save(self, session: Session, read: Session, write_seq: int) -> None:
        """Every session write: lands only if the session is still open and untouched since `read` was read.

        Raises ConditionFailed carrying the stored item when another writer got there first.
        """
        self.db.put(**self._guarded(session, read, write_seq))

    def save_request(self, session: Session, read: Session, write_seq: int) -> dict[str, Any]:
        return {"Put": self.db.put_request(**self._guarded(session, read, write_seq))}

    @staticmethod
    def _guarded(session: Session, read: Session, write_seq: int) -> dict[str, Any]:
        return {
            "item": item(session, write_seq=write_seq + 1),
            "condition": "#rev = :rev AND #state = :open AND #seq = :seq",
            "names": {"#rev": "rev", "#state": "state", "#seq": "write_seq"},
            "values": {":rev": read.rev, ":open": "open", ":seq": write_seq},
        }

    def get_with_seq(self, channel_code: str, session_key: str) -> tuple[Session, int]:
        stored = self.db.get(keys.session(channel_code, session_key))
        if stored is None:
            raise NotFound(
                f"session {session_key!r} does not exist in channel {channel_code!r}", code="session_not_found"
            )
        return from_stored(stored)

    def list(self, channel_code: str, state: str | None, limit: int, cursor: str | None) -> Page:
        if state:
            page = self.db.query("gsi2pk", f"SES#{channel_code}#ST#{state}", index="gsi2",
                                 limit=limit, cursor=cursor, newest_first=True)
        else:
            page = self.db.query("gsi1pk", f"SES#{channel_code}", index="gsi1",
                                 limit=limit, cursor=cursor, newest_first=True)
        page.items = [public(i) for i in page.items]
        return page


def item(session: Session, write_seq: int) -> dict[str, Any]:
    """The session is stored as one JSON document; only what conditions and indexes need is an attribute.

    `write_seq` counts every write to the session (modify and check write-back alike), so two check
    results for the same rev cannot overwrite each other's issues.
    """
    doc = session.model_dump_json()
    if len(doc) > MAX_DOC_BYTES:
        raise Unprocessable(f"the session would exceed {MAX_DOC_BYTES} bytes; split it or trim its data",
                            code="session_too_large", details={"bytes": len(doc)})
    return {
        **keys.session(session.channel_code, session.session_key),
        **keys.session_indexes(session.channel_code, session.session_key, session.state, session.created_at),
        "rev": session.rev,
        "state": session.state,
        "write_seq": write_seq,
        "doc": doc,
    }


def from_stored(stored: dict[str, Any]) -> tuple[Session, int]:
    return Session.model_validate_json(stored["doc"]), int(stored.get("write_seq", 0))


def public(stored: dict[str, Any]) -> dict[str, Any]:
    return from_stored(stored)[0].model_dump(mode="json")
