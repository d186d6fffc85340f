"""`alembic upgrade head` on an empty database builds exactly the models' schema."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from connect import migrate
from connect.db import make_engine
from connect.models import Base
from tests.conftest import PG_URL, REQUIRE_SERVICES, WORKER

SCRATCH_DATABASE = f"connect_migrations_test{WORKER and '_' + WORKER}"


async def _schema_diff(url: str) -> tuple[list, set[str], str | None]:
    """(differences from the models, table names, alembic revision) of the database at url."""

    def compare(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return (
            compare_metadata(context, Base.metadata),
            set(inspect(sync_conn).get_table_names()),
            context.get_current_revision(),
        )

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


def schema_diff(url: str) -> tuple[list, set[str], str | None]:
    return asyncio.run(_schema_diff(url))


def describe(change) -> str:
    """One short line per difference (a table's or index's name, not its whole repr)."""
    if isinstance(change, list):  # column-level changes come grouped
        return "; ".join(describe(c) for c in change)
    op, *rest = change
    names = [getattr(x, "name", None) or str(x) for x in rest[:3]]
    return f"{op} {' '.join(map(str, names))}"[:200]


def assert_matches_models(url: str) -> None:
    diff, tables, revision = schema_diff(url)
    assert not diff, "migrations and models disagree (a migration is missing?):\n" + "\n".join(
        describe(c) for c in diff
    )
    assert tables == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    assert revision == migrate.head_revision(url)


def test_upgrade_head_on_empty_sqlite_matches_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    assert_matches_models(url)
    migrate.upgrade(url)  # a second run has nothing to do
    assert_matches_models(url)


def test_sqlite_gets_the_expression_indexes_autogenerate_cannot_compare(tmp_path):
    """SQLite's reflection skips indexes on expressions, so the comparison above cannot
    see them: ask the schema itself, and check that the directory's query uses it."""
    path = tmp_path / "indexes.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        expected = {
            index.name
            for table in Base.metadata.sorted_tables
            for index in table.indexes
            if any(not hasattr(e, "name") for e in index.expressions)
        }
        assert expected == {"ix_users_display_name_lower"}
        assert expected <= names
        plan = " ".join(
            row[3]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT users.id FROM users JOIN profiles "
                "ON profiles.user_id = users.id WHERE profiles.listed = 1 "
                "ORDER BY lower(users.display_name), users.id LIMIT 24"
            )
        )
        assert "USING INDEX ix_users_display_name_lower" in plan and "TEMP B-TREE" not in plan


def test_downgrade_to_base_then_upgrade_again_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    migrate.upgrade(url)
    command.downgrade(migrate.alembic_config(url), "base")
    _, tables, revision = schema_diff(url)
    assert tables <= {"alembic_version"}
    assert revision is None
    migrate.upgrade(url)
    assert_matches_models(url)


async def _admin(sql: str) -> None:
    url = make_url(PG_URL)
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        database=url.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def scratch_postgres():
    """A fresh, empty PostgreSQL database on the test server, dropped afterwards."""
    if not PG_URL:
        message = "PostgreSQL tests need CONNECT_TEST_DATABASE_URL"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (CONNECT_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    drop = f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)'
    asyncio.run(_admin(drop))
    asyncio.run(_admin(f'CREATE DATABASE "{SCRATCH_DATABASE}"'))
    try:
        yield make_url(PG_URL).set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(drop))


@pytest.mark.postgres
def test_upgrade_head_on_empty_postgres_matches_the_models(scratch_postgres):
    migrate.upgrade(scratch_postgres)
    assert_matches_models(scratch_postgres)
    command.downgrade(migrate.alembic_config(scratch_postgres), "base")
    _, tables, _ = schema_diff(scratch_postgres)
    assert tables <= {"alembic_version"}
    migrate.upgrade(scratch_postgres)
    assert_matches_models(scratch_postgres)


def _read_with_plans(path, read) -> tuple[object, list[tuple[str, list[str]]]]:
    """Run `read(session)` on the SQLite file at `path`; its answer, and each statement it
    ran with the steps of SQLite's plan for it."""
    from sqlalchemy import event

    from connect.db import Database

    seen: list[tuple[str, tuple]] = []

    async def run():
        database = Database(f"sqlite+aiosqlite:///{path}")
        event.listen(
            database.engine.sync_engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, params, context, many: seen.append((statement, params)),
        )
        try:
            async with database.read() as session:
                return await read(session)
        finally:
            await database.dispose()

    answer = asyncio.run(run())
    with contextlib.closing(sqlite3.connect(path)) as conn:
        plans = [
            (statement, [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)])
            for statement, params in seen
            if statement.lstrip().upper().startswith("SELECT")
        ]
    return answer, plans


def test_a_thread_pages_attachments_are_looked_up_by_post_on_sqlite(tmp_path):
    """Most library entries belong to no post, so after ANALYZE SQLite rates the post_id
    index as useless; the attachments query must still look these posts up in it rather
    than read every entry (what ordering by id alone made it do: ~2-3 ms a thread page)."""
    from connect.library.reading import attachments_of

    path = tmp_path / "plan.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executemany(
            "INSERT INTO library_entries (id, community_id, author_id, title, description, "
            "html, tags, status, created_at, updated_at, download_count) "
            "VALUES (?, 1, 1, 'Plan', '', '', '[]', 'published', '2026-01-01', '2026-01-01', 0)",
            [(i,) for i in range(1, 2001)],
        )
        conn.execute("UPDATE library_entries SET post_id = 7 WHERE id = 5")
        conn.commit()
        conn.execute("ANALYZE")

    found, plans = _read_with_plans(path, lambda session: attachments_of(session, [7, 8, 9]))
    assert [e.id for e in found[7]] == [5]
    plan = " ".join(next(steps for statement, steps in plans if "library_entries" in statement))
    assert "USING INDEX ix_library_entries_post_id" in plan, plan


