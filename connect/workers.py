"""Event consumers and periodic jobs, each run by exactly one process at a time.

Each consumer reads the event log from its cursor and handles a batch in the same transaction
that moves the cursor, so a crash repeats a batch, never skips one.

Who runs what: a lease row per consumer or job in `consumer_cursors` (`lease_holder`,
`lease_expires_at`), the same on SQLite and PostgreSQL. However many `connect serve` and
`connect worker` processes run, one holds each lease; the others stand by and take over when
the holder stops or dies.

Why a lease row and not a PostgreSQL advisory lock: SQLite has no advisory locks, and a
session-level one is tied to one connection, which would have to stay out of the pool for the
life of the process; it is silently gone when that connection drops (a database restart, a
proxy's idle timeout), so the holder needs a heartbeat to notice anyway; and it does not work
behind PgBouncer in transaction-pooling mode. A row also shows who holds what, until when.

How the lease stays exclusive:

1. Taking it is one conditional UPDATE (compare-and-set): it succeeds only if the lease is free,
   ours, expired, or held by a process known to be dead. SQLite serialises writers; on
   PostgreSQL the row lock serialises the UPDATEs and the loser re-checks the condition after
   the winner commits, so at most one process wins.
2. Expiry is measured on the database's clock on PostgreSQL (`now()`), so clock skew between
   machines does not matter. SQLite lives on one machine and uses its clock.
3. A heartbeat task renews every lease this process holds each HEARTBEAT seconds, whatever the
   work is doing, so a long batch or a full index rebuild does not outlive its lease.
4. Fencing: the holder counts on its own monotonic clock from before each renewal, and
   `holds(name)` turns false MARGIN seconds before the lease could have expired in the
   database. Consumers that write to the database move their cursor with
   `WHERE lease_holder = me` in the batch's own transaction, so a batch commits only while its
   lease is theirs. The search indexer, which writes outside the database, asks `holds()`
   before each batch, again after it has taken Whoosh's write lock for a commit, and before it
   swaps in a rebuilt index. A process paused (SIGSTOP, a frozen VM) right after that last
   check still holds Whoosh's lock: its successor's commit waits for it and then overwrites
   what it wrote with documents read later, from events the successor replays (the cursor in
   the index folder is written after each commit). Jobs (mail, digests) are not fenced: a
   holder paused for longer than MARGIN in the middle of one may overlap its successor once.
5. A holder that dies (kill -9, crash, power cut) stops renewing, and another process takes
   over once the lease has expired: at most LEASE + STANDBY_POLL seconds. A holder on the same
   machine (same boot, same PID namespace) whose process is gone, or whose PID now belongs to
   a process started at another time, is known dead and replaced at the next poll (at most
   STANDBY_POLL seconds): what a worker restarted after a crash finds. A process stopping
   normally releases its leases, so the next one starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events
from connect.db import is_unavailable, utcnow
from connect.events import ConsumerCursor, Event

log = logging.getLogger("connect.workers")
LEASE = timedelta(seconds=30)
HEARTBEAT = LEASE.total_seconds() / 6  # renew this often: a few failures in a row are fine
MARGIN = LEASE.total_seconds() / 3  # stop working this long before the lease may expire
STANDBY_POLL = 2.0  # how often a process without the lease checks whether it is free
POLL_SECONDS = 1.0
WATCH_SECONDS = 0.1  # how often a worker process looks for new events (watch_log)
# A lease holder moves a cursor past events its consumer does not want in memory, and writes
# it at least this often: after a crash those events are read again and skipped again.
CURSOR_SAVE = 10.0


class LeaseLost(Exception):
    """This process no longer holds (or may no longer hold) a lease it was working under."""


def _every_event(event: Event) -> bool:
    return True


@dataclass
class Consumer:
    """Handles events in order; `handle` runs inside the transaction that moves the cursor.

    `wants` says which events `handle` acts on at all. A batch with none of them moves the
    cursor without a write transaction of its own (see `Workers.run_once`), so a post does
    not cost every consumer a turn at SQLite's one write lock.
    """

    name: str
    handle: Callable[[AsyncSession, list[Event]], Awaitable[None]]
    batch_size: int = 200
    wants: Callable[[Event], bool] = _every_event


@dataclass
class Job:
    """Work that is not driven by events (sending mail, digests), run every `every` seconds."""

    name: str
    run: Callable[[], Awaitable[object]]
    every: float


def failed(what: str, exc: Exception) -> None:
    """Log a failed round: one line while the database is unreachable, a traceback otherwise."""
    if is_unavailable(exc):
        log.warning(
            "%s paused: the database is unavailable (%s); retrying", what, exc.__class__.__name__
        )
    else:
        log.exception("%s failed; retrying", what)


# Who holds a lease, and whether that process still exists --------------------------------


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of a process, None if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _namespace() -> str:
    """This boot and PID namespace: processes agreeing on it can see each other's PIDs."""
    try:
        if os.readlink("/proc/self") != str(os.getpid()):
            return ""  # a /proc of another PID namespace (mounted in from the host): no PIDs
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot[:12]}.{pidns:x}"


