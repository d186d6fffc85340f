"""Throwaway databases for the operations tests: SQLite files, or PostgreSQL databases created
(and dropped) beside CONNECT_TEST_DATABASE_URL's."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connect.db import make_engine
from connect.models import Base
from tests.conftest import PG_URL, REQUIRE_SERVICES


def require_postgres() -> str:
    """The test server's URL; without one, skip (or fail when services are required)."""
    if not PG_URL:
        if REQUIRE_SERVICES:
            pytest.fail("CONNECT_REQUIRE_SERVICES=1 but CONNECT_TEST_DATABASE_URL is not set")
        pytest.skip("needs PostgreSQL: set CONNECT_TEST_DATABASE_URL")
    return PG_URL


async def _admin(statement: str) -> None:
    engine = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def create_schema(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


@contextlib.contextmanager
def postgres_database(*, schema: bool) -> Iterator[str]:
    """A new, empty PostgreSQL database (with the tables when `schema`), dropped afterwards."""
    require_postgres()
    name = f"connect_ops_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if schema:
            asyncio.run(create_schema(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(path: Path, *, schema: bool) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    if schema:
        asyncio.run(create_schema(url))
    return url
