"""Moderators' actions on content: hide and restore posts and entries, and flag them.

Each checks permissions, changes rows, records the events others follow (readers, search,
live) and one audit row, all in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.boards.models import Post, Thread
from connect.boards.reading import post_json, thread_json
from connect.communities.models import Community
from connect.errors import Conflict, Forbidden, Invalid
from connect.markup import excerpt
from connect.moderation import audit, flags, library, notices
from connect.permissions import Viewer

REASON_MAX = 1000


def readers(community: Community) -> str:
    return "public" if community.visibility == "open" else "members"


def clean_reason(reason, *, required: bool = False) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if required and not reason:
        raise Invalid("Give a reason: the author sees it.", fields={"reason": "Give a reason."})
    if len(reason) > REASON_MAX:
        raise Invalid(
            f"Use at most {REASON_MAX} characters.",
            fields={"reason": f"At most {REASON_MAX} characters."},
        )
    return reason


def require_moderator(viewer: Viewer, community: Community) -> None:
    if not permissions.can_moderate(viewer, community):
        raise Forbidden("Only this community's moderators can do that.")


async def recount(session: AsyncSession, thread: Thread) -> None:
    """A thread's counts and last post from its published posts (after posts came or went)."""
    count, last = (
        await session.execute(
            select(func.count(Post.id), func.max(Post.id)).where(
                Post.thread_id == thread.id, Post.status == "published"
            )
        )
    ).one()
    thread.post_count = count
    if last is not None:
        latest = await session.get(Post, last)
        thread.last_post_at, thread.last_poster_id = latest.created_at, latest.author_id


# Hide and restore ----------------------------------------------------------------------


async def set_post_hidden(
    session: AsyncSession,
    actor_id: int | None,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    hidden: bool,
) -> bool:
    """Hide a published post (its thread too, for a first post) or restore it; False if
    there was nothing to change. Readers hear only that it went, never its text."""
    if post.status != ("published" if hidden else "hidden"):
        return False
    post.status = "hidden" if hidden else "published"
    first = post.id == thread.first_post_id
    if first:
        thread.status = post.status
    await session.flush()
    await recount(session, thread)
    if first:
        await library.sync_thread_attachments(session, thread, community)
    else:
        await library.sync_attachments(session, post, community)
    if hidden:
        data = {"thread_id": thread.id, "post": {"id": post.id}, "status": "hidden"}
        await events.record(
            session,
            "post.hidden",
            actor_id=actor_id,
            community_id=community.id,
            audience=readers(community),
            subject_id=post.id,
            data=data,
        )
    else:
        await events.record(
            session,
            "post.updated",
            actor_id=actor_id,
            community_id=community.id,
            audience=permissions.event_audience(community, thread.status, post.status),
            subject_id=post.id,
            data={"thread_id": thread.id, "post": post_json(post), "status": "published"},
        )
    if first:
        await events.record(
            session,
            "thread.hidden" if hidden else "thread.updated",
            actor_id=actor_id,
            community_id=community.id,
            audience=readers(community),
            subject_id=thread.id,
            data={"thread_id": thread.id} if hidden else {"thread": thread_json(thread, community)},
        )
    return True


async def hide_post(
    session: AsyncSession,
    viewer: Viewer,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    reason="",
) -> Post:
    require_moderator(viewer, community)
    reason = clean_reason(reason)
    if post.status == "hidden":
        return post
    if post.status != "published":
        raise Conflict("Only published posts can be hidden; review held posts in the queue.")
    await _set_post_hidden(session, viewer, post, thread, community, hidden=True, reason=reason)
    return post


async def restore_post(
    session: AsyncSession,
    viewer: Viewer,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    reason="",
) -> Post:
    """Restore a hidden post; its open flags are dismissed (the flaggers are told)."""
    require_moderator(viewer, community)
    reason = clean_reason(reason)
    if post.status != "hidden":
        raise Conflict("Only hidden posts can be restored.")
    await _set_post_hidden(session, viewer, post, thread, community, hidden=False, reason=reason)
    return post


async def _set_post_hidden(
    session: AsyncSession,
    viewer: Viewer,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    hidden: bool,
    reason: str,
) -> None:
    """Hide or restore the post, and say so: the log, its flags (upheld when hidden,
    dismissed when restored), its author and the live pages."""
    outcome = "hidden" if hidden else "restored"
    await set_post_hidden(session, viewer.id, post, thread, community, hidden=hidden)
    await audit.record(
        session,
        viewer,
        "post.hide" if hidden else "post.restore",
        community=community,
        target_kind="post",
        target_id=post.id,
        target_user=post.author,
        summary=f"in “{thread.title}”",
        reason=reason,
    )
    await flags.resolve(session, viewer, community, "post", post.id, thread.title, upheld=hidden)
    # A hidden post's author sees what was hidden; a restored one's, where it is again.
    shown = {"excerpt": excerpt(post.body, 300)} if hidden else {"url": f"/posts/{post.id}"}
    await notices.decided(
        session,
        viewer,
        community,
        author_id=post.author_id,
        outcome=outcome,
        kind="post",
        item_id=post.id,
        title=thread.title,
        reason=reason,
        **shown,
    )
    await notices.changed(session, community, kind="post", item_id=post.id, action=outcome)


async def set_entry_hidden(
    session: AsyncSession, viewer: Viewer, entry, community: Community, *, hidden: bool, reason=""
):
    """Hide a published library entry or restore a hidden one (moderators)."""
    require_moderator(viewer, community)
    reason = clean_reason(reason)
    want, have = ("hidden", "published") if hidden else ("published", "hidden")
    if entry.status == want:
        return entry
    if entry.status != have:
        raise Conflict("Review held entries in the queue.")
    await library.set_status(session, viewer, entry, community, want)
    await audit.record(
        session,
        viewer,
        "entry.hide" if hidden else "entry.restore",
        community=community,
        target_kind="entry",
        target_id=entry.id,
        target_user=entry.author,
        summary=f"“{entry.title}”",
        reason=reason,
    )
    await flags.resolve(session, viewer, community, "entry", entry.id, entry.title, upheld=hidden)
    await notices.decided(
        session,
        viewer,
        community,
        author_id=entry.author_id,
        outcome="hidden" if hidden else "restored",
        kind="entry",
        item_id=entry.id,
        title=entry.title,
        reason=reason,
        url=library.entry_url(entry, community),
    )
    await notices.changed(session, community, kind="entry", item_id=entry.id, action=want)
    return entry


# Flags ------------------------------------------------------------------------------------


async def flag_post(
    session: AsyncSession,
    viewer: Viewer,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    reason,
    note="",
):
    """Flag a post; a moderator's flag, or enough members', hides it for review."""

    async def hide(actor_id: int | None) -> bool:
        return await set_post_hidden(session, actor_id, post, thread, community, hidden=True)

    return await flags.flag_item(
        session,
        viewer,
        community,
        kind="post",
        item=post,
        title=thread.title,
        reason=reason,
        note=note,
        hide=hide,
    )


async def flag_entry(
    session: AsyncSession, viewer: Viewer, entry, community: Community, *, reason, note=""
):
    async def hide(actor_id: int | None) -> bool:
        if entry.status != "published":
            return False
        await library.set_status(session, None, entry, community, "hidden")
        return True

    return await flags.flag_item(
        session,
        viewer,
        community,
        kind="entry",
        item=entry,
        title=entry.title,
        reason=reason,
        note=note,
        hide=hide,
    )
