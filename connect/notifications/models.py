"""Tables for in-app notifications and the outgoing mail queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.accounts.models import User
from connect.db import Base, UTCDateTime, utcnow

KINDS = (
    "reply",
    "mention",
    "followed_post",
    "new_thread",
    "membership",
    "moderation",
    "message",
    "contact",
)
EMAIL_MODES = ("real_time", "digest", "in_app")


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # The notifier may see an event twice after a crash: one notification per event.
        UniqueConstraint("user_id", "event_id"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_email_mode_emailed_at", "email_mode", "emailed_at"),
        # Deleting an account renames its author in the notifications it caused.
        Index("ix_notifications_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    community_id: Mapped[int | None] = mapped_column(default=None)
    thread_id: Mapped[int | None] = mapped_column(default=None)
    post_id: Mapped[int | None] = mapped_column(default=None)
    title: Mapped[str] = mapped_column(String(300))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    email_mode: Mapped[str] = mapped_column(String(16), default="in_app")
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    actor: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[actor_id])


class OutgoingMail(Base):
    """A message waiting to be sent; kept until the SMTP server accepts it, or until it
    failed for good (`failed_at`: refused outright, or deferred for too long)."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        Index("ix_outgoing_mail_sent_at_next_attempt_at", "sent_at", "next_attempt_at"),
        Index("ix_outgoing_mail_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def is_notice(self) -> bool:
        """A notice of members' posts or a digest (they carry an unsubscribe link), rather
        than mail about the account itself (a reset link, an address to confirm)."""
        return "List-Unsubscribe" in (self.headers or {})


class DigestRun(Base):
    __tablename__ = "digest_runs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
