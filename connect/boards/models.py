"""Tables for discussion boards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from connect.accounts.models import User
from connect.db import NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

# published: everyone who can read the community; pending: held for approval
# (author and moderators); hidden: by moderators (moderators only);
# deleted: a "removed" placeholder for readers.
STATUSES = ("published", "pending", "hidden", "deleted")
SUBSCRIPTION_MODES = ("real_time", "digest", "in_app")
# A thread the member chose to stop following: kept, so that replying there (or being its
# author) does not follow it again by default. Nothing is sent for it.
NOT_FOLLOWING = "none"


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        Index(
            "ix_threads_community_id_pinned_last_post_at", "community_id", "pinned", "last_post_at"
        ),
        Index("ix_threads_community_id_created_at", "community_id", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_post_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_poster_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    post_count: Mapped[int] = mapped_column(default=0)
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    first_post_id: Mapped[int | None] = mapped_column(default=None)

    author: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[author_id])
    # Pages show only the last poster's name: read with the thread, as a value (a joined
    # member with a profile, on every thread of a board page, cost two objects each).
    last_poster_name: Mapped[str | None] = column_property(
        select(User.display_name)
        .where(User.id == last_poster_id)
        .correlate_except(User)
        .scalar_subquery()
    )


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_thread_id_id", "thread_id", "id"),
        Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        Index("ix_posts_community_id_author_id", "community_id", "author_id"),
        # The home feed reads a community's newest replies along this index.
        Index("ix_posts_community_id_created_at", "community_id", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    edited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    recommend_count: Mapped[int] = mapped_column(default=0)

    author: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[author_id])
    thread: Mapped[Thread] = relationship(lazy="raise")


class PostRevision(Base):
    """A post's earlier text, kept on every edit so the history can be read."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    editor: Mapped[User | None] = relationship(lazy="joined")


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Subscription(Base):
    """A member following a thread or a whole board (thread_id null), or a thread they
    chose to stop following (mode NOT_FOLLOWING)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "community_id", "thread_id"),
        Index("ix_subscriptions_thread_id", "thread_id"),
        Index("ix_subscriptions_community_id_thread_id", "community_id", "thread_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), default=None
    )
    mode: Mapped[str] = mapped_column(String(16), default="real_time")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThreadRead(Base):
    """How far a member has read a thread, for the "new since your last visit" marker."""

    __tablename__ = "thread_reads"
    __table_args__ = (UniqueConstraint("user_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    last_read_post_id: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
