"""never reuse the ids of deleted threads, posts and library rows on SQLite

Revision ID: 6c1f0a9e7d42
Revises: 5b7e2d9c4a18
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6c1f0a9e7d42"
down_revision: str | None = "5b7e2d9c4a18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Their ids appear in links, flags and the moderation log, and their rows can be deleted.
# Parents before children, so each copy finds the rows it refers to.
TABLES = (
    "threads",
    "posts",
    "library_folders",
    "library_entries",
    "library_files",
    "library_file_versions",
)


def _rebuild(autoincrement: bool) -> None:
    # SQLite only: a table takes AUTOINCREMENT when it is created, so each one is copied
    # into a new table (rows, indexes and foreign keys kept). PostgreSQL's sequences never
    # hand out an id twice, so there is nothing to do there.
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
