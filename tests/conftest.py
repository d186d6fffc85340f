"""Fixtures: a fresh app per test on a real SQLite file (and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from connect import events
from connect.accounts import service as accounts
from connect.app import create_app
from connect.db import make_engine
from connect.models import Base
from connect.security import Passwords
from connect.settings import Settings

REQUIRE_SERVICES = os.environ.get("CONNECT_REQUIRE_SERVICES") == "1"
# Under pytest-xdist each worker ("gw0", "gw1", ...) gets a database of its own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_database(url: str) -> str:
    """The configured PostgreSQL database, or its per-worker sibling (created if missing)."""
    if not url or not WORKER:
        return url
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{WORKER}"

    async def create() -> None:
        conn = await asyncpg.connect(
            user=base.username,
            password=base.password,
            host=base.host or "127.0.0.1",
            port=base.port or 5432,
            database=base.database,
        )
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("CONNECT_TEST_DATABASE_URL", ""))
REDIS_URL = os.environ.get("CONNECT_TEST_REDIS_URL", "")
BASE_URL = "http://127.0.0.1:8000"
# Real office documents with known sentences, in the shared folder beside the repository.
DOCUMENTS = Path(
    os.environ.get("CONNECT_TEST_DOCUMENTS")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "documents"
)
PASSWORD = "a long and unusual password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

if REQUIRE_SERVICES and not PG_URL:
    raise pytest.UsageError("CONNECT_REQUIRE_SERVICES=1 but CONNECT_TEST_DATABASE_URL is not set")

BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def fast_passwords() -> Passwords:
    """Real argon2id with small parameters, so that tests creating many members stay quick."""
    return Passwords(4, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


_postgres_schema_fresh = False


async def _reset_postgres(url: str) -> None:
    """Empty every table; the first time in a run, rebuild the schema from the models."""
    global _postgres_schema_fresh
    engine = make_engine(url)
    async with engine.begin() as conn:
        if not _postgres_schema_fresh:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
            await conn.run_sync(Base.metadata.create_all)
            _postgres_schema_fresh = True
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await engine.dispose()


async def _create_sqlite(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "postgres":
        asyncio.run(_reset_postgres(PG_URL))
        return PG_URL
    url = f"sqlite+aiosqlite:///{tmp_path / 'connect.db'}"
    asyncio.run(_create_sqlite(url))
    return url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        base_url=BASE_URL,
        run_workers=False,
        # Queries in threads here; tests/search/test_processes.py runs them in processes.
        search_processes=0,
    )


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.state.ctx.passwords = fast_passwords()
    return app


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def ctx(app):
    return app.state.ctx


@dataclass
class Member:
    id: int
    username: str
    email: str
    password: str = PASSWORD


def hub_caught_up(client, ctx) -> None:
    """Wait until the live hub of the app `client` serves has read every event."""

    async def wait() -> None:
        async with ctx.db.read() as session:
            newest = await events.latest_id(session)
        for _ in range(500):
            if ctx.hub.cursor >= newest:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the live hub did not catch up in 5 s")

    client.portal.call(wait)


class Site:
    """Test helper: make members and clients signed in as them, all on one event loop."""

    def __init__(self, app, client: TestClient) -> None:
        self.app = app
        self.ctx = app.state.ctx
        self.client = client

    def call(self, fn, *args, **kwargs):
        async def run():
            return await fn(*args, **kwargs)

        return self.client.portal.call(run)

    def hub_caught_up(self) -> None:
        """Wait until the live hub has read every event: its reading empties the caches,
        which would otherwise happen at some moment between the requests a test counts."""
        hub_caught_up(self.client, self.ctx)

    def member(self, username: str, *, role: str = "member", **fields) -> Member:
        user = self.call(
            accounts.register,
            self.ctx,
            username=username,
            email=fields.pop("email", f"{username}@example.org"),
            password=fields.pop("password", PASSWORD),
            display_name=fields.pop("display_name", username.title()),
            site_role=role,
        )
        return Member(user.id, user.username, user.email)

    def drain(self) -> None:
        """Run every event consumer until it has caught up (workers don't run in tests)."""
        for consumer in self.ctx.workers.consumers:
            self.call(self.ctx.workers.drain, consumer)

    def anonymous(self) -> TestClient:
        other = TestClient(self.app, base_url=BASE_URL)
        other.portal = self.client.portal
        return other

    def signed_in(self, member: Member) -> TestClient:
        """A client with the member's session cookie; its JSON writes carry the CSRF header."""
        other = self.anonymous()
        answer = other.post(
            "/api/v1/auth/session", json={"login": member.username, "password": member.password}
        )
        assert answer.status_code == 200, answer.text
        other.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return other

    def bearer(self, member: Member) -> TestClient:
        other = self.anonymous()
        answer = other.post(
            "/api/v1/auth/token", json={"login": member.username, "password": member.password}
        )
        assert answer.status_code == 200, answer.text
        other.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return other

    def community(self, owner: TestClient, slug: str, **values) -> dict:
        values.setdefault("name", slug.replace("-", " ").title())
        answer = owner.post("/api/v1/communities", json={"slug": slug, **values})
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def site(app, client) -> Site:
    return Site(app, client)


@pytest.fixture
def admin(site) -> Member:
    return site.member("root", role="admin", display_name="Site Admin")


@pytest.fixture
def alice(site) -> Member:
    return site.member("alice", display_name="Alice Archivist")


@pytest.fixture
def bob(site) -> Member:
    return site.member("bob", display_name="Bob Bibliographer")


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]
