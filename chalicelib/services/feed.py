"""Writes changes into the channel's feed: the one way every order event and session commit/abandon is stored.

A writer hands over the writes of its transaction and the changes they make; this numbers the changes (one atomic
counter update), adds their feed entries and the push deliveries the channel subscribes to, and writes it all in
one transaction. A transaction that fails gives its numbers up at once, so readers never wait on them.
"""

from __future__ import annotations

import time
from typing import Any

from ..domain.clock import now_iso
from ..domain.feed import Change, delivery_directives
from ..domain.models import Channel, Directive
from ..storage.db import ConditionFailed
from .hub import Hub


def write(hub: Hub, channel: Channel, changes: list[Change], writes: list[dict[str, Any]],
             directives: list[Directive]) -> list[Directive]:
    """Writes `writes`, `directives` and the changes' feed entries (and deliveries) together, or none of them.

    Returns every directive written, for the caller to dispatch. Raises ConditionFailed as the writes would.
    """
    now = now_iso()
    every = [*directives, *delivery_directives(channel.config.subscriptions, changes, now)]
    seqs = hub.feed.allocate(channel.code, len(changes)) if changes else []
    # Stamped after the numbers are taken: a reader measures a gap's age from a later entry's stamp.
    written_ms = int(time.time() * 1000)
    expires = written_ms // 1000 + hub.settings.feed_retention_days * 86_400
    try:
        hub.db.transact([*writes, *hub.feed.entry_requests(channel.code, seqs, changes, now, written_ms, expires),
                         *hub.directives.create_requests(every)])
    except ConditionFailed:
        hub.feed.void(channel.code, seqs, written_ms, expires)
        raise
    return every
