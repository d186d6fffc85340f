"""Event consumers and periodic jobs, each run by exactly one process at a time.

A lease row per consumer (in consumer_cursors) decides who runs it; the holder
renews it as it works, and another process takes over once it expires. Each
consumer reads the event log from its cursor and handles a batch in the same
transaction that moves the cursor, so a crash repeats a batch, never skips one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events
from connect.db import utcnow
from connect.events import ConsumerCursor, Event

log = logging.getLogger("connect.workers")
LEASE = timedelta(seconds=30)
POLL_SECONDS = 1.0


@dataclass
class Consumer:
    """Handles events in order; `handle` runs inside the transaction that moves the cursor."""

    name: str
    handle: Callable[[AsyncSession, list[Event]], Awaitable[None]]
    batch_size: int = 200


@dataclass
class Job:
    """Work that is not driven by events (sending mail, digests), run every `every` seconds."""

    name: str
    run: Callable[[], Awaitable[object]]
    every: float


class Workers:
    def __init__(self, db, consumers: list[Consumer], jobs: list[Job] | None = None) -> None:
        self.db = db
        self.consumers = consumers
        self.jobs = jobs or []
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wakers: list[asyncio.Event] = []
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def wake(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def start(self) -> None:
        for consumer in self.consumers:
            waker = asyncio.Event()
            self._wakers.append(waker)
            self._tasks.append(asyncio.create_task(self._consume(consumer, waker)))
        for job in self.jobs:
            waker = asyncio.Event()
            self._wakers.append(waker)
            self._tasks.append(asyncio.create_task(self._repeat(job, waker)))

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        try:
            await self.release_all()
        except Exception:  # the database may already be gone at shutdown
            log.warning("could not release worker leases", exc_info=True)

    async def acquire(self, name: str) -> bool:
        """Take or renew the lease for `name`; False while another live process holds it."""
        now = utcnow()
        async with self.db.transaction() as session:
            if await session.get(ConsumerCursor, name) is None:
                session.add(ConsumerCursor(name=name, last_event_id=0))
                await session.flush()
            result = await session.execute(
                update(ConsumerCursor)
                .where(
                    ConsumerCursor.name == name,
                    or_(
                        ConsumerCursor.lease_holder.is_(None),
                        ConsumerCursor.lease_holder == self.holder,
                        ConsumerCursor.lease_expires_at < now,
                    ),
                )
                .values(lease_holder=self.holder, lease_expires_at=now + LEASE)
            )
            return result.rowcount == 1

    async def release_all(self) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.lease_holder == self.holder)
                .values(lease_holder=None, lease_expires_at=None)
            )

    async def run_once(self, consumer: Consumer) -> int:
        """Handle one batch after the cursor; returns how many events it handled."""
        async with self.db.transaction() as session:
            cursor = (
                await session.execute(
                    select(ConsumerCursor.last_event_id).where(ConsumerCursor.name == consumer.name)
                )
            ).scalar() or 0
            batch = await events.read_since(session, cursor, limit=consumer.batch_size)
            if batch.events:
                await consumer.handle(session, batch.events)
            if batch.cursor != cursor:
                await events.set_cursor(session, consumer.name, batch.cursor)
            return len(batch.events)

    async def drain(self, consumer: Consumer) -> None:
        """Run a consumer until it has caught up (tests and `connect` commands use this)."""
        while await self.run_once(consumer):
            pass

    async def _consume(self, consumer: Consumer, waker: asyncio.Event) -> None:
        while not self._stopping:
            try:
                if await self.acquire(consumer.name):
                    handled = await self.run_once(consumer)
                    if handled:
                        continue
                    await self._wait(waker, POLL_SECONDS)
                else:
                    await self._wait(waker, LEASE.total_seconds() / 3)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s failed; retrying shortly", consumer.name)
                await asyncio.sleep(2)

    async def _repeat(self, job: Job, waker: asyncio.Event) -> None:
        while not self._stopping:
            try:
                if await self.acquire(f"job:{job.name}"):
                    await job.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s failed; retrying later", job.name)
            await self._wait(waker, job.every)

    @staticmethod
    async def _wait(waker: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waker.wait(), timeout=seconds)
        waker.clear()