def test_a_readers_contacts_are_looked_up_by_index_on_sqlite(tmp_path):
    """Every signed-in thread page asks for the reader's contacts: by requester or
    addressee, both indexed, not by the pair's high_id, which is not (that read every
    contact on the site)."""
    from connect.boards.reading import _READER

    path = tmp_path / "contacts.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    params = {"user_id": 3, "thread_id": 1, "community_id": 1, "post_ids": [1, 2]}
    _, plans = _read_with_plans(path, lambda session: session.execute(_READER, params))
    (plan,) = [steps for statement, steps in plans if "contacts" in statement]
    assert not [step for step in plan if step.startswith("SCAN")], plan


def test_the_home_feed_reads_each_communitys_newest_along_an_index_on_sqlite(tmp_path):
    """The home page's feed takes each community's newest replies and joins from indexes on
    (community_id, created_at), newest first, instead of reading and sorting all of them
    (~3 ms a home page on a site of ALA's size, and more as communities grow)."""
    from connect.accounts.models import User
    from connect.network.feeds import home_feed
    from connect.permissions import Role, Viewer

    path = tmp_path / "feed.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    viewer = Viewer(
        user=User(id=1, username="ann", display_name="Ann"),
        memberships={2: Role("member", "active"), 3: Role("member", "active")},
    )
    _, plans = _read_with_plans(path, lambda session: home_feed(session, viewer, count=False))
    plan = next(steps for statement, steps in plans if "UNION ALL" in statement)
    replies = "SEARCH posts USING INDEX ix_posts_community_id_created_at (community_id=?)"
    joins = "SEARCH memberships USING INDEX ix_memberships_community_id_created_at (community_id=?)"
    assert plan.count(replies) == 2 and plan.count(joins) == 2, plan
    tables = ("SCAN posts", "SCAN memberships", "SCAN threads", "SCAN library_entries")
    assert not [step for step in plan if step.startswith(tables)], plan


def _fill_every_table(conn: sqlite3.Connection, rows: int = 3) -> None:
    """Insert `rows` rows into each table that takes them from made-up values: ids 1..rows,
    foreign keys to the same-numbered row (self-references to the row before). Only the
    tables and columns the database has at its revision (later ones add more)."""
    for table in Base.metadata.sorted_tables:
        present = {row[1] for row in conn.execute(f'PRAGMA table_info("{table.name}")')}
        for i in range(1, rows + 1):
            values = {}
            for column in table.columns:
                if column.name not in present:
                    continue
                (fk, *_) = list(column.foreign_keys) or [None]
                if fk is not None:
                    same = fk.column.table is table
                    values[column.name] = (i - 1 or None) if same else i
                elif column.primary_key:
                    values[column.name] = i
                else:
                    try:
                        kind = column.type.python_type
                    except NotImplementedError:
                        kind = str
                    values[column.name] = {
                        int: i,
                        bool: i % 2,
                        str: f"{table.name}-{i}",
                        dict: "{}",
                        list: "[]",
                    }.get(kind, "2026-01-01 00:00:00.000000")
            if not values:
                continue
            names = ", ".join(f'"{name}"' for name in values)
            marks = ", ".join("?" for _ in values)
            with contextlib.suppress(sqlite3.IntegrityError):
                conn.execute(
                    f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', list(values.values())
                )
    conn.commit()


def _shape(conn: sqlite3.Connection) -> dict:
    """Each table's row count, indexes and foreign keys."""
    shape = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if name.startswith("sqlite_"):
            continue
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (name,)
        ).fetchall()
        shape[name] = (
            conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0],
            sorted(indexes, key=str),
            sorted(row[2:] for row in conn.execute(f'PRAGMA foreign_key_list("{name}")')),
        )
    return shape


NEVER_REUSED = (
    "threads",
    "posts",
    "library_folders",
    "library_entries",
    "library_files",
    "library_file_versions",
)


def test_sqlite_tables_with_linked_ids_are_rebuilt_to_never_reuse_ids_keeping_their_rows(
    tmp_path,
):
    path = tmp_path / "filled.db"
    url = f"sqlite+aiosqlite:///{path}"
    command.upgrade(migrate.alembic_config(url), "5b7e2d9c4a18")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        _fill_every_table(conn)
        before = _shape(conn)
    linked = {"post_revisions", "subscriptions", "thread_reads", "library_file_texts"}
    assert all(before[name][0] == 3 for name in {*NEVER_REUSED, *linked}), before

    command.upgrade(migrate.alembic_config(url), "6c1f0a9e7d42")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        after = _shape(conn)
        after.pop("alembic_version"), before.pop("alembic_version")
        assert after == before  # every row, index and foreign key kept
        for name in NEVER_REUSED:
            (sql,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            assert "AUTOINCREMENT" in sql, sql
        # The newest thread goes (its posts with it); the next one gets a new id.
        conn.execute("DELETE FROM threads WHERE id = 3")
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 2
        conn.execute(
            "INSERT INTO threads (community_id, title, status, created_at, last_post_at, "
            "post_count, pinned, locked) VALUES (1, 'New', 'published', '2026-01-02', "
            "'2026-01-02', 0, 0, 0)"
        )
        assert conn.execute("SELECT max(id) FROM threads").fetchone()[0] == 4
        conn.commit()
    migrate.upgrade(url)  # the later revisions, on the filled database
    assert_matches_models(url)

    command.downgrade(migrate.alembic_config(url), "5b7e2d9c4a18")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM threads").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM library_file_texts").fetchone()[0] == 3
