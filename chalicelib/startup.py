"""A cold start without the garbage collector: what start-up builds lives as long as the process.

Importing the app and building its Hub make about 110,000 objects the collector tracks (modules, classes, functions,
botocore's service model) and hardly any garbage. With the collector on, a collection runs every 700 allocations
and, as the heap grows, whole-heap ones too: tens of milliseconds of a cold start spent finding all of it alive.
Off during start-up, then `gc.freeze()` moves everything start-up made to the permanent generation, which no
collection scans again. Without the freeze the first collection after start-up, in the first request, would scan
all of it instead (about 35 ms measured), and every full collection afterwards too; with it, start-up's little
garbage (a few hundred objects) is never freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Runs the block with the collector off and freezes what exists at its end.

    Leaves the collector alone where it was already off: a caller that turned it off (an outer block, a test)
    decides when it comes back.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
