"""The lease that makes one process run each consumer (connect/workers.py), in one process:
taking, expiry, a dead holder, fencing, and consumers that stop at once when the lease is gone.
Also: a consumer gets only the events it wants, once and in order, across a stop and a
takeover. The multi-process proof is tests/faults/test_single_indexer.py."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from whoosh import index as whoosh_index

from connect import events
from connect.db import Database, utcnow
from connect.events import ConsumerCursor
from connect.search.indexer import LOCK_POLL, WRITER_TIMEOUT
from connect.workers import NAMESPACE, Consumer, LeaseLost, Workers, _proc_stat, holder_is_dead

pytestmark = pytest.mark.faults


def run(database_url, scenario):
    async def main():
        db = Database(database_url)
        try:
            return await scenario(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def elsewhere(workers: Workers) -> Workers:
    """As if on another machine: a holder no process here can prove dead."""
    workers.holder = f"other-host:4242:-:-:{workers.holder[-8:]}"
    return workers


async def expire(db: Database, name: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ConsumerCursor)
            .where(ConsumerCursor.name == name)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def holder_of(db: Database, name: str) -> str | None:
    async with db.read() as session:
        return (
            await session.execute(
                select(ConsumerCursor.lease_holder).where(ConsumerCursor.name == name)
            )
        ).scalar()


def test_one_holder_until_its_lease_expires(database_url):
    async def scenario(db):
        first, second = elsewhere(Workers(db, [])), elsewhere(Workers(db, []))
        assert await first.acquire("indexer")
        assert first.holds("indexer")
        assert not await second.acquire("indexer")
        assert not await second.hold("indexer")
        assert await first.acquire("indexer")  # renewing is taking again
        await expire(db, "indexer")
        assert await second.acquire("indexer")
        assert await holder_of(db, "indexer") == second.holder
        # The old holder learns at its next heartbeat and stops acting at once.
        await first.renew()
        assert not first.holds("indexer")
        assert not await first.acquire("indexer")

    run(database_url, scenario)


def test_a_holder_whose_process_is_gone_is_replaced_at_once(database_url):
    script = "import os; print(os.getpid(), open(f'/proc/{os.getpid()}/stat').read())"
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    pid = int(finished.stdout.split()[0])
    start = finished.stdout[finished.stdout.rfind(")") + 2 :].split()[19]
    if not NAMESPACE:
        pytest.skip("no /proc: a dead holder is only replaced when its lease expires")
    dead = f"host:{pid}:{start}:{NAMESPACE}:deadbeef"
    assert holder_is_dead(dead)
    # The same PID started again later is another process: the holder is dead too.
    mine = _proc_stat(os.getpid())[1]
    assert holder_is_dead(f"host:{os.getpid()}:{int(mine) - 1}:{NAMESPACE}:cafe0000")
    # This very process (another Workers in it) is alive; so is anything we cannot inspect.
    assert not holder_is_dead(f"host:{os.getpid()}:{mine}:{NAMESPACE}:cafe0000")
    assert not holder_is_dead(f"host:{pid}:{start}:0123456789ab.1:deadbeef")
    assert not holder_is_dead("not a holder")

    async def scenario(db):
        async with db.transaction() as session:
            session.add(
                ConsumerCursor(
                    name="indexer",
                    last_event_id=0,
                    lease_holder=dead,
                    lease_expires_at=utcnow() + timedelta(minutes=5),
                )
            )
        taker = Workers(db, [])
        started = time.monotonic()
        assert await taker.acquire("indexer")
        assert time.monotonic() - started < 5
        assert await holder_of(db, "indexer") == taker.holder
        # A live holder in this process is respected.
        assert not await Workers(db, []).acquire("indexer")

    run(database_url, scenario)


def test_fencing_stops_work_before_the_lease_can_expire(database_url, monkeypatch):
    async def scenario(db):
        workers = elsewhere(Workers(db, []))
        assert await workers.acquire("indexer")
        deadline = workers._held["indexer"]
        # The holder stops a margin before the database would let another process in.
        assert deadline <= time.monotonic() + 30 - 10 + 0.5
        workers._held["indexer"] = time.monotonic() - 0.01  # renewals failed for too long
        assert not workers.holds("indexer")
        await workers.renew()  # the row is still ours: the heartbeat restores it
        assert workers.holds("indexer")

    run(database_url, scenario)


def test_a_consumer_batch_commits_only_under_its_lease(database_url):
    handled: list[int] = []

    async def handle(session, batch):
        handled.extend(e.id for e in batch)

    async def scenario(db):
        consumer = Consumer("notifier", handle)
        first, second = elsewhere(Workers(db, [consumer])), elsewhere(Workers(db, [consumer]))
        async with db.transaction() as session:
            await events.record(session, "thread.created", subject_id=1)
        assert await first.acquire("notifier")
        await expire(db, "notifier")
        assert await second.acquire("notifier")
        # The first still believes it holds the lease (its heartbeat has not run yet), but the
        # batch's own transaction finds otherwise: nothing moves.
        with pytest.raises(LeaseLost):
            await first.run_once(consumer, fenced=True)
        async with db.read() as session:
            assert await events.get_cursor(session, "notifier") == 0
        assert await second.run_once(consumer, fenced=True) == 1
        async with db.read() as session:
            assert await events.get_cursor(session, "notifier") >= 1

    run(database_url, scenario)


def test_the_indexer_writes_nothing_without_the_lease(site, admin):
    context = site.ctx
    indexer = context.search.indexer
    site.call(indexer.catch_up)  # a first index, built while no lease is involved
    before = context.search.store.read_meta(context.search.store.current_path())
    owner = site.signed_in(admin)
    site.community(owner, "fenced", description="Written while fenced")
    indexer.background = True  # as when it runs in the background of a worker
    try:
        with pytest.raises(LeaseLost):
            site.call(indexer.catch_up)
        assert context.search.store.read_meta(context.search.store.current_path()) == before
        assert site.call(context.workers.acquire, "indexer")
        assert site.call(indexer.catch_up) > 0
        meta = context.search.store.read_meta(context.search.store.current_path())
        assert meta.cursor > before.cursor and meta.writer == context.workers.holder
    finally:
        indexer.background = False


def test_an_indexer_waiting_for_the_index_lock_gives_up_when_the_lease_goes_or_it_stops(
    site, admin
):
    context = site.ctx
    indexer, store = context.search.indexer, context.search.store
    site.call(indexer.catch_up)
    before = store.read_meta(store.current_path())
    site.community(site.signed_in(admin), "waiting", description="Written while locked")
    lock = whoosh_index.open_dir(str(store.current_path())).lock("WRITELOCK")
    assert lock.acquire()  # another writer holds the index

    async def lease_lost() -> float:
        assert await context.workers.acquire("indexer")
        indexer.background = True
        task = asyncio.create_task(indexer.catch_up())
        await asyncio.sleep(4 * LOCK_POLL)
        assert not task.done()  # waiting for the lock
        context.workers._held["indexer"] = time.monotonic() - 0.01  # renewals failed
        started = time.monotonic()
        with pytest.raises(LeaseLost):
            await task
        return time.monotonic() - started

    async def stopped() -> float:
        assert await context.workers.acquire("indexer")
        indexer.start()  # the background task indexes, and waits for the lock
        await asyncio.sleep(4 * LOCK_POLL)
        started = time.monotonic()
        await indexer.stop()
        return time.monotonic() - started

    try:
        assert site.call(lease_lost) < WRITER_TIMEOUT / 10
        indexer.background = False
        assert site.call(stopped) < WRITER_TIMEOUT / 10
        assert not indexer.background
    finally:
        indexer.background = False
        lock.release()
    # Nothing was written while the lock was held, nor once it was free after the stop.
    time.sleep(4 * LOCK_POLL)
    assert store.read_meta(store.current_path()) == before
    assert site.call(indexer.catch_up) > 0  # the next holder indexes as usual


def test_the_background_indexer_never_spins_when_its_fence_holds_it_back(site, caplog):
    """A `connect worker` left behind by a killed server once wrote "the lease was lost;
    standing by" millions of times at full CPU: a stop whose cancellation went astray left
    the loop running while its fence refused all work."""
    context = site.ctx
    indexer = context.search.indexer

    async def fence_refuses() -> int:
        assert await context.workers.acquire("indexer")
        indexer._fence = lambda: (_ for _ in ()).throw(LeaseLost("indexer"))
        indexer.start()
        await asyncio.sleep(1.0)
        assert not indexer._task.done()  # standing by, not gone
        return sum("the lease was lost" in r.getMessage() for r in caplog.records)

    async def stop_lost() -> None:
        del indexer._fence  # the real fence again
        assert await context.workers.acquire("indexer")
        indexer._task = None
        indexer._stopping = True  # stop() has begun; its cancellation never arrived
        indexer.start()
        await asyncio.wait_for(indexer._task, timeout=2)  # the loop ends by itself

    try:
        with caplog.at_level(logging.WARNING, logger="connect.search"):
            assert 1 <= site.call(fence_refuses) <= 2  # then a pause (STANDBY_POLL) each time
        site.call(indexer.stop)
        site.call(stop_lost)
    finally:
        indexer.__dict__.pop("_fence", None)
        indexer._task, indexer._stopping, indexer.background = None, False, False


async def record(db: Database, *types: str) -> None:
    for kind in types:
        async with db.transaction() as session:
            await events.record(session, kind, subject_id=1)


async def stored_cursor(db: Database, name: str) -> int:
    async with db.read() as session:
        return await events.get_cursor(session, name)


def test_a_consumer_gets_only_what_it_wants_once_in_order_across_restarts(database_url):
    handled: list[str] = []

    async def handle(session, batch):
        handled.extend(event.type for event in batch)

    def consumer() -> Consumer:
        return Consumer("mailer", handle, wants=lambda event: event.type.startswith("post."))

    async def drain(workers: Workers, mailer: Consumer) -> None:
        assert await workers.hold("mailer")
        while await workers.run_once(mailer, fenced=True):
            pass

    async def scenario(db):
        first = Workers(db, [])
        mailer = consumer()
        await record(db, "post.created", "member.joined", "post.edited")
        await drain(first, mailer)
        assert handled == ["post.created", "post.edited"]
        assert await stored_cursor(db, "mailer") == 3

        # Only unwanted events: nothing is handled, and the cursor passes them.
        await record(db, "member.joined", "member.updated")
        await drain(first, mailer)
        assert handled == ["post.created", "post.edited"]
        assert await first.run_once(mailer, fenced=True) == 0

        # A stop writes the cursor down; the next process starts after it.
        await first.release_all()
        assert await stored_cursor(db, "mailer") == 5
        await record(db, "post.deleted")
        second = Workers(db, [])
        await drain(second, consumer())
        assert handled == ["post.created", "post.edited", "post.deleted"]

        # A process that dies without writing its cursor makes the next one read the
        # unwanted events again, never skip a wanted one or repeat a handled one.
        await record(db, "member.left")
        await drain(second, mailer)
        await expire(db, "mailer")  # as if killed: no release, the lease runs out
        await record(db, "post.created")
        third = Workers(db, [])
        await drain(third, consumer())
        assert handled == ["post.created", "post.edited", "post.deleted", "post.created"]

    run(database_url, scenario)
