"""Event consumers under a lease (connect/workers.py): each wanted event handled once, in
order, none skipped, across a batch the consumer does not want and across a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from connect import events
from connect.db import Database, utcnow
from connect.events import ConsumerCursor
from connect.workers import Consumer, Workers


def run(database_url, scenario):
    async def main():
        db = Database(database_url)
        try:
            return await scenario(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def record(db: Database, *types: str) -> None:
    for kind in types:
        async with db.transaction() as session:
            await events.record(session, kind, subject_id=1)


async def expire(db: Database, name: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ConsumerCursor)
            .where(ConsumerCursor.name == name)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


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
