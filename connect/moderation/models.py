"""Tables for moderation: flags, sanctions, the audit log and site-wide moderation settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.accounts.models import User
from connect.db import Base, UTCDateTime, utcnow

FLAG_REASONS = ("spam", "abuse", "off_topic", "other")
# open: waiting for a moderator; upheld: the item was removed; dismissed: it stays.
FLAG_STATUSES = ("open", "upheld", "dismissed")
# What a flag or a queue item points at.
ITEM_KINDS = ("thread", "post", "entry")
# ban: no posting or uploading in one community; suspension: site-wide, read public content
# only (mirrored on users.suspended_until); require_approval: everything they post is held;
# flag_bar: their flags are refused. All but suspension exist per community or site-wide.
SANCTION_KINDS = ("ban", "suspension", "require_approval", "flag_bar")


class Flag(Base):
    """A member's report of a post or library entry; one per member and item."""

    __tablename__ = "moderation_flags"
    __table_args__ = (
        UniqueConstraint("item_kind", "item_id", "user_id"),
        Index("ix_moderation_flags_status_community_id", "status", "community_id"),
        Index("ix_moderation_flags_item_author_id", "item_author_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column()
    # Who wrote the flagged item, kept for the author's history in the queue.
    item_author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    user: Mapped[User] = relationship(lazy="joined", foreign_keys=[user_id])


class Sanction(Base):
    """A ban, suspension, approval mark or flag bar; lifted and expired ones stay as history."""

    __tablename__ = "moderation_sanctions"
    __table_args__ = (
        Index("ix_moderation_sanctions_user_id_lifted_at", "user_id", "lifted_at"),
        Index("ix_moderation_sanctions_community_id_kind", "community_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # None: permanent
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lifted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    lift_reason: Mapped[str] = mapped_column(String(1000), default="")

    user: Mapped[User] = relationship(lazy="joined", foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[created_by_id])

    def active(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.lifted_at is None and (self.ends_at is None or self.ends_at > now)


class AuditEntry(Base):
    """One moderator or admin action: who, what, on what, when, why, before and after.

    Written in the action's own transaction and never changed: no foreign keys (a row
    outlives the people and things it names, whose names it keeps) and no updates.
    """

    __tablename__ = "moderation_log"
    __table_args__ = (
        Index("ix_moderation_log_community_id_id", "community_id", "id"),
        Index("ix_moderation_log_action", "action"),
        Index("ix_moderation_log_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(default=None)  # None: the system (flag threshold)
    actor_name: Mapped[str] = mapped_column(String(40), default="")
    community_id: Mapped[int | None] = mapped_column(default=None)  # None: site-wide
    community_slug: Mapped[str] = mapped_column(String(40), default="")
    action: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(16), default="")
    target_id: Mapped[int | None] = mapped_column(default=None)
    target_user_id: Mapped[int | None] = mapped_column(default=None)
    target_name: Mapped[str] = mapped_column(String(40), default="")
    summary: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _never_change(mapper, connection, target) -> None:
    raise PermissionError("The moderation log is append-only.")


class SiteSetting(Base):
    """Site-wide moderation settings (posting limits), by key; the defaults live in code."""

    __tablename__ = "moderation_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
