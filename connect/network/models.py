"""Tables for the member-to-member network: contact requests and contacts, and blocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connect.db import Base, UTCDateTime, utcnow

# A contact row is "pending" (asked, not yet answered), "accepted" (the two are
# contacts) or "ignored" (the addressee ignored it: the asker still sees "pending").
CONTACT_STATUSES = ("pending", "accepted", "ignored")
# Who may send the member a contact request or a new message.
POLICIES = ("anyone", "communities", "contacts")


class Contact(Base):
    """One row per pair of members, whichever asked first; a decline deletes the row."""

    __tablename__ = "contacts"
    __table_args__ = (
        # The pair in a canonical order, so that A→B and B→A cannot both exist.
        UniqueConstraint("low_id", "high_id"),
        CheckConstraint("low_id < high_id", name="pair_order"),
        Index("ix_contacts_addressee_id_status", "addressee_id", "status"),
        Index("ix_contacts_requester_id_status", "requester_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    addressee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    low_id: Mapped[int] = mapped_column()
    high_id: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    def other(self, user_id: int) -> int:
        return self.addressee_id if user_id == self.requester_id else self.requester_id


class Block(Base):
    """The blocker hears nothing from the blocked member: no requests, no messages."""

    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_blocked_id", "blocked_id"),)

    blocker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
