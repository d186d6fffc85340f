"""Archiving a community: it stays readable, searchable and downloadable, takes nothing new.

What an archived community refuses is decided in connect.permissions (is_archived and the
checks that ask it); the services call `check_not_archived` first, so every refusal says
the same thing, whatever the way in (page, API, a form left open before the archive).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Conflict, Forbidden
from connect.moderation import audit
from connect.permissions import Viewer

ARCHIVED_MESSAGE = "This community is archived: it can be read but takes no new posts."


class Archived(Conflict):
    code = "archived"

    def __init__(self) -> None:
        super().__init__(ARCHIVED_MESSAGE)


def check_not_archived(community: Community) -> None:
    """Refuse (409, code `archived`) any new content or member in an archived community."""
    if permissions.is_archived(community):
        raise Archived()


def _audience(community: Community) -> str:
    return "public" if community.visibility == "open" else "members"


async def archive_community(session: AsyncSession, viewer: Viewer, community: Community) -> bool:
    """Archive the community; False if it already was (nothing changes, nothing recorded)."""
    return await _set_archived(session, viewer, community, archived=True)


async def unarchive_community(session: AsyncSession, viewer: Viewer, community: Community) -> bool:
    """Open the community to posting again; False if it was not archived."""
    return await _set_archived(session, viewer, community, archived=False)


async def _set_archived(
    session: AsyncSession, viewer: Viewer, community: Community, *, archived: bool
) -> bool:
    if not permissions.can_archive(viewer, community):
        raise Forbidden("Only this community's owners and site administrators can archive it.")
    if permissions.is_archived(community) == archived:
        return False
    before = community.archived_at
    if archived:
        community.archived_at, community.archived_by_id = utcnow(), viewer.id
    else:
        community.archived_at, community.archived_by_id = None, None
    await session.flush()
    verb = "archive" if archived else "unarchive"
    stamp = community.archived_at.isoformat() if community.archived_at else None
    await audit.record(
        session,
        viewer,
        f"community.{verb}",
        community=community,
        target_kind="community",
        target_id=community.id,
        before={"archived_at": before.isoformat() if before else None},
        after={"archived_at": stamp},
    )
    # Open pages of the community hear of it (connect.live) and offer to reload.
    await events.record(
        session,
        f"community.{verb}d",
        actor_id=viewer.id,
        community_id=community.id,
        audience=_audience(community),
        subject_id=community.id,
        data={"slug": community.slug, "archived_at": stamp},
    )
    return True
