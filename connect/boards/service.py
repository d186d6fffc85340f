"""Board operations: start threads, reply, edit, delete, pin, lock, recommend, follow.

Reading (lookups that enforce visibility, pages, JSON shapes) lives in reading.py.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.boards.models import (
    Post,
    PostRevision,
    Recommendation,
    Thread,
    ThreadRead,
)
from connect.boards.reading import new_mentions, post_json, thread_json
from connect.boards.subscriptions import follow_by_default
from connect.communities.archive import Archived, check_not_archived
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Forbidden, Invalid, Locked, NotFound, NotSignedIn
from connect.moderation import audit, limits
from connect.moderation import library as attachments
from connect.moderation.limits import PostChecks
from connect.permissions import Viewer

TITLE_MAX = 200


# Validation ------------------------------------------------------------------------


def _clean_title(title) -> str:
    if not isinstance(title, str) or not title.strip():
        raise Invalid("Give the thread a title.", fields={"title": "Enter a title."})
    title = markup.one_line(title)
    if len(title) > TITLE_MAX:
        raise Invalid(
            f"Use at most {TITLE_MAX} characters.",
            fields={"title": f"Use at most {TITLE_MAX} characters."},
        )
    return title


async def _post_audience(session: AsyncSession, community: Community, post: Post) -> str:
    thread = await session.get(Thread, post.thread_id)
    return permissions.event_audience(community, thread.status, post.status)


async def _published_before(session: AsyncSession, user_id: int, community_id: int) -> bool:
    row = await session.execute(
        select(Post.id)
        .where(
            Post.author_id == user_id,
            Post.community_id == community_id,
            Post.status == "published",
        )
        .limit(1)
    )
    return row.first() is not None


# Writing ---------------------------------------------------------------------------


async def create_thread(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    title,
    body,
    checks: PostChecks | None = None,
) -> tuple[Thread, Post]:
    """Start a thread; `checks` (web requests) applies posting limits and spam holds."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to start a discussion.")
    # A community one may see but not read (closed, not a member) is there: join first.
    if not permissions.can_see_community(viewer, community):
        raise NotFound("There is no community at this address.")
    check_not_archived(community)
    limits.check_not_banned(viewer, community)
    if not permissions.can_post(viewer, community):
        raise Forbidden("Join this community to start discussions.")
    title, body = _clean_title(title), markup.clean_body(body)
    spam = await limits.screen_post(
        session, viewer, community, body=body, thread_id=None, checks=checks
    )
    held = spam is not None or permissions.held_for_approval(
        viewer,
        community,
        published_before=await _published_before(session, viewer.id, community.id),
    )
    status = "pending" if held else "published"
    now = utcnow()
    thread = Thread(
        community_id=community.id,
        author_id=viewer.id,
        title=title,
        status=status,
        created_at=now,
        last_post_at=now,
        last_poster_id=viewer.id,
        post_count=1 if status == "published" else 0,
    )
    session.add(thread)
    await session.flush()
    post = Post(
        thread_id=thread.id,
        community_id=community.id,
        author_id=viewer.id,
        body=body,
        html=markup.render(body),
        status=status,
        created_at=now,
    )
    session.add(post)
    await session.flush()
    thread.first_post_id = post.id
    post.author = thread.author = await session.get(User, viewer.id)
    await follow_by_default(session, viewer.user, thread)
    await events.record(
        session,
        "thread.created",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, status),
        subject_id=thread.id,
        data={
            "thread": thread_json(thread, community),
            "post_id": post.id,
            "status": status,
            "mentions": markup.mentions(body),
        },
    )
    await events.record(
        session,
        "post.created",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, status),
        subject_id=post.id,
        data={"thread_id": thread.id, "post": post_json(post), "first": True, "status": status},
    )
    if held:
        await limits.held(session, community, kind="thread", item_id=thread.id, why=spam)
    await _mark_read(session, viewer.id, thread.id, post.id)
    return thread, post


