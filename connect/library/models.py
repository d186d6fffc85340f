"""Tables for shared document libraries: folders, entries, files, their versions and texts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connect.accounts.models import User
from connect.db import NEVER_REUSE_IDS, Base, UTCDateTime, utcnow

# Like posts: published (readers of the community), pending (held for approval:
# author and moderators), hidden (moderators only). Deleting an entry removes its rows.
STATUSES = ("published", "pending", "hidden")
# A folder's kind: "" for folders members make, "attachments" for the one that
# holds files attached to discussion posts.
FOLDER_KINDS = ("", "attachments")
# Extracted text of a file version: waiting, read, unreadable, or a type without text.
TEXT_STATUSES = ("pending", "ok", "failed", "unsupported")


class Folder(Base):
    __tablename__ = "library_folders"
    __table_args__ = (
        Index("ix_library_folders_community_id_parent_id", "community_id", "parent_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_folders.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class Entry(Base):
    """A document in a library: title, description, tags and one or more files."""

    __tablename__ = "library_entries"
    __table_args__ = (
        Index("ix_library_entries_community_id_folder_id", "community_id", "folder_id"),
        Index("ix_library_entries_community_id_created_at", "community_id", "created_at"),
        Index("ix_library_entries_post_id", "post_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    folder_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_folders.id", ondelete="SET NULL"), default=None
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    download_count: Mapped[int] = mapped_column(default=0)
    # The discussion about this entry ("Discuss this document"), and for an
    # attachment the post it was attached to.
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), default=None
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )

    author: Mapped[User | None] = relationship(lazy="joined")


class LibraryFile(Base):
    """One file of an entry; its bytes live in its versions, the newest being current."""

    __tablename__ = "library_files"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("library_entries.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    filename: Mapped[str] = mapped_column(String(255))
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    download_count: Mapped[int] = mapped_column(default=0)


class FileVersion(Base):
    __tablename__ = "library_file_versions"
    __table_args__ = (UniqueConstraint("file_id", "version"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("library_files.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    # The blob: a server-made storage name. The filename below is display text only.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    download_count: Mapped[int] = mapped_column(default=0)

    uploaded_by: Mapped[User | None] = relationship(lazy="joined")


class FileText(Base):
    """The text extracted from one file version, for search and the entry's preview."""

    __tablename__ = "library_file_texts"
    __table_args__ = (Index("ix_library_file_texts_status", "status"),)

    version_id: Mapped[int] = mapped_column(
        ForeignKey("library_file_versions.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    text: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
