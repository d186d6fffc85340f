"""The library as moderation sees it: held entries, their approval, hiding and attachments.

Everything that touches connect.library goes through here, so that moderation works (without
library entries) on a site built before the library had statuses.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events
from connect.boards.models import Post
from connect.communities.models import Community

try:
    from connect.library import models as _models
    from connect.library import service as _service
except ImportError:  # pragma: no cover - a site without the library
    _models = _service = None

ENABLED = _models is not None and hasattr(_models.Entry, "status")
Entry = _models.Entry if ENABLED else None


def entry_url(entry, community: Community) -> str:
    return f"/c/{community.slug}/library/{entry.id}"


def held_entries_query(community_ids: list[int] | None):
    """Held entries uploaded on their own (attachments follow their post), or None."""
    if not ENABLED:
        return None
    query = select(Entry, Community).join(Community, Community.id == Entry.community_id)
    query = query.where(Entry.status == "pending", Entry.post_id.is_(None))
    if community_ids is not None:
        query = query.where(Entry.community_id.in_(community_ids))
    return query


async def get_entry(session: AsyncSession, entry_id: int):
    """The entry and its community, or (None, None)."""
    if not ENABLED:
        return None, None
    row = (
        await session.execute(
            select(Entry, Community)
            .join(Community, Community.id == Entry.community_id)
            .where(Entry.id == entry_id)
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


async def approve(session: AsyncSession, viewer, entry, community: Community) -> None:
    await _service.approve_entry(session, viewer, entry, community)


async def delete(session: AsyncSession, viewer, entry, community: Community) -> None:
    """Remove a rejected entry (the caller logs the rejection)."""
    await _service.delete_entry(session, viewer, entry, community, audited=True)


async def set_status(session: AsyncSession, viewer, entry, community: Community, status: str):
    """Hide or restore an entry (moderators; the caller checks and audits)."""
    before = entry.status
    entry.status = status
    await session.flush()
    audience = "moderators" if status == "hidden" else _readers(community)
    await events.record(
        session,
        "entry.updated",
        actor_id=viewer.id if viewer else None,
        community_id=community.id,
        audience=audience,
        subject_id=entry.id,
        data={"entry_id": entry.id, "change": "status", "before": {"status": before}},
    )


async def sync_attachments(session: AsyncSession, post: Post, community: Community) -> None:
    """A post's attached entries take its status (approved, hidden, restored)."""
    if ENABLED:
        await _service.sync_attachments(session, post, community)


async def sync_thread_attachments(session: AsyncSession, thread, community: Community) -> None:
    """Every post's attached entries follow the thread's new status (hidden, restored...)."""
    if ENABLED:
        await _service.sync_thread_attachments(session, thread, community)


async def delete_attachments(session: AsyncSession, viewer, post_ids: list[int], community):
    """Remove the entries attached to posts about to be deleted for good (a rejected post)."""
    if not ENABLED or not post_ids:
        return
    rows = await session.execute(select(Entry).where(Entry.post_id.in_(post_ids)))
    for entry in list(rows.scalars().unique()):
        await _service.delete_entry(session, viewer, entry, community, audited=True)


async def move_attachments(
    session: AsyncSession,
    post_ids: list[int],
    *,
    thread_id: int,
    community: Community,
    moved: bool = False,
) -> None:
    """Attachments follow their posts into another thread (merge, split) or, when `moved`,
    into that thread's new community's attachments folder."""
    if not ENABLED or not post_ids:
        return
    values: dict = {"thread_id": thread_id}
    if moved:
        folder = await _service.attachments_folder(session, community)
        values.update(community_id=community.id, folder_id=folder.id)
    ids = list(
        (await session.execute(select(Entry.id).where(Entry.post_id.in_(post_ids)))).scalars()
    )
    if not ids:
        return
    await session.execute(update(Entry).where(Entry.id.in_(ids)).values(**values))
    for entry_id in ids:
        await events.record(
            session,
            "entry.updated",
            community_id=community.id,
            audience="moderators",
            subject_id=entry_id,
            data={"entry_id": entry_id, "change": "moved"},
        )


def _readers(community: Community) -> str:
    return "public" if community.visibility == "open" else "members"
