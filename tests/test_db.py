"""connect.db on SQLite: reads never wait for a writer, and a read session cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from connect.db import Database
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
