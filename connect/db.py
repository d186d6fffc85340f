"""The database: engine, sessions, SQLite pragmas and the declarative Base."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiosqlite
from sqlalchemy import ColumnElement, DateTime, MetaData, String, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# For tables whose ids appear in links and logs and whose rows may be deleted: SQLite hands
# out max(id) + 1 otherwise, so an old link would open whatever took the deleted row's id.
# (PostgreSQL's sequences never go back.)
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally (escape "\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class casefold(FunctionElement):  # noqa: N801 (named like the SQL function it is)
    """SQL: the text case-folded as Python's str.casefold, so "ÉCOLE" and "Straße" compare
    equal to "école" and "strasse" on SQLite and PostgreSQL alike (compare it with a
    casefolded needle)."""

    type = String()
    name = "casefold"
    inherit_cache = True


@compiles(casefold, "sqlite")
def _casefold_sqlite(element, compiler, **kw) -> str:
    # SQLite's lower() folds ASCII only; the casefold() registered on each connection
    # (make_engine) folds the rest, a Python call, so only for text outside printable ASCII.
    text = compiler.process(element.clauses, **kw)
    return f"CASE WHEN {text} GLOB '*[^ -~]*' THEN casefold({text}) ELSE lower({text}) END"


@compiles(casefold, "postgresql")
def _casefold_postgresql(element, compiler, **kw) -> str:
    # PostgreSQL's lower() folds all of Unicode one letter to one; casefold() also turns
    # "ß" into "ss" and a final sigma into σ (PostgreSQL 15 has no casefold of its own).
    text = compiler.process(element.clauses, **kw)
    return f"replace(replace(lower({text}), 'ß', 'ss'), 'ς', 'σ')"


def contains_any_case(column, text: str) -> ColumnElement[bool]:
    """SQL: `column` contains `text`, letters compared case-folded (see `casefold`)."""
    return casefold(column).like(contains_pattern(text.casefold()), escape="\\")


# PostgreSQL: how long opening a connection may take before it is an error (an unreachable
# server must not hold a request for asyncpg's default minute), and how long a request waits
# for a free connection in the pool.
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 10.0
# SQLSTATEs meaning "cannot serve right now": connection exceptions (class 08), shutting down
# or starting up (57P01-57P03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_UNAVAILABLE_MESSAGES = (
    "connection is closed",  # asyncpg, a connection the server dropped
    "connection was closed",
    "database is locked",  # SQLite, still busy after busy_timeout
    "unable to open database file",  # SQLite, its folder gone or unmounted
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or cannot serve right now: worth a
    503 and a retry, unlike a bug or bad input. Follows the chain of causes (SQLAlchemy wraps
    the driver's error, which may wrap the socket's)."""
    todo: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < 20:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror, sa_exc.TimeoutError)):
            return True  # refused, reset, timed out, unknown host; no free pooled connection
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        # The driver's own errors only: SQLAlchemy's wrappers quote the statement and its
        # parameters, which may hold any text.
        if isinstance(error, sqlite3.OperationalError) or (
            type(error).__name__ == "InterfaceError"
            and not isinstance(error, sa_exc.SQLAlchemyError)
        ):
            message = str(error).lower()
            if any(m in message for m in _UNAVAILABLE_MESSAGES):
                return True
        todo += [getattr(error, "orig", None), error.__cause__, error.__context__]
    return False


class _InlineSQLite(aiosqlite.Connection):
    """An aiosqlite connection that runs each call at once on the calling thread.

    aiosqlite hands every call (cursor, execute, fetch, close: four per statement) to its
    own thread and back. For the short statements that make up a request, those hand-offs
    cost several times the statement; and under load each one also waits for the event
    loop's next turn, so a write transaction of a few dozen statements held the write lock
    for seconds. `Database` runs everything on a SQLite file inline instead: reads on
    query-only connections (in WAL mode a reader never waits for the write lock), writes
    once `Database.transaction` holds the write lock, which it waits for without blocking
    the event loop."""

    def __await__(self):
        return self._open().__await__()

    async def _open(self) -> _InlineSQLite:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn, *args, **kwargs):
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def _let_others_go() -> None:
    """Inline statements never yield, so a request would run to its end in one turn of the
    event loop, and everything that needs several turns (a WebSocket's upgrade, accept and
    subscribe) would wait behind every request in flight, several times over. Yielding at
    the end of each session keeps turns short. (Not inside a write transaction: it holds
    the write lock.)"""
    await asyncio.sleep(0)


def _is_busy(exc: sa_exc.OperationalError) -> bool:
    """SQLite's SQLITE_BUSY: another connection holds the lock this one needs."""
    error = exc.orig
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(error).lower()


