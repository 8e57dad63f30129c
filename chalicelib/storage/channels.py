from __future__ import annotations

from ..domain.errors import Conflict, NotFound
from ..domain.models import Channel
from . import keys
from .db import ConditionFailed, Db, Page


class ChannelStore:
    def __init__(self, db: Db):
        self.db = db

    def get(self, code: str) -> Channel:
        item = self.db.get(keys.channel(code))
        if item is None:
            raise NotFound(f"channel {code!r} does not exist", code="channel_not_found")
        return Channel.model_validate(item)

    def get_many(self, codes: list[str]) -> list[Channel]:
        """The channels among `codes` that exist, by code."""
        found = [Channel.model_validate(i) for i in self.db.batch_get([keys.channel(c) for c in codes])]
        return sorted(found, key=lambda c: c.code)

    def create(self, channel: Channel) -> None:
        try:
            self.db.put(_item(channel), condition="attribute_not_exists(pk)")
        except ConditionFailed:
            raise Conflict(f"channel {channel.code!r} already exists", code="channel_exists") from None

    def replace(self, channel: Channel, expected_version: int) -> None:
        """Conditional on the version that was read: two concurrent edits cannot silently overwrite each other."""
        try:
            self.db.put(_item(channel), condition="#v = :v", names={"#v": "version"}, values={":v": expected_version})
        except ConditionFailed as exc:
            if exc.current is None:
                raise NotFound(f"channel {channel.code!r} does not exist", code="channel_not_found") from None
            raise Conflict(
                "channel changed since it was read", code="stale_version",
                details={"current_version": exc.current.get("version")},
            ) from None

    def list(self, limit: int, cursor: str | None) -> Page:
        page = self.db.query("gsi1pk", "CHANNELS", index="gsi1", limit=limit, cursor=cursor)
        page.items = [Channel.model_validate(i).model_dump(mode="json") for i in page.items]
        return page


def _item(channel: Channel) -> dict:
    return {**keys.channel(channel.code), **keys.channel_indexes(channel.code),
            **channel.model_dump(mode="python", by_alias=True)}
