"""A database that cannot be reached is a quick 503 with Retry-After in api.md's error shape,
for the API and for pages, never a 500; errors that are bugs stay 500s. (The real outage,
a PostgreSQL server stopped and started again, is tests/faults/test_postgres_restart.py.)"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc
from starlette.testclient import WebSocketDenialResponse

from connect.db import Database, is_unavailable
from tests.conftest import error_code

pytestmark = pytest.mark.faults


class FakeAsyncpgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(error: Exception) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver's error."""
    try:
        try:
            raise error
        except Exception as inner:
            raise sa_exc.DBAPIError("SELECT 1", {}, inner) from inner
    except sa_exc.DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        wrapped(FakeAsyncpgError("the database system is starting up", "57P03")),
        wrapped(FakeAsyncpgError("terminating connection due to administrator command", "57P01")),
        wrapped(FakeAsyncpgError("connection was closed in the middle of operation", "08003")),
        wrapped(FakeAsyncpgError("sorry, too many clients already", "53300")),
        wrapped(sqlite3.OperationalError("database is locked")),
        wrapped(sqlite3.OperationalError("unable to open database file")),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
    ],
)
def test_outages_are_recognised(error):
    assert is_unavailable(error)
    try:
        raise RuntimeError("while handling") from error
    except RuntimeError as outer:
        assert is_unavailable(outer)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        KeyError("x"),
        wrapped(FakeAsyncpgError("duplicate key value violates unique constraint", "23505")),
        wrapped(FakeAsyncpgError('syntax error at or near "SELEC"', "42601")),
        wrapped(sqlite3.OperationalError("no such table: posts")),
        sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        # What a post says is not what the database does.
        sa_exc.IntegrityError(
            "INSERT INTO posts", {"body": "the database is locked"}, Exception("NOT NULL")
        ),
    ],
)
def test_bugs_are_not_outages(error):
    assert not is_unavailable(error)


def test_an_unreachable_database_answers_503_with_retry_after(site, client, admin, tmp_path):
    owner = site.signed_in(admin)
    site.community(owner, "reachable")
    reader = site.bearer(admin)
    context = site.ctx
    working = context.db
    context.db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'away' / 'connect.db'}")
    try:
        for path in ("/api/v1/communities/reachable", "/api/v1/communities", "/api/v1/search?q=x"):
            answer = reader.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert error_code(answer) == "database_unavailable"
            assert int(answer.headers["retry-after"]) > 0
        answer = reader.post("/api/v1/communities", json={"slug": "later", "name": "Later"})
        assert answer.status_code == 503 and error_code(answer) == "database_unavailable"
        for path in ("/", "/c/reachable", "/search?q=x", "/members"):
            page = site.anonymous().get(path)
            assert page.status_code == 503, (path, page.text[:300])
            assert "database" in page.text and page.headers["retry-after"]
        # The live socket's handshake is refused the same way.
        token = reader.headers["Authorization"].removeprefix("Bearer ")
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            reader.websocket_connect(f"/api/v1/live?token={token}"),
        ):
            pass
        assert refused.value.status_code == 503
        assert error_code(refused.value) == "database_unavailable"
        assert int(refused.value.headers["retry-after"]) > 0
    finally:
        broken, context.db = context.db, working
        site.call(broken.dispose)
    assert reader.get("/api/v1/communities/reachable").status_code == 200
