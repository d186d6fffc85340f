"""an index for the member directory's order by name

Revision ID: 3a9c0e5d7b21
Revises: f738cbfad1ed
Create Date: 2026-11-27 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a9c0e5d7b21"
down_revision: str | None = "f738cbfad1ed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The directory's pages (ORDER BY lower(display_name), id) walk it instead of sorting
    # every listed member.
    op.create_index(
        "ix_users_display_name_lower", "users", [sa.text("lower(display_name)"), "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_users_display_name_lower", table_name="users")