async def reply(
    session: AsyncSession,
    viewer: Viewer,
    thread: Thread,
    community: Community,
    *,
    body,
    reply_to: int | None = None,
    checks: PostChecks | None = None,
) -> Post:
    """Reply in a thread; `checks` (web requests) applies posting limits and spam holds."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to reply.")
    check_not_archived(community)
    limits.check_not_banned(viewer, community)
    if not permissions.can_post(viewer, community):
        raise Forbidden("Join this community to reply.")
    if thread.status in ("deleted", "hidden"):
        raise NotFound("There is no such thread, or you cannot see it.")
    if not permissions.can_reply(viewer, community, locked=thread.locked):
        raise Locked("This thread is locked: it takes no new replies.")
    body = markup.clean_body(body)
    parent_author_id = None
    if reply_to is not None:
        if not isinstance(reply_to, int) or isinstance(reply_to, bool):
            raise Invalid("reply_to is a post id.", fields={"reply_to": "A post id."})
        parent = await session.get(Post, reply_to)
        if (
            parent is None
            or parent.thread_id != thread.id
            or parent.status == "deleted"
            # held or hidden posts the replier cannot see look like no post at all
            or not permissions.can_see_post(
                viewer, community, status=parent.status, author_id=parent.author_id
            )
        ):
            raise Invalid(
                "You can only reply to a post in this thread.",
                fields={"reply_to": "Not a post in this thread."},
            )
        parent_author_id = parent.author_id
    spam = await limits.screen_post(
        session, viewer, community, body=body, thread_id=thread.id, checks=checks
    )
    held = (
        spam is not None
        or thread.status == "pending"
        or permissions.held_for_approval(
            viewer,
            community,
            published_before=await _published_before(session, viewer.id, community.id),
        )
    )
    status = "pending" if held else "published"
    now = utcnow()
    post = Post(
        thread_id=thread.id,
        community_id=community.id,
        author_id=viewer.id,
        body=body,
        html=markup.render(body),
        status=status,
        created_at=now,
        reply_to_id=reply_to,
    )
    session.add(post)
    await session.flush()
    post.author = await session.get(User, viewer.id)
    if status == "published":
        await session.execute(
            update(Thread)
            .where(Thread.id == thread.id)
            .values(post_count=Thread.post_count + 1, last_post_at=now, last_poster_id=viewer.id)
        )
    await follow_by_default(session, viewer.user, thread)
    await events.record(
        session,
        "post.created",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, thread.status, status),
        subject_id=post.id,
        data={
            "thread_id": thread.id,
            "post": post_json(post),
            "status": status,
            "reply_to_author_id": parent_author_id,
            "mentions": markup.mentions(body),
        },
    )
    if held:
        await limits.held(session, community, kind="post", item_id=post.id, why=spam)
    await _mark_read(session, viewer.id, thread.id, post.id)
    return post


async def edit_post(
    session: AsyncSession, viewer: Viewer, post: Post, community: Community, *, body
) -> Post:
    check_not_archived(community)
    if not permissions.can_edit_post(viewer, community, author_id=post.author_id):
        raise Forbidden("You can only edit your own posts.")
    if post.status == "deleted":
        raise NotFound("This post was removed.")
    body = markup.clean_body(body)
    if body == post.body:
        return post
    if viewer.id != post.author_id:  # a moderator's edit of someone else's post
        await audit.record(
            session,
            viewer,
            "post.edit",
            community=community,
            target_kind="post",
            target_id=post.id,
            target_user=post.author,
            before={"body": post.body},
            after={"body": body},
        )
    # Held posts tell their mentions when approved, from the text as it is then.
    added = await new_mentions(session, post, body) if post.status == "published" else []
    session.add(
        PostRevision(post_id=post.id, body=post.body, created_at=utcnow(), editor_id=viewer.id)
    )
    post.body = body
    post.html = markup.render(body)
    post.edited_at = utcnow()
    post.edited_by_id = viewer.id
    await events.record(
        session,
        "post.updated",
        actor_id=viewer.id,
        community_id=community.id,
        audience=await _post_audience(session, community, post),
        subject_id=post.id,
        data={
            "thread_id": post.thread_id,
            "post": post_json(post),
            "status": post.status,
            "mentions": added,
        },
    )
    return post


async def delete_post(
    session: AsyncSession,
    viewer: Viewer,
    post: Post,
    thread: Thread,
    community: Community,
    *,
    reason: str = "",
) -> None:
    """Soft delete: readers see a placeholder; deleting the first post removes the thread.

    In an archived community only moderators remove posts (to clean up what is kept)."""
    if permissions.is_archived(community) and not permissions.can_moderate(viewer, community):
        raise Archived()
    if not permissions.can_delete_post(viewer, community, author_id=post.author_id):
        raise Forbidden("You can only remove your own posts.")
    if post.status == "deleted":
        return
    if viewer.id != post.author_id:  # a moderator removes someone else's post
        await audit.record(
            session,
            viewer,
            "post.delete",
            community=community,
            target_kind="post",
            target_id=post.id,
            target_user=post.author,
            summary=f"in “{thread.title}”",
            reason=reason,
            before={"body": post.body, "status": post.status},
        )
    was_published = post.status == "published"
    post.status = "deleted"
    post.edited_at = utcnow()
    post.edited_by_id = viewer.id
    if post.id == thread.first_post_id:
        thread.status = "deleted"
        await attachments.sync_thread_attachments(session, thread, community)
        await events.record(
            session,
            "thread.deleted",
            actor_id=viewer.id,
            community_id=community.id,
            audience=permissions.event_audience(community, "published"),
            subject_id=thread.id,
            data={"thread_id": thread.id},
        )
    else:
        await attachments.sync_attachments(session, post, community)
        if was_published:
            thread.post_count = max(0, thread.post_count - 1)
    await events.record(
        session,
        "post.deleted",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, "published"),
        subject_id=post.id,
        data={"thread_id": post.thread_id, "post_id": post.id},
    )


async def update_thread(
    session: AsyncSession, viewer: Viewer, thread: Thread, community: Community, changes: dict
) -> Thread:
    """Authors retitle; moderators pin, lock (and retitle)."""
    unknown = set(changes) - {"title", "pinned", "locked"}
    if unknown:
        raise Invalid(
            "Unknown thread fields.", fields={k: "Not a thread field." for k in sorted(unknown)}
        )
    moderator = permissions.can_moderate(viewer, community)
    before: dict = {}
    if "title" in changes:
        check_not_archived(community)  # a title is the thread's text; pin and lock are not
        if not (moderator or (viewer.signed_in and viewer.id == thread.author_id)):
            raise Forbidden("Only the author or a moderator can retitle a thread.")
        before["title"] = thread.title
        thread.title = _clean_title(changes["title"])
    for flag in ("pinned", "locked"):
        if flag in changes:
            if not moderator:
                raise Forbidden(f"Only moderators can change {flag}.")
            if not isinstance(changes[flag], bool):
                raise Invalid(f"{flag} is true or false.", fields={flag: "true or false."})
            before[flag] = getattr(thread, flag)
            setattr(thread, flag, changes[flag])
    await _audit_thread_change(session, viewer, thread, community, before)
    await events.record(
        session,
        "thread.updated",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, thread.status),
        subject_id=thread.id,
        data={"thread": thread_json(thread, community), "before": before},
    )
    return thread


async def _audit_thread_change(
    session: AsyncSession, viewer: Viewer, thread: Thread, community: Community, before: dict
) -> None:
    """Pin, lock and a moderator's retitling of someone else's thread go in the log."""
    changed = {k: v for k, v in before.items() if getattr(thread, k) != v}
    if "title" in changed and viewer.id == thread.author_id:
        changed.pop("title")
    if not changed:
        return
    if len(changed) == 1:
        key = next(iter(changed))
        on = bool(getattr(thread, key))
        action = {
            "title": "thread.retitle",
            "pinned": "thread.pin" if on else "thread.unpin",
            "locked": "thread.lock" if on else "thread.unlock",
        }[key]
    else:
        action = "thread.update"
    await audit.record(
        session,
        viewer,
        action,
        community=community,
        target_kind="thread",
        target_id=thread.id,
        target_user=thread.author,
        summary=f"“{thread.title}”",
        before=changed,
        after={k: getattr(thread, k) for k in changed},
    )


async def recommend(
    session: AsyncSession, viewer: Viewer, post: Post, community: Community, *, on: bool
) -> tuple[int, bool]:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to recommend posts.")
    check_not_archived(community)
    if viewer.suspended:
        raise Forbidden("Your account is suspended.")
    limits.check_not_banned(viewer, community)  # a ban ends taking part, recommending too
    if post.status != "published":
        raise Invalid("Only published posts can be recommended.")
    if on and post.author_id == viewer.id:
        raise Invalid("You cannot recommend your own post.")
    existing = (
        await session.execute(
            select(Recommendation).where(
                Recommendation.post_id == post.id, Recommendation.user_id == viewer.id
            )
        )
    ).scalar_one_or_none()
    if on and existing is None:
        session.add(Recommendation(post_id=post.id, user_id=viewer.id, created_at=utcnow()))
        try:
            await session.flush()
        except IntegrityError:  # a double click raced; the first one counted
            return post.recommend_count, True
    elif not on and existing is not None:
        await session.delete(existing)
        await session.flush()
    else:
        return post.recommend_count, on
    count = (
        await session.execute(
            select(func.count(Recommendation.id)).where(Recommendation.post_id == post.id)
        )
    ).scalar()
    post.recommend_count = count
    await events.record(
        session,
        "post.recommended" if on else "post.unrecommended",
        actor_id=viewer.id,
        community_id=community.id,
        audience=await _post_audience(session, community, post),
        subject_id=post.id,
        target_user_id=post.author_id,
        data={"thread_id": post.thread_id, "post_id": post.id, "recommend_count": count},
    )
    return count, on


# Read state --------------------------------------------------------------------------


async def _mark_read(session: AsyncSession, user_id: int, thread_id: int, post_id: int) -> None:
    read = (
        await session.execute(
            select(ThreadRead).where(
                ThreadRead.user_id == user_id, ThreadRead.thread_id == thread_id
            )
        )
    ).scalar_one_or_none()
    if read is None:
        session.add(
            ThreadRead(
                user_id=user_id, thread_id=thread_id, last_read_post_id=post_id, read_at=utcnow()
            )
        )
    elif post_id > read.last_read_post_id:
        read.last_read_post_id = post_id
        read.read_at = utcnow()


async def mark_read(session: AsyncSession, viewer: Viewer, thread: Thread, post_id: int) -> None:
    if viewer.signed_in:
        await _mark_read(session, viewer.id, thread.id, post_id)
