"""Fixtures for the fault tests: a deployment (data folder plus database) per backend, and a
registry that kills every process a test started."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connect.db import make_engine
from tests.conftest import BACKENDS, PG_URL
from tests.faults.processes import Deployment, Processes


async def _fresh_postgres_database() -> str:
    """The fault tests' own database beside the configured one, emptied (not dropped: a
    DROP DATABASE waits for a checkpoint of the whole shared server, many seconds when busy)."""
    base = make_url(PG_URL)
    name = f"{base.database}_faults"
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            # Sessions a killed process left behind would block the schema's removal.
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def deployment(request, tmp_path):
    data_dir = tmp_path / "var"
    if request.param == "postgres":
        return Deployment(data_dir, asyncio.run(_fresh_postgres_database()), "postgres")
    return Deployment(data_dir, f"sqlite+aiosqlite:///{data_dir / 'connect.db'}", "sqlite")


@pytest.fixture
def processes(tmp_path):
    registry = Processes(tmp_path)
    try:
        yield registry
    finally:
        with contextlib.suppress(Exception):
            registry.cleanup()
