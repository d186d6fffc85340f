"""outgoing mail that failed for good: when (failed_at), indexed for the administrator's page

Revision ID: 9e4b7c1d2a63
Revises: 6c1f0a9e7d42
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connect.db

revision: str = "9e4b7c1d2a63"
down_revision: str | None = "6c1f0a9e7d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_at", connect.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_outgoing_mail_failed_at", ["failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_outgoing_mail_failed_at")
        batch_op.drop_column("failed_at")
