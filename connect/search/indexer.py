"""The search indexer: the only writer of the Whoosh index.

It follows the event log from the cursor stored inside the index folder (so that index and
cursor move together), turns events into the keys of the things they touched, reloads those
from the database and writes them in one commit, at most every COMMIT_INTERVAL seconds.
Replaying an event is harmless (documents are replaced whole by key), so a crash between the
Whoosh commit and the cursor write costs a little work, never a wrong index.

Why not a plain Consumer: a Consumer's handle() runs inside a write transaction, and on SQLite
that would hold the database's write lock during every Whoosh commit. So the indexer registers
a Consumer only as the door the event loop knocks on (and for `site.drain()` in tests and
`connect demo`, where it indexes inline), and when workers run in the background it does the
work in its own task, outside any transaction, while this process holds the "indexer" lease.

Only one process indexes, however many `connect serve` and `connect worker` processes share
the database and the data folder: the "indexer" lease in the database decides which (see
connect/workers.py for how it stays exclusive and how another process takes over when the
holder dies). In the background the indexer is fenced: it checks that it still holds the
lease while it waits for Whoosh's write lock, after taking it and before each commit, and
before swapping in a rebuilt index, so a process that lost its lease (paused, cut off from
the database) or is stopping gives up before it writes rather than waiting out the lock.
Each write also records its writer in the index's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from whoosh import index as whoosh_index
from whoosh.index import LockError
from whoosh.writing import MERGE_SMALL

from connect import events
from connect.db import utcnow
from connect.events import Event
from connect.search import documents
from connect.search.codec import ConnectCodec
from connect.search.store import IndexStore
from connect.workers import STANDBY_POLL, Consumer, LeaseLost, failed

log = logging.getLogger("connect.search")
COMMIT_INTERVAL = 0.4  # seconds between commits under load: a new post waits at most this
EVENT_BATCH = 1_000
WRITER_TIMEOUT = 30.0
LOCK_POLL = 0.25  # seconds between lease checks while waiting for Whoosh's write lock
# Memory for postings per writing process before they spill to sorted runs on disk. A
# rebuild that fits writes no runs (`connect reindex --limit-mb`; ~1.6 GB per process for
# the 150,000-document bench corpus). The background rebuild keeps to this default.
REBUILD_LIMIT_MB = 256
IDLE_POLL = 1.0
MEMBER_EVENTS = {"member.created", "member.updated", "member.deleted", "member.suspended"}
IGNORED_POST_EVENTS = {"post.recommended", "post.unrecommended"}
FOLLOWED = ("status", "community")  # a thread's fields its replies' documents copy
LEASE_NAME = "indexer"


def keys_for(event: Event) -> set[str]:
    """The index documents an event may have changed."""
    kind = event.type.split(".", 1)[0]
    subject = event.subject_id
    data = event.data or {}
    if kind == "thread" and subject:
        return {f"thread:{subject}"}
    if kind == "post" and subject and event.type not in IGNORED_POST_EVENTS:
        return {f"post:{subject}"}
    if kind == "entry":
        entry_id = data.get("entry_id") or subject
        return {f"entry:{entry_id}"} if entry_id else set()
    if event.type in MEMBER_EVENTS and subject:
        return {f"member:{subject}"}
    if kind == "community" and subject:
        return {f"community:{subject}"}
    return set()


def largest_first(writer, segments: list) -> list:
    """Whoosh's MERGE_SMALL, with the segments it keeps listed largest first.

    MERGE_SMALL lists what it keeps smallest first, so every merge of small segments moved
    the big ones (the rebuilt index, 150,000 documents) to new document numbers. Searchers
    keep what they read from each segment under its first document number
    (connect.search.engine): each merge, a few times a minute under load, made every
    search process read the whole index again. Largest first, a segment's first number
    changes only when a larger one comes or goes (each segment's size is fixed)."""
    kept = MERGE_SMALL(writer, segments)
    return sorted(kept, key=lambda segment: -segment.doc_count_all())


@dataclass
class RebuildReport:
    documents: int
    rows: int
    seconds: float
    path: Path

    @property
    def per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


class Indexer:
    def __init__(self, context, store: IndexStore) -> None:
        self.context = context
        self.store = store
        # In the background the indexer follows the log itself (`_run_forever`, woken after
        # each commit); the workers' pass over the log runs it only in the foreground.
        self.consumer = Consumer(LEASE_NAME, self._handle, wants=lambda _event: not self.background)
        self.background = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-writer")
        self._last_commit = 0.0
        self._verified: str | None = None  # the index folder last found healthy
        self._stopping = False  # set while stop() waits for the writer thread to give up
        self.suspect = False  # set when a search or a write failed on the index

    # Running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Index in the background from now on (`connect serve` with workers, `connect worker`)."""
        self.background = True
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            try:
                # The writer thread outlives the cancelled task: wait for its step, which
                # gives up at its next fence (within LOCK_POLL while it waits for the lock).
                await self._in_writer(lambda: None)
            finally:
                self._stopping = False
        self.background = False

    def wake(self) -> None:
        self._wake.set()

    async def _handle(self, session, batch: list[Event]) -> None:
        # Runs inside the workers' transaction: in the background, only pass the word on.
        if self.background:
            self.wake()
            return
        await self.catch_up()

    async def _run_forever(self) -> None:
        workers = self.context.workers
        # Ends once stop() begins, even should its cancellation go astray (asyncio.wait_for
        # can swallow one): the fence below refuses all work from then on anyway.
        while not self._stopping:
            try:
                if await workers.hold(LEASE_NAME):
                    await self.catch_up(pace=True)
                    await self._sleep(IDLE_POLL)
                else:
                    await self._sleep(STANDBY_POLL)
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                if self._stopping:
                    return
                log.warning("search indexer: the lease was lost; standing by")
                await self._sleep(STANDBY_POLL)
            except Exception as exc:
                failed("search indexer", exc)
                self.suspect = True
                await asyncio.sleep(2)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    def _fence(self) -> None:
        """In the background, act only while this process holds the indexer lease."""
        if self._stopping or (self.background and not self.context.workers.holds(LEASE_NAME)):
            raise LeaseLost(LEASE_NAME)

    def _writer(self, path: Path):
        """Whoosh's writer for `path`, waiting up to WRITER_TIMEOUT for its lock, fenced."""
        ix = whoosh_index.open_dir(str(path))
        deadline = time.monotonic() + WRITER_TIMEOUT
        while True:
            self._fence()
            wait = min(LOCK_POLL, deadline - time.monotonic())
            try:
                return ix.writer(timeout=max(wait, 0.0), codec=ConnectCodec())
            except LockError:
                if wait <= 0:
                    raise

    def _writer_name(self) -> str | None:
        return self.context.workers.holder if self.background else None

    async def _in_writer(self, fn: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread, fn, *args)

    # Following the event log ---------------------------------------------------------------

    async def catch_up(self, *, pace: bool = False) -> int:
        """Index every event after the cursor; rebuild first if the index is unusable."""
        async with self._lock:
            path = self.store.current_path()
            if path is None or self.suspect or self._verified != path.name:
                problem = await self._in_writer(self.store.problem)
                if problem is None and await self._log_was_pruned(path):
                    problem = "events the index has not seen were pruned from the log"
                if problem is not None and path is None and await self._log_is_whole():
                    # A new site: replaying its whole event log is the same as a rebuild.
                    path = await self._in_writer(self.store.new_generation)
                    self._fence()
                    self.store.swap(path)
                elif problem is not None:
                    log.warning("rebuilding the search index: %s", problem)
                    await self._rebuild()
                    path = self.store.current_path()
                self._verified, self.suspect = path.name, False
            if pace:
                wait = self._last_commit + COMMIT_INTERVAL - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            return await self._follow(path)

    async def _log_is_whole(self) -> bool:
        """Whether the event log still starts at its first event (nothing pruned yet)."""
        async with self.context.db.read() as session:
            first = (await session.execute(select(func.min(Event.id)))).scalar()
        return first is None or first == 1

    async def _log_was_pruned(self, path: Path | None) -> bool:
        if path is None:
            return False
        cursor = self.store.read_meta(path).cursor
        async with self.context.db.read() as session:
            first = (await session.execute(select(func.min(Event.id)))).scalar()
        return first is not None and cursor + 1 < first

    async def _follow(self, path: Path) -> int:
        cursor = self.store.read_meta(path).cursor
        handled = 0
        while True:
            self._fence()
            async with self.context.db.read() as session:
                batch = await events.read_since(session, cursor, limit=EVENT_BATCH)
                if batch.cursor == cursor:
                    return handled
                keys: set[str] = set()
                deleted: set[int] = set()
                for event in batch.events:
                    keys |= keys_for(event)
                    if event.type == "member.deleted" and event.subject_id:
                        deleted.add(event.subject_id)
                docs = await documents.load(session, keys) if keys else {}
                # What a deleted account wrote stays, without its author's name.
                docs.update(await documents.authored_by(session, deleted))
            threads = [k for k in docs if k.startswith("thread:")]
            if threads:
                changed = await self._in_writer(self._status_changed, path, threads, docs)
                if changed:
                    async with self.context.db.read() as session:
                        docs.update(await documents.thread_posts(session, changed))
            await self._in_writer(self._write, path, docs, batch.cursor)
            handled += len(batch.events)
            cursor = batch.cursor

    def _status_changed(self, path: Path, keys: list[str], docs: dict) -> list[int]:
        """Threads whose visibility or community changed: their replies must follow."""
        changed = []
        with whoosh_index.open_dir(str(path)).searcher() as searcher:
            for key in keys:
                old = searcher.document(key=key)
                new = docs[key] or {}
                if old is not None and any(old.get(f) != new.get(f) for f in FOLLOWED):
                    changed.append(int(key.split(":")[1]))
        return changed

    def _write(self, path: Path, docs: dict[str, dict | None], cursor: int) -> None:
        if docs:
            writer = self._writer(path)
            try:
                # With Whoosh's write lock held: a process that lost the lease after its last
                # check (or was paused) must not commit what it read before.
                self._fence()
                for key, doc in docs.items():
                    if doc is None:
                        writer.delete_by_term("key", key)
                    else:
                        writer.update_document(**doc)
                writer.commit(mergetype=largest_first)
            except LeaseLost:
                writer.cancel()
                raise
            except BaseException:
                self.suspect = True
                writer.cancel()
                raise
            self._last_commit = time.monotonic()
        else:
            self._fence()
        self.store.write_meta(path, cursor, writer=self._writer_name())
        if docs:
            self.store.changed()

    # Rebuilding ----------------------------------------------------------------------------

    async def rebuild(
        self,
        *,
        progress: Callable[[int, int], None] | None = None,
        procs: int = 1,
        limit_mb: int = REBUILD_LIMIT_MB,
    ) -> RebuildReport:
        """Build a whole new index from the database beside the current one, then swap it in."""
        async with self._lock:
            report = await self._rebuild(progress=progress, procs=procs, limit_mb=limit_mb)
            self._verified = report.path.name
            return report

    async def _rebuild(
        self,
        *,
        progress: Callable[[int, int], None] | None = None,
        procs: int = 1,
        limit_mb: int = REBUILD_LIMIT_MB,
    ) -> RebuildReport:
        started = time.perf_counter()
        self.store.rebuilding = True
        path = await self._in_writer(self.store.new_generation)
        try:
            cursor = await self._snapshot_cursor()
            total = await documents.count_all(self.context.db)
            if progress:
                progress(0, total)
            writer = await self._in_writer(self._rebuild_writer, path, procs, limit_mb)
            added = rows = 0
            pending = None
            try:
                async for read, docs in documents.stream(self.context.db):
                    if pending is not None:
                        await pending  # the writer works on one batch while we read the next
                    pending = asyncio.ensure_future(self._in_writer(_add_all, writer, docs))
                    added += len(docs)
                    rows += read
                    if progress:
                        progress(rows, total)
                if pending is not None:
                    await pending
                await self._in_writer(writer.commit)
            except BaseException:
                await self._in_writer(writer.cancel)
                raise
            self.store.write_meta(path, cursor, writer=self._writer_name())
            self._fence()
            self.store.swap(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            self.store.rebuilding = False
        self._last_commit = time.monotonic()
        return RebuildReport(added, rows, time.perf_counter() - started, path)

    @staticmethod
    def _rebuild_writer(path: Path, procs: int, limit_mb: int):
        ix = whoosh_index.open_dir(str(path))
        # The big segments as separate files, not one compound file: opening a compound
        # segment copies its postings into memory (a second per big segment, at every reopen
        # after a commit). Small incremental segments stay compound (separate files for them
        # broke the index under concurrent searches in tests/ops/test_fuzz.py; not understood).
        options = {"limitmb": limit_mb, "codec": ConnectCodec(), "compound": False}
        if procs > 1:
            # Each process writes its own segment (no merge at the end): analysis in parallel.
            return ix.writer(procs=procs, multisegment=True, **options)
        return ix.writer(timeout=WRITER_TIMEOUT, **options)

    async def _snapshot_cursor(self) -> int:
        """The cursor a rebuild starts from: its changes are read after this point.

        Recent events are replayed again (harmless) because on PostgreSQL an id below the
        latest one may still commit.
        """
        async with self.context.db.read() as session:
            latest = await events.latest_id(session)
            recent = (
                await session.execute(
                    select(func.min(Event.id)).where(
                        Event.created_at > utcnow() - 2 * events.GAP_GRACE - timedelta(seconds=1)
                    )
                )
            ).scalar()
        return min(latest, recent - 1) if recent else latest


def _add_all(writer, docs: list[dict]) -> None:
    for doc in docs:
        writer.add_document(**doc)
