"""deleted accounts: users.deleted_at and former_username_key, and notifications found by
their actor

Revision ID: a4e3bedab281
Revises: b4e7a1c9d350
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connect.db

revision: str = "a4e3bedab281"
down_revision: str | None = "b4e7a1c9d350"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Set when a member deletes their account; the row stays, anonymised.
    op.add_column(
        "users", sa.Column("deleted_at", connect.db.UTCDateTime(timezone=True), nullable=True)
    )
    # A deleted account's username, keyed: refused to new accounts.
    op.add_column("users", sa.Column("former_username_key", sa.String(64), nullable=True))
    op.create_index("ix_users_former_username_key", "users", ["former_username_key"])
    # Deleting an account renames its author in the notifications it caused.
    op.create_index("ix_notifications_actor_id", "notifications", ["actor_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_actor_id", table_name="notifications")
    op.drop_index("ix_users_former_username_key", table_name="users")
    op.drop_column("users", "former_username_key")
    # Not in batch mode: copying users would lose its expression index on SQLite (3.35 and
    # later drop a column in place).
    op.drop_column("users", "deleted_at")
