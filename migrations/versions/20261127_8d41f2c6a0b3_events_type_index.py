"""an index on the event log's type

Revision ID: 8d41f2c6a0b3
Revises: 3a9c0e5d7b21
Create Date: 2026-11-27 12:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8d41f2c6a0b3"
down_revision: str | None = "3a9c0e5d7b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The newest event of a kind (say, the last profile change) is one index lookup.
    op.create_index("ix_events_type_id", "events", ["type", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_type_id", table_name="events")