NAMESPACE = _namespace()


def make_holder() -> str:
    """`host:pid:start:namespace:token`, unique per Workers object (tests run several)."""
    stat = _proc_stat(os.getpid())
    start = stat[1] if stat and NAMESPACE else "-"
    host = socket.gethostname()[:40].replace(":", "-")
    return f"{host}:{os.getpid()}:{start}:{NAMESPACE or '-'}:{secrets.token_hex(4)}"


def holder_is_dead(holder: str) -> bool:
    """Whether `holder` was a process on this machine that no longer runs.

    Only a yes is acted upon, so every doubt answers no (and the lease then expires instead):
    another machine or container, no /proc, a process of another user we cannot inspect.
    """
    try:
        _host, pid_text, start, namespace, _token = holder.rsplit(":", 4)
        pid = int(pid_text)
    except ValueError:
        return False
    if not NAMESPACE or namespace != NAMESPACE or start == "-" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists; whether it is the same process, /proc may still say
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return False
    state, started = stat
    return state in ("Z", "X") or started != start  # a zombie, or the PID was reused


# The workers -------------------------------------------------------------------------------


class Workers:
    def __init__(self, db, consumers: list[Consumer], jobs: list[Job] | None = None) -> None:
        self.db = db
        self.consumers = consumers
        self.jobs = jobs or []
        self.holder = make_holder()
        self._held: dict[str, float] = {}  # lease name -> monotonic time to stop working by
        # Under a held lease: consumer name -> (cursor, monotonic time it was last written).
        self._cursors: dict[str, tuple[int, float]] = {}
        self._wakers: list[asyncio.Event] = []
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def wake(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def start(self) -> None:
        self._stopping = False
        for consumer in self.consumers:
            waker = asyncio.Event()
            self._wakers.append(waker)
            self._tasks.append(asyncio.create_task(self._consume(consumer, waker)))
        for job in self.jobs:
            waker = asyncio.Event()
            self._wakers.append(waker)
            self._tasks.append(asyncio.create_task(self._repeat(job, waker)))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="lease-heartbeat"))

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._wakers.clear()
        try:
            await self.release_all()
        except Exception:  # the database may already be gone at shutdown
            log.warning("could not release worker leases", exc_info=True)

    # Leases ------------------------------------------------------------------------------

    def holds(self, name: str) -> bool:
        """Whether this process may still act under the lease `name` (see the fencing above)."""
        deadline = self._held.get(name)
        return deadline is not None and time.monotonic() < deadline

    async def hold(self, name: str) -> bool:
        """True if this process holds `name`, taking the lease when it is free."""
        return self.holds(name) or await self.acquire(name)

    def _now(self):
        """The clock leases are measured on: the database's on PostgreSQL."""
        return utcnow() if self.db.is_sqlite else func.now()

    async def acquire(self, name: str) -> bool:
        """Take or renew the lease for `name`; False while another live process holds it."""
        started = time.monotonic()
        now = self._now()
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(
                        ConsumerCursor.lease_holder,
                        or_(
                            ConsumerCursor.lease_expires_at.is_(None),
                            ConsumerCursor.lease_expires_at < now,
                        ),
                    ).where(ConsumerCursor.name == name)
                )
            ).first()
        previous, expired = row if row is not None else (None, True)
        dead = previous not in (None, self.holder) and not expired and holder_is_dead(previous)
        if previous not in (None, self.holder) and not expired and not dead:
            self._lose(name)
            return False
        async with self.db.transaction() as session:
            if row is None:
                await session.execute(self._insert_missing(name))
            conditions = [
                ConsumerCursor.lease_holder.is_(None),
                ConsumerCursor.lease_holder == self.holder,
                ConsumerCursor.lease_expires_at.is_(None),
                ConsumerCursor.lease_expires_at < now,
            ]
            if dead:
                conditions.append(ConsumerCursor.lease_holder == previous)
            result = await session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.name == name, or_(*conditions))
                .values(lease_holder=self.holder, lease_expires_at=now + LEASE)
            )
            taken = result.rowcount == 1
        if not taken:
            self._lose(name)
            return False
        if name not in self._held:
            self._cursors.pop(name, None)  # someone else may have moved it meanwhile
            if previous in (None, self.holder):
                log.info("this process (%s) now runs %s", self.holder, name)
            else:
                log.warning(
                    "this process (%s) took over %s from %s, which %s",
                    self.holder,
                    name,
                    previous,
                    "is no longer running" if dead else "let its lease expire",
                )
        self._held[name] = started + LEASE.total_seconds() - MARGIN
        return True

    def _insert_missing(self, name: str):
        if self.db.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return (
            insert(ConsumerCursor)
            .values(name=name, last_event_id=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )

    def _lose(self, name: str) -> None:
        self._cursors.pop(name, None)
        if self._held.pop(name, None) is not None:
            log.warning("this process (%s) no longer holds %s", self.holder, name)

    async def renew(self) -> None:
        """Extend every lease this process holds (the heartbeat); forget those it lost."""
        started = time.monotonic()
        now = self._now()
        async with self.db.transaction() as session:
            await session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.lease_holder == self.holder)
                .values(lease_expires_at=now + LEASE)
            )
            names = set(
                (
                    await session.execute(
                        select(ConsumerCursor.name).where(
                            ConsumerCursor.lease_holder == self.holder
                        )
                    )
                ).scalars()
            )
        for name in list(self._held):
            if name not in names:
                self._lose(name)
        deadline = started + LEASE.total_seconds() - MARGIN
        for name in names:
            self._held[name] = deadline

    async def release_all(self) -> None:
        self._held.clear()
        cursors, self._cursors = self._cursors, {}
        async with self.db.transaction() as session:
            for name, (cursor, _saved_at) in cursors.items():
                await session.execute(
                    update(ConsumerCursor)
                    .where(
                        ConsumerCursor.name == name,
                        ConsumerCursor.lease_holder == self.holder,
                        ConsumerCursor.last_event_id < cursor,
                    )
                    .values(last_event_id=cursor)
                )
            await session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.lease_holder == self.holder)
                .values(lease_holder=None, lease_expires_at=None)
            )

    async def _heartbeat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(HEARTBEAT if self._held else STANDBY_POLL)
            if not self._held:
                continue
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: the fence decides
                log.warning("could not renew the worker leases: %s", exc)

    # Consuming ---------------------------------------------------------------------------

    async def run_once(self, consumer: Consumer, *, fenced: bool = False) -> int:
        """Handle one batch after the cursor; returns how many events it read.

        `fenced`: move the cursor only while this process holds the consumer's lease, in the
        batch's own transaction (LeaseLost rolls the whole batch back otherwise). Under the
        lease the cursor is also kept in memory: finding nothing new is one read, and a
        batch the consumer does not want moves it without a write (CURSOR_SAVE).
        """
        if not fenced:
            return await self._run_in_transaction(consumer)
        known = self._cursors.get(consumer.name)
        async with self.db.read() as session:
            if known is None:
                known = (await events.get_cursor(session, consumer.name), time.monotonic())
            cursor, saved_at = known
            batch = await events.read_since(session, cursor, limit=consumer.batch_size)
        if batch.cursor == cursor:
            self._cursors[consumer.name] = known
            return 0
        wanted = [event for event in batch.events if consumer.wants(event)]
        if not wanted and time.monotonic() < saved_at + CURSOR_SAVE:
            if not self.holds(consumer.name):
                raise LeaseLost(consumer.name)
            self._cursors[consumer.name] = (batch.cursor, saved_at)
            return len(batch.events)
        async with self.db.transaction() as session:
            if wanted:
                await consumer.handle(session, wanted)
            moved = await session.execute(
                update(ConsumerCursor)
                .where(
                    ConsumerCursor.name == consumer.name,
                    ConsumerCursor.lease_holder == self.holder,
                    ConsumerCursor.last_event_id <= cursor,
                )
                .values(last_event_id=batch.cursor)
            )
            if moved.rowcount != 1:
                raise LeaseLost(consumer.name)
        self._cursors[consumer.name] = (batch.cursor, time.monotonic())
        return len(batch.events)

    async def _run_in_transaction(self, consumer: Consumer) -> int:
        """Read, handle and move the cursor in one write transaction (tests, commands)."""
        async with self.db.transaction() as session:
            cursor = await events.get_cursor(session, consumer.name)
            batch = await events.read_since(session, cursor, limit=consumer.batch_size)
            wanted = [event for event in batch.events if consumer.wants(event)]
            if wanted:
                await consumer.handle(session, wanted)
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
                if await self.hold(consumer.name):
                    handled = await self.run_once(consumer, fenced=True)
                    if handled:
                        continue
                    await self._wait(waker, POLL_SECONDS)
                else:
                    await self._wait(waker, STANDBY_POLL)
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                self._lose(consumer.name)
            except Exception as exc:
                failed(f"consumer {consumer.name}", exc)
                await asyncio.sleep(2)

    async def _repeat(self, job: Job, waker: asyncio.Event) -> None:
        while not self._stopping:
            try:
                if await self.hold(f"job:{job.name}"):
                    await job.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed(f"job {job.name}", exc)
            await self._wait(waker, job.every)

    async def watch_log(self, *also: Callable[[], None]) -> None:
        """Wake the consumers (and `also`) whenever the event log grows.

        In `connect serve` a commit wakes them at once; a `connect worker` process hears of
        no commit, so it looks at the newest event id every WATCH_SECONDS (one indexed read).
        """
        latest = None
        while not self._stopping:
            try:
                async with self.db.read() as session:
                    newest = await events.latest_id(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed("watching the event log", exc)
                await asyncio.sleep(STANDBY_POLL)
                continue
            if latest is not None and newest != latest:
                self.wake()
                for wake in also:
                    wake()
            latest = newest
            await asyncio.sleep(WATCH_SECONDS)

    @staticmethod
    async def _wait(waker: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waker.wait(), timeout=seconds)
        waker.clear()
