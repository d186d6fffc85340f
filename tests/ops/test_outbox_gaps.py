"""The event log under concurrent writers: a consumer reading with read_since sees every
committed event exactly once, in id order, even when an id commits seconds after larger ones
(longer than the old grace period), and never waits for ids that were rolled back."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from sqlalchemy import text

from connect import events
from connect.db import Database
from connect.events import GAP_GRACE
from tests.ops.databases import postgres_database, sqlite_url


class RolledBack(Exception):
    pass


async def writer(db: Database, number: int, log: dict, rng: random.Random, *, hold: float) -> None:
    """Record events in transactions of random length; some hold theirs open, some roll back."""
    for n in range(log["per_writer"]):
        choice = rng.random()
        mine: list[int] = []
        try:
            async with db.transaction() as session:
                for _ in range(rng.choice((1, 1, 2, 3))):
                    event = await events.record(session, "test.made", data={"w": number, "n": n})
                    await session.flush()
                    mine.append(event.id)
                if choice < 0.05:
                    await asyncio.sleep(hold)  # took ids, and commits them much later
                else:
                    await asyncio.sleep(rng.random() * 0.03)
                if choice > 0.92:
                    raise RolledBack
        except RolledBack:
            log["rolled_back"].update(mine)
            continue
        log["committed"].update(mine)
        log["commit_order"].extend(mine)


async def consumer(db: Database, log: dict, done: asyncio.Event, rng: random.Random) -> None:
    cursor = 0
    while True:
        async with db.read() as session:
            batch = await events.read_since(session, cursor, limit=rng.randint(1, 40))
        log["seen"].extend(e.id for e in batch.events)
        assert batch.cursor >= cursor
        cursor = batch.cursor
        if done.is_set():  # every writer has finished: nothing can commit any more
            async with db.read() as session:
                if cursor >= await events.latest_id(session):
                    return
        if not batch.events:
            await asyncio.sleep(0.005)


async def run_concurrently(url: str, *, writers: int, per_writer: int, hold: float) -> dict:
    db = Database(url)
    rng = random.Random(7)
    log = {
        "per_writer": per_writer,
        "committed": set(),
        "rolled_back": set(),
        "commit_order": [],
        "seen": [],
    }
    done = asyncio.Event()
    try:
        reader = asyncio.create_task(consumer(db, log, done, random.Random(11)))
        started = time.monotonic()
        await asyncio.gather(
            *(writer(db, w, log, random.Random(rng.random()), hold=hold) for w in range(writers))
        )
        done.set()
        await asyncio.wait_for(reader, timeout=hold + 30)
        log["seconds"] = time.monotonic() - started
    finally:
        await db.dispose()
    return log


def check(log: dict) -> None:
    seen = log["seen"]
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    assert seen == sorted(seen), "events were delivered out of id order"
    assert set(seen) == log["committed"], (
        f"skipped: {sorted(log['committed'] - set(seen))[:10]}, "
        f"never committed: {sorted(set(seen) - log['committed'])[:10]}"
    )
    assert log["rolled_back"], "the run should include rolled-back ids (permanent gaps)"


@pytest.mark.postgres
def test_no_committed_event_is_skipped_on_postgres():
    with postgres_database(schema=True) as url:
        hold = GAP_GRACE.total_seconds() + 1  # longer than any time-based guess
        log = asyncio.run(run_concurrently(url, writers=12, per_writer=20, hold=hold))
    check(log)
    order = log["commit_order"]
    late = [i for n, i in enumerate(order) if any(j > i for j in order[:n])]
    assert late, "some ids should have committed after larger ones"
    held_back = [i for i in late if i < max(order[: order.index(i)])]
    assert held_back


def test_no_committed_event_is_skipped_on_sqlite(tmp_path):
    # One writer at a time: ids commit in order, rolled-back ones leave gaps to pass.
    url = sqlite_url(tmp_path / "events.db", schema=True)
    log = asyncio.run(run_concurrently(url, writers=6, per_writer=15, hold=0.2))
    check(log)


@pytest.mark.postgres
def test_a_gap_held_by_an_open_transaction_waits_for_it():
    """Deterministic: id 1 is drawn and held, id 2 commits; the reader stops before 2 until
    1 commits, however long that takes, then reads 1 and 2 in order."""
    with postgres_database(schema=True) as url:

        async def scenario():
            db = Database(url)
            try:
                holder = await db.engine.connect()
                transaction = await holder.begin()
                await holder.execute(
                    text(
                        "INSERT INTO events (id, type, created_at, audience, data) "
                        "SELECT drawn.id, 'test.held', clock_timestamp(), 'public', '{}' FROM "
                        "(SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id "
                        "OFFSET 0) AS drawn"
                    )
                )
                async with db.transaction() as session:
                    later = await events.record(session, "test.later")
                    await session.flush()
                assert later.id == 2
                for _ in range(3):
                    async with db.read() as session:
                        batch = await events.read_since(session, 0)
                    assert batch.events == [] and batch.cursor == 0
                    await asyncio.sleep(GAP_GRACE.total_seconds() / 2)
                await transaction.commit()
                await holder.close()
                async with db.read() as session:
                    batch = await events.read_since(session, 0)
                assert [e.id for e in batch.events] == [1, 2]
                # A rolled-back id is passed as soon as nobody can commit it.
                async with db.engine.connect() as conn, conn.begin() as tx:
                    await conn.execute(
                        text("SELECT nextval(pg_get_serial_sequence('events', 'id'))")
                    )
                    await tx.rollback()
                async with db.transaction() as session:
                    await events.record(session, "test.after_gap")
                async with db.read() as session:
                    batch = await events.read_since(session, 2)
                assert [e.id for e in batch.events] == [4]
            finally:
                await db.dispose()

        asyncio.run(scenario())
