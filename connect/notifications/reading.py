"""Reading one's notifications: the list (about threads out of reach, only their place),
the unread count, marking read, and their JSON."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.boards.models import Thread
from connect.communities.models import Community
from connect.db import utcnow
from connect.notifications.models import Notification
from connect.permissions import Viewer


def unread_count_query(user_id: int):
    """A scalar subquery, so the page header reads this and the message count in one go."""
    return (
        select(func.count(Notification.id))
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


async def unread_count(session: AsyncSession, user_id: int) -> int:
    return (await session.execute(select(unread_count_query(user_id)))).scalar()


async def list_for(
    session: AsyncSession,
    reader: Viewer,
    *,
    unread_only: bool = False,
    page: int = 1,
    per_page: int = 30,
) -> tuple[list[Notification], int]:
    condition = Notification.user_id == reader.id
    if unread_only:
        condition = condition & Notification.read_at.is_(None)
    total = (await session.execute(select(func.count(Notification.id)).where(condition))).scalar()
    rows = await session.execute(
        select(Notification)
        .where(condition)
        .order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    found = list(rows.scalars().unique())
    for notification in await unreadable(session, reader, found):
        # Shown, not stored: the thread may become readable again.
        session.expunge(notification)
        notification.title = WITHHELD
        notification.excerpt = ""
        notification.url = "/notifications"
    return found, total


WITHHELD = "About a discussion you can no longer read"


async def get_for(
    session: AsyncSession, reader: Viewer, notification_id: int
) -> Notification | None:
    """The reader's notification, or None; also None when its thread is out of their reach."""
    found = await session.get(Notification, notification_id)
    if found is None or found.user_id != reader.id or await unreadable(session, reader, [found]):
        return None
    return found


async def unreadable(
    session: AsyncSession, reader: Viewer, notifications: list[Notification]
) -> list[Notification]:
    """Those about a thread the reader may no longer read (made private, moved, hidden)."""
    ids = {n.thread_id for n in notifications if n.thread_id}
    if not ids:
        return []
    rows = await session.execute(
        select(Thread, Community)
        .join(Community, Community.id == Thread.community_id)
        .where(Thread.id.in_(ids))
    )
    readable = {
        thread.id
        for thread, community in rows
        if thread.status != "deleted"
        and permissions.can_see_post(
            reader, community, status=thread.status, author_id=thread.author_id
        )
    }
    return [n for n in notifications if n.thread_id and n.thread_id not in readable]


async def mark_read(session: AsyncSession, user_id: int, ids: list[int] | None = None) -> int:
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    result = await session.execute(query.values(read_at=utcnow()))
    return result.rowcount or 0


def notification_json(n: Notification) -> dict:
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "excerpt": n.excerpt,
        "url": n.url,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
        "actor": n.actor.username if n.actor else None,
    }
