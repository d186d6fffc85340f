"""The database: engine, sessions, SQLite pragmas and the declarative Base."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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


def make_engine(url: str, **kwargs) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling is off so that BEGIN is ours to send.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
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
    """Engine plus session factory; writes go through `transaction()`.

    SQLite allows one writer: writes in this process queue on a lock instead of
    spinning on SQLITE_BUSY, and each write transaction stays short.
    """

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.after_commit: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; commits on success, wakes event consumers after commit."""
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            async with self._write_sessions() as session, session.begin():
                yield session
            recorded = session.info.get("events_recorded", False)
        finally:
            if self._write_lock is not None:
                self._write_lock.release()
        if recorded:
            for wake in self.after_commit:
                wake()

    async def dispose(self) -> None:
        await self.engine.dispose()
