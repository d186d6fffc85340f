"""indexes for the home feed's newest activity per community

Revision ID: 5b7e2d9c4a18
Revises: 8d41f2c6a0b3
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b7e2d9c4a18"
down_revision: str | None = "8d41f2c6a0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A community's newest replies and joins are read along these, newest first, and the
    # reading stops after a page's worth.
    op.create_index("ix_posts_community_id_created_at", "posts", ["community_id", "created_at"])
    op.create_index(
        "ix_memberships_community_id_created_at", "memberships", ["community_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_memberships_community_id_created_at", table_name="memberships")
    op.drop_index("ix_posts_community_id_created_at", table_name="posts")
