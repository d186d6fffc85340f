"""The event log (outbox): every change others must hear about, written with the change.

Consumers (search indexer, live hub, notifier, extractor) each keep a cursor and
read forward with `read_since`. Ids may commit out of order on PostgreSQL, so
a reader stops before a gap that is young enough to still be filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, BigInteger, Index, Integer, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from connect.db import Base, UTCDateTime, utcnow

# Who may see an event: anyone who can read its community, only its members,
# only its moderators, or the author (actor) plus moderators; "user" means the
# one member named by target_user_id.
AUDIENCES = ("public", "members", "moderators", "author", "user")

# How long a missing id may still commit (an open transaction on PostgreSQL).
GAP_GRACE = timedelta(seconds=5)

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_community_id_id", "community_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(default=None)
    community_id: Mapped[int | None] = mapped_column(default=None)
    audience: Mapped[str] = mapped_column(String(16), default="public")
    target_user_id: Mapped[int | None] = mapped_column(default=None)
    subject_id: Mapped[int | None] = mapped_column(default=None)
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class ConsumerCursor(Base):
    """Where each consumer has read up to, and the lease that makes it the only one."""

    __tablename__ = "consumer_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    lease_holder: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


async def record(
    session: AsyncSession,
    type: str,
    *,
    actor_id: int | None = None,
    community_id: int | None = None,
    audience: str = "public",
    target_user_id: int | None = None,
    subject_id: int | None = None,
    data: dict | None = None,
) -> Event:
    """Add an event to the caller's transaction; it commits (or not) with the change."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    event = Event(
        type=type,
        actor_id=actor_id,
        community_id=community_id,
        audience=audience,
        target_user_id=target_user_id,
        subject_id=subject_id,
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    session.info["events_recorded"] = True
    return event


@dataclass
class Batch:
    events: list[Event]
    cursor: int  # the cursor to store once these events are handled


async def read_since(session: AsyncSession, cursor: int, *, limit: int = 500) -> Batch:
    """Events after `cursor` in id order, stopping before a gap that may still fill."""
    rows = (
        (
            await session.execute(
                select(Event).where(Event.id > cursor).order_by(Event.id).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    now = utcnow()
    expected = cursor + 1
    taken: list[Event] = []
    for event in rows:
        if event.id != expected and now - event.created_at < GAP_GRACE:
            # An earlier id is missing: a transaction may still commit it. Wait.
            break
        taken.append(event)
        expected = event.id + 1
    new_cursor = taken[-1].id if taken else cursor
    return Batch(taken, new_cursor)


async def latest_id(session: AsyncSession) -> int:
    return (await session.execute(select(func.max(Event.id)))).scalar() or 0


async def get_cursor(session: AsyncSession, name: str) -> int:
    row = await session.get(ConsumerCursor, name)
    return row.last_event_id if row else 0


async def set_cursor(session: AsyncSession, name: str, last_event_id: int) -> None:
    row = await session.get(ConsumerCursor, name)
    if row is None:
        session.add(ConsumerCursor(name=name, last_event_id=last_event_id))
    else:
        row.last_event_id = max(row.last_event_id, last_event_id)


async def prune(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete events past the retention that every consumer has already read."""
    slowest = (await session.execute(select(func.min(ConsumerCursor.last_event_id)))).scalar()
    if slowest is None:
        return 0
    result = await session.execute(
        delete(Event).where(Event.id <= slowest, Event.created_at < utcnow() - older_than)
    )
    return result.rowcount or 0
