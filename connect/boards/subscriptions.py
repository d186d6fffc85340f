"""Following boards and threads: by default when one writes there, or by choice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.boards.models import NOT_FOLLOWING, SUBSCRIPTION_MODES, Subscription, Thread
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Invalid, NotFound, NotSignedIn
from connect.permissions import Viewer


def _default_mode(user: User) -> str:
    mode = (user.profile.preferences or {}).get("subscription_mode") if user.profile else None
    return mode if mode in SUBSCRIPTION_MODES else "real_time"


async def follow_by_default(session: AsyncSession, user: User, thread: Thread) -> None:
    """Authors and repliers follow the thread, in their usual mode, unless they chose not to."""
    existing = await session.execute(
        select(Subscription.id).where(
            Subscription.user_id == user.id, Subscription.thread_id == thread.id
        )
    )
    if existing.first() is None:
        session.add(
            Subscription(
                user_id=user.id,
                community_id=thread.community_id,
                thread_id=thread.id,
                mode=_default_mode(user),
                created_at=utcnow(),
            )
        )


async def subscribe(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    thread: Thread | None = None,
    mode: str = "real_time",
) -> Subscription:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to follow discussions.")
    if mode not in SUBSCRIPTION_MODES:
        raise Invalid(
            f"mode is one of {', '.join(SUBSCRIPTION_MODES)}.", fields={"mode": "Unknown mode."}
        )
    if not permissions.can_read_community(viewer, community):
        raise NotFound("There is no community at this address.")
    thread_id = thread.id if thread else None
    existing = (
        await session.execute(
            select(Subscription).where(
                Subscription.user_id == viewer.id,
                Subscription.community_id == community.id,
                Subscription.thread_id.is_(None)
                if thread_id is None
                else Subscription.thread_id == thread_id,
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        existing = Subscription(
            user_id=viewer.id,
            community_id=community.id,
            thread_id=thread_id,
            created_at=utcnow(),
        )
        session.add(existing)
    existing.mode = mode
    await session.flush()
    return existing


async def unsubscribe(
    session: AsyncSession, user_id: int, community_id: int, thread_id: int | None
) -> bool:
    """Stop following the board, or the thread; False if it was not followed.

    A thread stays marked as not followed (NOT_FOLLOWING), so that replying there later
    does not follow it again by default."""
    existing = (
        await session.execute(
            select(Subscription).where(
                Subscription.user_id == user_id,
                Subscription.community_id == community_id,
                Subscription.thread_id.is_(None)
                if thread_id is None
                else Subscription.thread_id == thread_id,
            )
        )
    ).scalar_one_or_none()
    if thread_id is None:
        if existing is not None:
            await session.delete(existing)
        return existing is not None
    if existing is None:
        session.add(
            Subscription(
                user_id=user_id,
                community_id=community_id,
                thread_id=thread_id,
                mode=NOT_FOLLOWING,
                created_at=utcnow(),
            )
        )
        return False
    was_following = existing.mode != NOT_FOLLOWING
    existing.mode = NOT_FOLLOWING
    return was_following
