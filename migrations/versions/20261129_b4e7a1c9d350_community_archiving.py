"""communities can be archived: readable, but taking no new content or members

Revision ID: b4e7a1c9d350
Revises: 9e4b7c1d2a63
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connect.db

revision: str = "b4e7a1c9d350"
down_revision: str | None = "9e4b7c1d2a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("archived_at", connect.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("archived_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_communities_archived_by_id_users"),
            "users",
            ["archived_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_communities_archived_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("archived_by_id")
        batch_op.drop_column("archived_at")