def _sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    return None if database in (None, "", ":memory:") else database


# How long a statement waits for another connection's lock (SQLite's busy_timeout). An inline
# connection holds up the event loop while it waits, so its wait is short: readers in WAL
# mode wait only in rare cases (recovery after a crash), and writers wait for the write lock
# in `Database.transaction`, with the event loop free, up to WRITE_LOCK_WAIT_S.
BUSY_TIMEOUT_MS = 10_000
INLINE_READ_BUSY_TIMEOUT_MS = 1_000
INLINE_WRITE_BUSY_TIMEOUT_MS = 20
WRITE_LOCK_WAIT_S = 10.0


def _casefold(text):
    return text.casefold() if isinstance(text, str) else text


def make_engine(
    url: str, *, inline: bool = False, read_only: bool = False, **kwargs
) -> AsyncEngine:
    """An engine for `url`. On a SQLite file, `inline` runs statements on the calling thread
    (see `_InlineSQLite`) and `read_only` makes the connections query-only."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        inline = inline and path is not None
        if inline:

            def connector() -> sqlite3.Connection:
                return sqlite3.connect(
                    path, timeout=30, isolation_level=None, check_same_thread=False
                )

            kwargs["async_creator"] = lambda: _InlineSQLite(connector, 64)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        busy_ms = BUSY_TIMEOUT_MS
        if inline:
            busy_ms = INLINE_READ_BUSY_TIMEOUT_MS if read_only else INLINE_WRITE_BUSY_TIMEOUT_MS

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling is off so that BEGIN is ours to send.
            if dbapi_connection.isolation_level is not None:
                dbapi_connection.isolation_level = None
            # casefold(x): Unicode case folding, which SQLite's own lower() does not do.
            dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn):
            # Write transactions take the write lock up front (no SQLITE_BUSY mid-way).
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    options = {
        "pool_pre_ping": True,  # a connection the server dropped is replaced, not used
        "pool_size": 10,
        "max_overflow": 10,
        "pool_timeout": POOL_TIMEOUT,
        "connect_args": {"timeout": CONNECT_TIMEOUT},
    }
    return create_async_engine(url, **(options | kwargs))


class Database:
    """Engines plus session factories; reads go through `read()`, writes through
    `transaction()`.

    SQLite allows one writer: writes in this process queue on a lock instead of
    spinning on SQLITE_BUSY, and each write transaction stays short. On a SQLite file both
    run inline (see `_InlineSQLite`): reads on their own query-only connections, writes
    once the write lock is held.
    """

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._inline = self.is_sqlite and _sqlite_path(url) is not None
        if self._inline:
            self.engine = make_engine(url, inline=True, read_only=True, **engine_kwargs)
            write_engine = make_engine(url, inline=True, **engine_kwargs)
        else:
            self.engine = write_engine = make_engine(url, **engine_kwargs)
        self._engines = {self.engine, write_engine}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.is_sqlite:
            write_engine = write_engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.after_commit: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._closing(self.sessions()) as session:
            yield session
        if self._inline:
            await _let_others_go()

    @asynccontextmanager
    async def _closing(self, session: AsyncSession) -> AsyncIterator[AsyncSession]:
        """Close the session at the end. An inline session closes without yielding to the
        event loop, so nothing can cancel it half-way: it is closed in place rather than
        through AsyncSession's exit, which runs the close in a task of its own. (In that
        turn of the loop other requests took the still-pooled connection's place, and the
        pool opened and closed SQLite connections all day.)"""
        if not self._inline:
            async with session:
                yield session
            return
        try:
            yield session
        finally:
            await session.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; commits on success, wakes event consumers after commit."""
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            session = await self._write_session()
            async with self._closing(session):
                try:
                    yield session
                except BaseException:
                    await session.rollback()
                    raise
                await session.commit()
            recorded = session.info.get("events_recorded", False)
        finally:
            if self._write_lock is not None:
                self._write_lock.release()
        if recorded:
            for wake in self.after_commit:
                wake()
        if self._inline:
            await _let_others_go()

    async def _write_session(self) -> AsyncSession:
        """A session for one write transaction; on a SQLite file, one that already holds the
        write lock, waited for with the event loop free (another process may hold it)."""
        session = self._write_sessions()
        if not self._inline:
            return session
        deadline = time.monotonic() + WRITE_LOCK_WAIT_S
        pause = 0.002
        while True:
            try:
                await session.connection()  # BEGIN IMMEDIATE: the write lock, or SQLITE_BUSY
                return session
            except sa_exc.OperationalError as exc:
                await session.close()
                if not _is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            session = self._write_sessions()

    async def dispose(self) -> None:
        for engine in self._engines:
            await engine.dispose()
