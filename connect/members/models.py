"""Tables for members: the profile beside each account."""

from __future__ import annotations

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, Text, and_, cast, literal
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.db import Base, contains_any_case

PROFILE_FIELDS = ("pronouns", "title", "organization", "location", "bio", "interests")
# Shown to everyone unless the member hides them; display name and username always are.
DEFAULT_PUBLIC_FIELDS = ["pronouns", "title", "organization", "location", "bio", "interests"]


class Profile(Base):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    pronouns: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(120), default="")
    organization: Mapped[str] = mapped_column(String(160), default="", index=True)
    location: Mapped[str] = mapped_column(String(120), default="", index=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    interests: Mapped[str] = mapped_column(String(500), default="")
    avatar_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    public_fields: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_PUBLIC_FIELDS))
    listed: Mapped[bool] = mapped_column(default=True)
    preferences: Mapped[dict] = mapped_column(JSON, default=dict)
    # Privacy (connect.network.models.POLICIES): who may ask to connect, who may message.
    contact_policy: Mapped[str] = mapped_column(
        String(16), default="anyone", server_default="anyone"
    )
    message_policy: Mapped[str] = mapped_column(
        String(16), default="anyone", server_default="anyone"
    )

    user: Mapped[User] = relationship(back_populates="profile")  # noqa: F821

    @property
    def interest_list(self) -> list[str]:
        return [i.strip() for i in self.interests.split(",") if i.strip()]


def public_field_clause(name: str) -> ColumnElement[bool]:
    """SQL: the profile shows this field to everyone (a hidden one must not be searchable).

    public_fields is a JSON list; a LIKE on its text form works on SQLite and PostgreSQL.
    """
    return cast(Profile.public_fields, String).like(f'%"{name}"%')


def interest_clause(interest: str) -> ColumnElement[bool]:
    """SQL: one of the profile's public interests is exactly this one (any case).

    Interests are stored as "a, b, c" (connect.members.service cleans them), so the
    list wrapped in ", " and "," holds ", <interest>," exactly when it names it.
    """
    wrapped = literal(", ", String) + Profile.interests + literal(",", String)
    return and_(
        contains_any_case(wrapped, f", {interest.strip()},"), public_field_clause("interests")
    )
