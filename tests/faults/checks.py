"""What the fault tests verify after the dust settles: the database is whole and holds every
acknowledged write, and the search index says exactly what the database says.

The index is read with the project's own modules (IndexStore for the current generation,
`documents.stream` for what the database says should be in it).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from connect.boards.models import Post, Thread
from connect.db import Database
from connect.events import ConsumerCursor, Event
from connect.models import Base

# Fields compared between the index and the database, for every document.
COMPARED = ("type", "id", "status", "community", "title", "body", "heading")


def sqlite_path(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    return Path(url[len(prefix) :]) if url.startswith(prefix) else None


def _run(coroutine_fn, url: str, *args):
    async def run():
        db = Database(url)
        try:
            return await coroutine_fn(db, *args)
        finally:
            await db.dispose()

    return asyncio.run(run())


# The database ------------------------------------------------------------------------------


async def _missing_posts(db: Database, ids: list[int]) -> set[int]:
    found: set[int] = set()
    async with db.read() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await session.execute(select(Post.id).where(Post.id.in_(chunk)))
            found |= set(rows.scalars())
    return set(ids) - found


def missing_posts(url: str, ids: list[int]) -> set[int]:
    """Acknowledged post ids that are not in the database."""
    return _run(_missing_posts, url, list(ids))


async def _problems(db: Database, acknowledged: list[int]) -> list[str]:
    problems: list[str] = []
    async with db.read() as session:
        # Every table reads back whole.
        for table in Base.metadata.sorted_tables:
            await session.execute(select(func.count()).select_from(table))
        checks = {
            "posts whose thread is missing": select(func.count())
            .select_from(Post)
            .outerjoin(Thread, Thread.id == Post.thread_id)
            .where(Thread.id.is_(None)),
            "threads whose first post is missing": select(func.count())
            .select_from(Thread)
            .outerjoin(Post, Post.id == Thread.first_post_id)
            .where(Thread.first_post_id.is_not(None), Post.id.is_(None)),
        }
        for name, query in checks.items():
            count = (await session.execute(query)).scalar()
            if count:
                problems.append(f"{count} {name}")
        # A thread's post count moves in the transaction that adds the post.
        published = (
            select(Post.thread_id, func.count().label("n"))
            .where(Post.status == "published")
            .group_by(Post.thread_id)
            .subquery()
        )
        rows = await session.execute(
            select(Thread.id, Thread.post_count, published.c.n)
            .outerjoin(published, published.c.thread_id == Thread.id)
            .where(Thread.status == "published")
        )
        for thread_id, stored, counted in rows:
            if stored != (counted or 0):
                problems.append(f"thread {thread_id}: post_count {stored}, posts {counted}")
        # The event that announces a post is written with it (the outbox).
        announced = set(
            (
                await session.execute(select(Event.subject_id).where(Event.type == "post.created"))
            ).scalars()
        )
        unannounced = set(acknowledged) - announced
        if unannounced:
            problems.append(f"{len(unannounced)} acknowledged posts without their event")
    return problems


def quick_check(url: str) -> str | None:
    """SQLite's own quick check of the file (None: fine, or not SQLite)."""
    path = sqlite_path(url)
    if path is None:
        return None
    connection = sqlite3.connect(path)
    try:
        result = [row[0] for row in connection.execute("PRAGMA quick_check")]
    finally:
        connection.close()
    return None if result == ["ok"] else f"quick_check: {result[:5]}"


def database_problems(url: str, acknowledged: list[int] = ()) -> list[str]:
    """Integrity of the database: the engine's own check on SQLite (and its foreign keys),
    then relations every backend must keep. An empty list means all is well."""
    problems: list[str] = []
    path = sqlite_path(url)
    if path is not None:
        connection = sqlite3.connect(path)
        try:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.append(f"integrity_check: {result[:5]}")
            foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
            if foreign:
                problems.append(f"foreign_key_check: {foreign[:5]}")
        finally:
            connection.close()
    problems += _run(_problems, url, list(acknowledged))
    return problems


