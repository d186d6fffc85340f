"""Moderators' actions on whole threads: move to another community, merge, split.

Posts, attachments, flags and followers go along; search and live follow the events.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.boards.models import Post, Subscription, Thread, ThreadRead
from connect.boards.reading import thread_json
from connect.boards.service import _clean_title
from connect.communities.archive import check_not_archived
from connect.communities.models import Community
from connect.errors import Forbidden, Invalid, NotFound
from connect.moderation import audit, flags, library, notices
from connect.moderation.content import clean_reason, readers, recount, require_moderator
from connect.permissions import Viewer


async def _post_ids(session: AsyncSession, thread_id: int) -> list[int]:
    rows = await session.execute(select(Post.id).where(Post.thread_id == thread_id))
    return list(rows.scalars())


async def _moved_posts(session: AsyncSession, ids: list[int], thread: Thread, community) -> None:
    """Each moved post's search document and live channel follow it to its new thread."""
    for post in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars():
        await events.record(
            session,
            "post.moved",
            community_id=community.id,
            audience=readers(community) if post.status == "published" else "moderators",
            subject_id=post.id,
            data={"thread_id": thread.id, "post_id": post.id},
        )


async def move_thread(
    session: AsyncSession,
    viewer: Viewer,
    thread: Thread,
    source: Community,
    target: Community,
    *,
    reason="",
) -> Thread:
    """Move a thread (posts, attachments, followers) to another community they moderate."""
    require_moderator(viewer, source)
    if not permissions.can_moderate(viewer, target):
        raise Forbidden("You can only move threads to communities you moderate.")
    if target.id == source.id:
        raise Invalid("The thread is already there.", fields={"community": "Same community."})
    check_not_archived(target)  # out of an archived community is fine, into one is not
    if thread.status == "deleted":
        raise NotFound("There is no such thread.")
    reason = clean_reason(reason)
    ids = await _post_ids(session, thread.id)
    thread.community_id = target.id
    await session.execute(
        update(Post).where(Post.thread_id == thread.id).values(community_id=target.id)
    )
    await session.execute(
        update(Subscription)
        .where(Subscription.thread_id == thread.id)
        .values(community_id=target.id)
    )
    await flags.move(session, ids, target)
    await library.move_attachments(session, ids, thread_id=thread.id, community=target, moved=True)
    await session.flush()
    await events.record(
        session,
        "thread.moved",
        actor_id=viewer.id,
        community_id=source.id,
        audience=readers(source),
        subject_id=thread.id,
        # Where it went, unless that is a private community the source's readers may not know.
        data={
            "thread_id": thread.id,
            "from": source.slug,
            "to": target.slug if target.visibility != "private" else None,
        },
    )
    await events.record(
        session,
        "thread.updated",
        actor_id=viewer.id,
        community_id=target.id,
        audience=readers(target) if thread.status == "published" else "moderators",
        subject_id=thread.id,
        # The target's readers hear where it came from unless that is a private community.
        data={
            "thread": thread_json(thread, target),
            "before": {"community": source.slug if source.visibility != "private" else None},
        },
    )
    await audit.record(
        session,
        viewer,
        "thread.move",
        community=source,
        target_kind="thread",
        target_id=thread.id,
        target_user=thread.author,
        summary=f"“{thread.title}” to {target.slug}",
        reason=reason,
        before={"community": source.slug},
        after={"community": target.slug},
    )
    await notices.decided(
        session,
        viewer,
        target,
        author_id=thread.author_id,
        outcome="moved",
        kind="thread",
        item_id=thread.id,
        title=thread.title,
        reason=reason,
        url=f"/threads/{thread.id}",
    )
    return thread


