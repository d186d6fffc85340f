"""The event log: written with the change or not at all, read in order, gaps held back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connect import events
from connect.db import Database, utcnow
from connect.events import GAP_GRACE, Event


def run(database_url: str, work):
    """Run work(db) on a fresh Database for the test's database, then dispose of it."""

    async def main():
        db = Database(database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def count_events(db: Database) -> int:
    async with db.read() as session:
        return (await session.execute(select(func.count(Event.id)))).scalar()


async def add_events(db: Database, *specs: tuple[int, timedelta]) -> None:
    """Insert events with chosen ids and ages (to make gaps on any backend)."""
    async with db.transaction() as session:
        for event_id, age in specs:
            session.add(Event(id=event_id, type="test.made", created_at=utcnow() - age, data={}))


class Boom(Exception):
    pass


def test_record_in_a_rolled_back_transaction_leaves_no_event(database_url):
    async def work(db):
        woken = []
        db.after_commit.append(lambda: woken.append(True))
        with pytest.raises(Boom):
            async with db.transaction() as session:
                await events.record(session, "test.made", data={"n": 1})
                await session.flush()
                raise Boom
        assert await count_events(db) == 0
        assert woken == []  # nobody is woken for a change that did not happen
        async with db.transaction() as session:
            await events.record(session, "test.made", data={"n": 2})
        assert await count_events(db) == 1
        assert woken == [True]

    run(database_url, work)


def test_record_refuses_an_unknown_audience(database_url):
    async def work(db):
        async with db.read() as session:
            with pytest.raises(ValueError):
                await events.record(session, "test.made", audience="everyone")

    run(database_url, work)


def test_read_since_returns_events_in_order_after_the_cursor(database_url):
    async def work(db):
        ids = []
        for n in range(5):
            async with db.transaction() as session:
                event = await events.record(session, "test.made", data={"n": n})
                await session.flush()
                ids.append(event.id)
        assert ids == sorted(ids)
        async with db.read() as session:
            batch = await events.read_since(session, ids[1])
            assert [e.id for e in batch.events] == ids[2:]
            assert [e.data["n"] for e in batch.events] == [2, 3, 4]
            assert batch.cursor == ids[-1]

            limited = await events.read_since(session, ids[0], limit=2)
            assert [e.id for e in limited.events] == ids[1:3]
            assert limited.cursor == ids[2]

            done = await events.read_since(session, ids[-1])
            assert done.events == [] and done.cursor == ids[-1]
            assert await events.latest_id(session) == ids[-1]

    run(database_url, work)


def sqlite_only(database_url: str) -> None:
    # Simulated gaps (explicit ids, no open transaction) test SQLite's grace rule; PostgreSQL
    # proves gaps from open transactions: tests/ops/test_outbox_gaps.py.
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's grace rule; PostgreSQL: tests/ops/test_outbox_gaps.py")


def test_a_young_gap_stops_the_read(database_url):
    sqlite_only(database_url)

    async def work(db):
        # Id 3 is missing and 4 is fresh: 3 may still commit, so the reader waits.
        await add_events(db, (1, timedelta(0)), (2, timedelta(0)), (4, timedelta(0)))
        async with db.read() as session:
            batch = await events.read_since(session, 0)
        assert [e.id for e in batch.events] == [1, 2]
        assert batch.cursor == 2
        async with db.read() as session:
            again = await events.read_since(session, batch.cursor)
        assert again.events == [] and again.cursor == 2
        # Once the late id commits, the read goes on through it.
        await add_events(db, (3, timedelta(0)))
        async with db.read() as session:
            batch = await events.read_since(session, 2)
        assert [e.id for e in batch.events] == [3, 4]
        assert batch.cursor == 4

    run(database_url, work)


def test_a_young_gap_right_after_the_cursor_stops_the_read(database_url):
    sqlite_only(database_url)

    async def work(db):
        await add_events(db, (1, timedelta(0)), (3, timedelta(0)))
        async with db.read() as session:
            batch = await events.read_since(session, 1)
        assert batch.events == [] and batch.cursor == 1

    run(database_url, work)


def test_an_old_gap_is_passed(database_url):
    async def work(db):
        old = GAP_GRACE + timedelta(seconds=1)
        await add_events(db, (1, old), (2, old), (5, old), (6, timedelta(0)))
        async with db.read() as session:
            batch = await events.read_since(session, 0)
        # Ids 3 and 4 never committed and are long past the grace: skip them.
        assert [e.id for e in batch.events] == [1, 2, 5, 6]
        assert batch.cursor == 6

    run(database_url, work)


def test_cursors_are_kept_per_consumer_and_never_move_back(database_url):
    async def work(db):
        async with db.read() as session:
            assert await events.get_cursor(session, "indexer") == 0
        async with db.transaction() as session:
            await events.set_cursor(session, "indexer", 5)
            await events.set_cursor(session, "notifier", 2)
        async with db.transaction() as session:
            await events.set_cursor(session, "indexer", 3)  # an old batch finishing late
        async with db.read() as session:
            assert await events.get_cursor(session, "indexer") == 5
            assert await events.get_cursor(session, "notifier") == 2
        async with db.transaction() as session:
            await events.set_cursor(session, "indexer", 9)
        async with db.read() as session:
            assert await events.get_cursor(session, "indexer") == 9

    run(database_url, work)


def all_events(site) -> list[Event]:
    async def read():
        async with site.ctx.db.read() as session:
            return list((await session.execute(select(Event).order_by(Event.id))).scalars())

    return site.call(read)


def test_registering_and_creating_communities_record_events(site, admin):
    client = site.bearer(admin)
    alice = site.member("alice")
    [created] = [e for e in all_events(site) if e.subject_id == alice.id]
    assert created.type == "member.created"
    assert created.actor_id == alice.id
    assert created.audience == "public"
    assert created.community_id is None
    assert created.data["username"] == "alice"

    before = max(e.id for e in all_events(site))
    open_one = site.community(client, "cataloging")
    closed_one = site.community(client, "council", visibility="closed")
    new = [e for e in all_events(site) if e.id > before]
    assert [(e.type, e.community_id, e.audience) for e in new] == [
        ("community.created", open_one["id"], "public"),
        ("community.created", closed_one["id"], "members"),
    ]
    assert all(e.actor_id == admin.id for e in new)
    assert [e.data["slug"] for e in new] == ["cataloging", "council"]
