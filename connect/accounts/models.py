"""Tables for accounts: users, session and API tokens, password resets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.db import Base, UTCDateTime, utcnow

SITE_ROLES = ("member", "moderator", "admin")


class User(Base):
    __tablename__ = "users"
    # The member directory lists members by name: its pages walk this index.
    __table_args__ = (Index("ix_users_display_name_lower", text("lower(display_name)"), "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    site_role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspension_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    # Set when the member deleted their account: the row stays, anonymised, for what it wrote.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A deleted account's former username, keyed with the site's secret (never the name itself):
    # nobody signs up under it again, so old mentions and moderation-log entries that name it
    # never lead to someone else.
    former_username_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)

    profile: Mapped[Profile] = relationship(  # noqa: F821
        back_populates="user", lazy="joined", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def is_admin(self) -> bool:
        return self.site_role == "admin"

    @property
    def is_site_moderator(self) -> bool:
        return self.site_role in ("moderator", "admin")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def is_suspended(self, now: datetime | None = None) -> bool:
        return self.suspended_until is not None and self.suspended_until > (now or utcnow())


class Token(Base):
    """A browser session (kind "session") or an API bearer token (kind "api").

    Only the token's sha256 is stored, so a leaked database does not sign anyone in.
    """

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_user_id_kind", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    user: Mapped[User] = relationship(lazy="joined")


class PasswordReset(Base):
    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
