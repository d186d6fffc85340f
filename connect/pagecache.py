"""Whole pages for anonymous readers, kept in memory until the event log moves on.

Everyone who is not signed in sees the same thread page and the same board page, so one
rendering can serve them all (busy forums serve most of their reads this way). A page is
kept only while nothing has been written since it was rendered:

* this process's own writes empty the cache as they commit, before the writer's response
  goes out, so a reader never sees a page older than something this process acknowledged;
* other processes' writes empty it when the live hub reads their events from the log:
  at once with Redis, within the hub's one-second poll without it;
* an entry is also dropped after `MAX_AGE_SECONDS`, for anything that reached the
  database without an event.

A page that was being rendered while the cache was emptied is not kept (its data may
predate the write). Only pages that carry nothing of the reader's are kept: the caller
checks that the body holds no CSRF token before offering it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_AGE_SECONDS = 30.0


class ByteBoundedLRU:
    """A least-recently-used map whose values' sizes add up to at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key):
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key, value, size: int) -> bool:
        """Keep `value`; False (and not kept) if it alone would take over an eighth."""
        if size > self.max_bytes // 8:
            return False
        self.pop(key)
        self._items[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self.pop(next(iter(self._items)))
        return True

    def pop(self, key) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[1]

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


@dataclass(slots=True)
class Page:
    body: bytes
    media_type: str


class KeptUntilWritten:
    """A byte-bounded LRU emptied whenever anything is written (`clear`); an entry also
    lapses after `max_age` seconds, for anything that reached the database without an event.
    A value read while the cache was emptied is not kept (it may predate the write)."""

    def __init__(self, max_bytes: int, *, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.generation = 0
        self.hits = 0
        self.misses = 0
        self._items = ByteBoundedLRU(max_bytes)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Something was written: forget everything and refuse what is still being read."""
        self.generation += 1
        self._items.clear()

    def _get(self, key):
        item = self._items.get(key)
        if item is not None and time.monotonic() - item[1] > self.max_age:
            self._items.pop(key)
            item = None
        if item is None:
            self.misses += 1
            return None
        self.hits += 1
        return item[0]

    def _put(self, key, value, size: int, *, generation: int) -> bool:
        """Keep a value read while `generation` was current; False if it is stale or big."""
        if generation != self.generation:
            return False
        return self._items.put(key, (value, time.monotonic()), size)


class PageCache(KeptUntilWritten):
    """Rendered pages, emptied whenever anything is written."""

    def get(self, key: str) -> Page | None:
        return self._get(key)

    def put(self, key: str, body: bytes, media_type: str, *, generation: int) -> bool:
        """Keep a page rendered while `generation` was current; False if it is stale or big."""
        return self._put(key, Page(body, media_type), len(body), generation=generation)


class ReadCache(KeptUntilWritten):
    """What every reader of a page shares (a thread's posts, a board's threads), kept for
    the position of the event log it was read at.

    Callers read the newest event id first and make it part of the key, then load the data
    in the same session. Any write adds an event, so the next reader asks for a new key and
    never gets data older than what it can see. On PostgreSQL an event can commit after a
    later one (the log's gap); for that, and to let go of memory, the cache is also emptied
    like the page cache (our commits, the hub's reads of others'). Values are shared between
    requests: callers must not change them.
    """

    async def get_or_load(self, key, load, size):
        """The value kept under `key`, or `await load()` (kept unless it is None or a write
        came while it loaded); `size(value)` estimates its bytes."""
        if self.enabled:
            value = self._get(key)
            if value is not None:
                return value
        generation = self.generation
        value = await load()
        if self.enabled and value is not None:
            self._put(key, value, size(value), generation=generation)
        return value
