"""Tables for communities and memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.accounts.models import User
from connect.db import Base, UTCDateTime, utcnow

VISIBILITIES = ("open", "closed", "private")
MODERATION_MODES = ("none", "new_members", "all")
ROLES = ("member", "moderator", "owner")
# A membership row is "active" (a member with a role), "pending" (asked to join a
# closed community) or "invited" (asked by a moderator to join).
STATUSES = ("active", "pending", "invited")


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="open")
    moderation: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    member_count: Mapped[int] = mapped_column(default=0)
    # Moderation settings: flag_threshold and posting limits (connect.moderation.limits
    # holds the defaults; a missing key means the default).
    settings: Mapped[dict] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    # Archived: still read, searched and downloaded, but takes no new content or members
    # (connect.communities.archive).
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    archived_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("community_id", "user_id"),
        Index("ix_memberships_user_id_status", "user_id", "status"),
        # The home feed reads a community's newest joins along this index.
        Index("ix_memberships_community_id_created_at", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    community: Mapped[Community] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined", foreign_keys=[user_id])