async def merge_threads(
    session: AsyncSession,
    viewer: Viewer,
    source: Thread,
    target: Thread,
    community: Community,
    *,
    reason="",
) -> Thread:
    """Move every post of `source` into `target` (same community); `source` goes away."""
    require_moderator(viewer, community)
    if target.community_id != source.community_id:
        raise Invalid(
            "Both threads must be in the same community: move one first.",
            fields={"into": "A thread in this community."},
        )
    if source.id == target.id or "deleted" in (source.status, target.status):
        raise Invalid("Choose another thread to merge into.", fields={"into": "Another thread."})
    reason = clean_reason(reason)
    ids = await _post_ids(session, source.id)
    await session.execute(
        update(Post).where(Post.thread_id == source.id).values(thread_id=target.id)
    )
    followers = await session.execute(
        select(Subscription.user_id).where(Subscription.thread_id == target.id)
    )
    already = set(followers.scalars())
    await session.execute(
        delete(Subscription).where(
            Subscription.thread_id == source.id, Subscription.user_id.in_(already)
        )
    )
    await session.execute(
        update(Subscription).where(Subscription.thread_id == source.id).values(thread_id=target.id)
    )
    await session.execute(delete(ThreadRead).where(ThreadRead.thread_id == source.id))
    await library.move_attachments(session, ids, thread_id=target.id, community=community)
    before = {"thread_id": source.id, "title": source.title, "post_count": source.post_count}
    source.status, source.post_count = "deleted", 0
    await session.flush()
    await recount(session, target)
    await _moved_posts(session, ids, target, community)
    await events.record(
        session,
        "thread.merged",
        actor_id=viewer.id,
        community_id=community.id,
        audience=readers(community),
        subject_id=source.id,
        data={"thread_id": source.id, "into": target.id},
    )
    await events.record(
        session,
        "thread.updated",
        actor_id=viewer.id,
        community_id=community.id,
        audience=readers(community) if target.status == "published" else "moderators",
        subject_id=target.id,
        data={"thread": thread_json(target, community)},
    )
    await audit.record(
        session,
        viewer,
        "thread.merge",
        community=community,
        target_kind="thread",
        target_id=target.id,
        target_user=source.author,
        summary=f"“{source.title}” into “{target.title}”",
        reason=reason,
        before=before,
        after={"thread_id": target.id, "post_count": target.post_count},
    )
    await notices.decided(
        session,
        viewer,
        community,
        author_id=source.author_id,
        outcome="merged",
        kind="thread",
        item_id=source.id,
        title=source.title,
        reason=reason,
        url=f"/threads/{target.id}",
    )
    return target


async def split_thread(
    session: AsyncSession,
    viewer: Viewer,
    thread: Thread,
    community: Community,
    *,
    post_ids,
    title,
    reason="",
) -> Thread:
    """Move some replies into a new thread; the earliest published one opens it."""
    require_moderator(viewer, community)
    if (
        not isinstance(post_ids, list)
        or not post_ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in post_ids)
    ):
        raise Invalid("Choose the replies to split off.", fields={"post_ids": "Post ids."})
    title = _clean_title(title)
    reason = clean_reason(reason)
    rows = await session.execute(
        select(Post).where(Post.id.in_(post_ids), Post.thread_id == thread.id).order_by(Post.id)
    )
    posts = [p for p in rows.scalars().unique() if p.status != "deleted"]
    if len(posts) != len(set(post_ids)) or thread.first_post_id in post_ids:
        raise Invalid(
            "Choose replies of this thread (not its first post).",
            fields={"post_ids": "Replies of this thread."},
        )
    # The earliest published post opens it, so that hidden or held replies among them do not
    # take the published ones out of readers' sight.
    opener = next((p for p in posts if p.status == "published"), posts[0])
    new = Thread(
        community_id=community.id,
        author_id=opener.author_id,
        title=title,
        status=opener.status,
        created_at=opener.created_at,
        last_post_at=opener.created_at,
        last_poster_id=opener.author_id,
        first_post_id=opener.id,
    )
    session.add(new)
    await session.flush()
    ids = [p.id for p in posts]
    await session.execute(update(Post).where(Post.id.in_(ids)).values(thread_id=new.id))
    await library.move_attachments(session, ids, thread_id=new.id, community=community)
    await session.flush()
    await recount(session, new)
    await recount(session, thread)
    new.author = opener.author
    await _moved_posts(session, ids, new, community)
    await events.record(
        session,
        "thread.split",
        actor_id=viewer.id,
        community_id=community.id,
        audience=readers(community) if new.status == "published" else "moderators",
        subject_id=new.id,
        data={"thread": thread_json(new, community), "from": thread.id},
    )
    await events.record(
        session,
        "thread.updated",
        actor_id=viewer.id,
        community_id=community.id,
        audience=readers(community) if thread.status == "published" else "moderators",
        subject_id=thread.id,
        data={"thread": thread_json(thread, community)},
    )
    await audit.record(
        session,
        viewer,
        "thread.split",
        community=community,
        target_kind="thread",
        target_id=thread.id,
        summary=f"{len(ids)} repl{'y' if len(ids) == 1 else 'ies'} of “{thread.title}” "
        f"into “{title}”",
        reason=reason,
        before={"thread_id": thread.id},
        after={"thread_id": new.id, "post_ids": ids, "title": title},
    )
    return new


async def thread_in_community(session: AsyncSession, thread_id, community: Community) -> Thread:
    """A thread by id that the merge may use (same community, not removed)."""
    if not isinstance(thread_id, int) or isinstance(thread_id, bool):
        raise Invalid("into is a thread id.", fields={"into": "A thread id."})
    thread = await session.get(Thread, thread_id)
    if thread is None or thread.community_id != community.id or thread.status == "deleted":
        # One answer for both: a thread elsewhere may be in a community the moderator
        # cannot see.
        message = (
            "There is no such thread in this community. To merge with a thread in another "
            "community, move one of them first."
        )
        raise Invalid(message, fields={"into": message})
    return thread
