"""connect.db on SQLite: reads never wait for a writer, a read session cannot write,
concurrent requests take turns, and a write waits for another process's write lock without
holding up the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from connect import db as db_module
from connect import events
from connect.db import Database, is_unavailable
from connect.events import Event
from tests.conftest import _create_sqlite
from tests.test_events import add_events


@pytest.fixture
def url(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'connect.db'}"
    asyncio.run(_create_sqlite(url))
    return url


def test_reads_go_on_while_another_process_holds_the_write_lock(url, tmp_path):
    async def scenario():
        db = Database(url)
        try:
            await add_events(db, (1, timedelta(0)))
            # Another process (here: another connection) takes the write lock and keeps it.
            other = sqlite3.connect(tmp_path / "connect.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO events (type, created_at, audience, data) "
                          "VALUES ('test.other', '2026-01-01', 'public', '{}')")  # fmt: skip
            started = time.monotonic()
            async with db.read() as session:
                count = await session.scalar(select(func.count(Event.id)))
            waited = time.monotonic() - started
            other.execute("COMMIT")
            other.close()
            async with db.read() as session:
                after = await session.scalar(select(func.count(Event.id)))
            return count, waited, after
        finally:
            await db.dispose()

    count, waited, after = asyncio.run(scenario())
    assert count == 1  # the uncommitted row is not seen
    assert waited < 1.0  # and nobody waited for the lock
    assert after == 2


def test_concurrent_requests_take_turns_between_sessions(url):
    """Inline statements never yield: without a turn at each session's end, one request
    would run all its reads before another (a WebSocket's next step, say) got any."""

    async def scenario():
        db = Database(url)
        order: list[str] = []
        try:

            async def request(name: str) -> None:
                for step in range(3):
                    async with db.read() as session:
                        await session.scalar(select(func.count(Event.id)))
                    order.append(f"{name}{step}")

            await asyncio.gather(request("a"), request("b"))
            return order
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_read_session_cannot_write(url):
    async def scenario():
        db = Database(url)
        try:
            async with db.read() as session:
                with pytest.raises(sa_exc.OperationalError, match="readonly"):
                    await session.execute(
                        text(
                            "INSERT INTO events (type, created_at, audience, data) "
                            "VALUES ('test.sneaky', '2026-01-01', 'public', '{}')"
                        )
                    )
            async with db.read() as session:
                return await session.scalar(select(func.count(Event.id)))
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == 0


def test_a_write_waits_for_another_process_without_holding_up_the_server(url, tmp_path):
    async def scenario():
        db = Database(url)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        other = sqlite3.connect(tmp_path / "connect.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, slowly
        clock = asyncio.create_task(ticker())
        try:

            async def write():
                async with db.transaction() as session:
                    await events.record(session, "test.waited")

            writing = asyncio.create_task(write())
            await asyncio.sleep(0.5)
            assert not writing.done()
            async with db.read() as session:  # reads go on meanwhile
                assert await session.scalar(select(func.count(Event.id))) == 0
            other.execute("COMMIT")
            await asyncio.wait_for(writing, timeout=5)
            async with db.read() as session:
                return ticks, await session.scalar(select(func.count(Event.id)))
        finally:
            clock.cancel()
            other.close()
            await db.dispose()

    ticks, count = asyncio.run(scenario())
    assert ticks >= 25  # the event loop kept turning while the write waited
    assert count == 1


def test_a_write_that_cannot_get_the_lock_gives_up_as_unavailable(url, tmp_path, monkeypatch):
    monkeypatch.setattr(db_module, "WRITE_LOCK_WAIT_S", 0.3)

    async def scenario():
        db = Database(url)
        other = sqlite3.connect(tmp_path / "connect.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sa_exc.OperationalError) as caught:
                async with db.transaction() as session:
                    await events.record(session, "test.never")
            return caught.value
        finally:
            other.close()
            await db.dispose()

    error = asyncio.run(scenario())
    assert is_unavailable(error)  # answered 503 with Retry-After, not 500