async def _lease(db: Database, name: str) -> tuple[str | None, int]:
    async with db.read() as session:
        row = await session.get(ConsumerCursor, name)
        if row is None:
            return None, 0
        return row.lease_holder, row.last_event_id


def lease_holder(url: str, name: str = "indexer") -> str | None:
    return _run(_lease, url, name)[0]


def holder_pid(holder: str | None) -> int | None:
    """The process id inside a lease holder's name (`host:pid:...`)."""
    if not holder:
        return None
    try:
        return int(holder.split(":")[1])
    except (IndexError, ValueError):
        return None


async def _latest_event(db: Database) -> int:
    async with db.read() as session:
        return (await session.execute(text("SELECT coalesce(max(id), 0) FROM events"))).scalar()


def latest_event(url: str) -> int:
    return _run(_latest_event, url)


# The search index ----------------------------------------------------------------------------


@dataclass
class IndexComparison:
    expected: int
    indexed: int
    missing: set[str]
    extra: set[str]
    differing: set[str]
    duplicates: int
    cursor: int
    writer: str | None

    @property
    def matches(self) -> bool:
        return not (self.missing or self.extra or self.differing or self.duplicates)

    def describe(self) -> str:
        def few(keys):
            return sorted(keys)[:8]

        return (
            f"{self.indexed} indexed, {self.expected} expected; missing {few(self.missing)}, "
            f"extra {few(self.extra)}, differing {few(self.differing)}, "
            f"{self.duplicates} duplicate keys; cursor {self.cursor}"
        )


def _comparable(doc: dict) -> tuple:
    return tuple(str(doc.get(name) or "") for name in COMPARED)


def index_writer(data_dir: Path) -> str | None:
    """Who wrote the current index last (its metadata; None when there is none yet)."""
    from connect.search.store import IndexStore

    store = IndexStore(data_dir / "index")
    try:
        path = store.current_path()
        return store.read_meta(path).writer if path else None
    except (OSError, ValueError, KeyError):
        return None


def indexed_documents(data_dir: Path) -> tuple[dict[str, tuple], int, int, str | None]:
    """The current index's live documents by key, duplicate keys, its cursor and writer."""
    from connect.search.store import IndexStore

    store = IndexStore(data_dir / "index")
    path = store.current_path()
    if path is None:
        return {}, 0, 0, None
    meta = store.read_meta(path)
    found: dict[str, tuple] = {}
    duplicates = 0
    with store.open_index(path).searcher() as searcher:
        for fields in searcher.all_stored_fields():
            if fields["key"] in found:
                duplicates += 1
            found[fields["key"]] = _comparable(fields)
    return found, duplicates, meta.cursor, meta.writer


async def _expected(db: Database) -> dict[str, tuple]:
    from connect.search import documents

    expected: dict[str, tuple] = {}
    async for _, docs in documents.stream(db):
        for doc in docs:
            expected[doc["key"]] = _comparable(doc)
    return expected


def compare_index(data_dir: Path, url: str) -> IndexComparison:
    expected = _run(_expected, url)
    try:
        indexed, duplicates, cursor, writer = indexed_documents(data_dir)
    except Exception as exc:  # noqa: BLE001  (mid-swap or being rebuilt: no match yet)
        return IndexComparison(len(expected), 0, {f"unreadable: {exc}"}, set(), set(), 0, 0, None)
    differing = {k for k in expected.keys() & indexed.keys() if expected[k] != indexed[k]}
    return IndexComparison(
        expected=len(expected),
        indexed=len(indexed),
        missing=expected.keys() - indexed.keys(),
        extra=indexed.keys() - expected.keys(),
        differing=differing,
        duplicates=duplicates,
        cursor=cursor,
        writer=writer,
    )
