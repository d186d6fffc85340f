"""The event log (outbox): every change others must hear about, written with the change.

Consumers (search indexer, live hub, notifier, extractor) each keep a cursor and
read forward with `read_since`. Ids may commit out of order on PostgreSQL, so a reader
never passes a missing id that an open transaction may still commit (see read_since).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    delete,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from connect.db import Base, UTCDateTime, utcnow

# Who may see an event: anyone who can read its community, only its members,
# only its moderators, or the author (actor) plus moderators; "user" means the
# one member named by target_user_id.
AUDIENCES = ("public", "members", "moderators", "author", "user")

# SQLite: how long a missing id is waited for before it is passed. (SQLite has one
# writer at a time, so an id commits in order or never; PostgreSQL needs no guess.)
GAP_GRACE = timedelta(seconds=5)

# PostgreSQL: draw the event's id, then read the clock; the stamp is later than the draw.
_DRAW = text(
    "SELECT drawn.id, clock_timestamp() FROM "
    "(SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id OFFSET 0) AS drawn"
)
# PostgreSQL: read the clock, then (in the same statement, after it) the start of the
# oldest transaction still open in this database. Sessions whose details are hidden
# from this role count as open since ever: they might hold an id.
_HORIZON = text(
    """
    SELECT now.r, now.isolation, (
        SELECT min(CASE WHEN a.query = '<insufficient privilege>'
                        THEN '-infinity'::timestamptz ELSE a.xact_start END)
        FROM pg_stat_get_activity(NULL) AS a
        WHERE now.r IS NOT NULL
          AND a.pid <> pg_backend_pid()
          AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND (a.xact_start IS NOT NULL OR a.query = '<insufficient privilege>')
          AND (a.backend_type = 'client backend' OR a.backend_type IS NULL)
    )
    FROM (
        SELECT clock_timestamp() AS r, current_setting('transaction_isolation') AS isolation,
               pg_stat_clear_snapshot()
        OFFSET 0
    ) AS now
    """
)

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_community_id_id", "community_id", "id"),
        Index("ix_events_type_id", "type", "id"),
    )

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
    drawn: dict = {"created_at": utcnow()}
    if _is_postgres(session):
        # The id and a server clock reading taken after it: read_since relies on the order.
        with session.no_autoflush:
            event_id, stamp = (await session.execute(_DRAW)).one()
        drawn = {"id": event_id, "created_at": stamp}
    event = Event(
        type=type,
        actor_id=actor_id,
        community_id=community_id,
        audience=audience,
        target_user_id=target_user_id,
        subject_id=subject_id,
        data=data or {},
        **drawn,
    )
    session.add(event)
    session.info["events_recorded"] = True
    return event


@dataclass
class Batch:
    events: list[Event]
    cursor: int  # the cursor to store once these events are handled


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def read_since(session: AsyncSession, cursor: int, *, limit: int = 500) -> Batch:
    """Events after `cursor` in id order, never passing a missing id that may still commit.

    PostgreSQL draws ids from a sequence, so a transaction may commit id 9 after another
    committed id 10. Every missing id below a visible one was drawn by a transaction that
    started before that visible event was stamped (record() reads the clock after drawing).
    So: read the clock (r) and the start of the oldest transaction still open (m), then the
    events; a visible event stamped before both r and m proves every id below it final,
    since any transaction still holding one would have started before the stamp and still
    be open. Only gaps wait, and only for transactions older than the event after them.
    SQLite has one writer: a gap there is a rolled-back id, waited for GAP_GRACE.
    """
    horizon = None
    if _is_postgres(session):
        now, isolation, oldest = (await session.execute(_HORIZON)).one()
        if isolation != "read committed":
            raise RuntimeError("read_since needs a READ COMMITTED transaction on PostgreSQL")
        horizon = min(now, oldest) if oldest is not None else now
    rows = (
        (
            await session.execute(
                select(Event).where(Event.id > cursor).order_by(Event.id).limit(limit)
            )
        )
        .scalars()
        .all()
    )
    if horizon is not None:
        settled = max((e.id for e in rows if e.created_at < horizon), default=cursor)
    else:
        young = utcnow() - GAP_GRACE
        settled = max((e.id for e in rows if e.created_at <= young), default=cursor)
    expected = cursor + 1
    taken: list[Event] = []
    for event in rows:
        if event.id != expected and event.id - 1 > settled:
            break  # an earlier id is missing and may still commit: wait for it
        taken.append(event)
        expected = event.id + 1
    new_cursor = taken[-1].id if taken else cursor
    return Batch(taken, new_cursor)


async def latest_id(session: AsyncSession) -> int:
    return (await session.execute(_LATEST)).scalar() or 0


# Built once: every board and thread page asks.
_LATEST = select(func.max(Event.id))


def latest_of(types: tuple[str, ...]):
    """A statement for the newest event id among these types (0 if none): one lookup in
    ix_events_type_id per type. Build it once and run it with `session.scalar`."""
    newest = union_all(
        *(select(func.max(Event.id).label("id")).where(Event.type == t) for t in types)
    ).subquery()
    return select(func.coalesce(func.max(newest.c.id), 0))


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
    # The newest event always stays: SQLite gives a new row max(id) + 1, and an emptied
    # table would hand out ids that the consumers' cursors have already passed.
    newest = await latest_id(session)
    result = await session.execute(
        delete(Event).where(
            Event.id <= slowest, Event.id < newest, Event.created_at < utcnow() - older_than
        )
    )
    return result.rowcount or 0
