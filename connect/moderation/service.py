"""Deciding queue items: approve (optionally after an edit) or reject with a reason.

Kinds: thread, post, entry (held or flagged) and join (a request to join). Approving a held
thread approves its first post; approving a flagged item keeps it (restored if hidden);
rejecting held content deletes it for good (it was never public), rejecting a flagged item
removes it as a moderator's delete does. Authors and flaggers are told, moderators see the
queue change live, and each decision is one row in the moderation log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.boards import service as boards
from connect.boards.models import Post, Thread
from connect.boards.reading import get_post, post_json, thread_json
from connect.communities import memberships
from connect.communities.models import Community, Membership
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound
from connect.markup import excerpt
from connect.moderation import audit, content, flags, library, notices
from connect.moderation.queue import KINDS
from connect.permissions import Viewer


@dataclass
class Target:
    kind: str
    item: Any  # Thread, Post, Entry or Membership
    community: Community
    thread: Thread | None = None
    first: Post | None = None  # a thread's first post


async def load(session: AsyncSession, viewer: Viewer, kind: str, item_id: int) -> Target:
    """The item, if the viewer may see it (else NotFound) and moderate it (else Forbidden)."""
    if kind not in KINDS:
        raise NotFound("There is no such kind of queue item.")
    if kind == "thread":
        row = (
            await session.execute(
                select(Thread, Community)
                .join(Community, Community.id == Thread.community_id)
                .where(Thread.id == item_id)
            )
        ).first()
        if row is None or not permissions.can_see_post(
            viewer, row[1], status=row[0].status, author_id=row[0].author_id
        ):
            raise NotFound("There is no such thread, or you cannot see it.")
        thread, community = row
        first = await session.get(Post, thread.first_post_id)
        target = Target("thread", thread, community, thread, first)
    elif kind == "post":
        post, thread, community = await get_post(session, viewer, item_id)
        target = Target("post", post, community, thread)
    elif kind == "entry":
        entry, community = await library.get_entry(session, item_id)
        if entry is None or not permissions.can_see_entry(
            viewer, community, status=entry.status, author_id=entry.author_id
        ):
            raise NotFound("There is no such document, or you cannot see it.")
        target = Target("entry", entry, community)
    else:
        membership = await session.get(Membership, item_id)
        if membership is None or not permissions.can_see_community(viewer, membership.community):
            raise NotFound("There is no such request.")
        target = Target("join", membership, membership.community)
    if not permissions.can_moderate(viewer, target.community):
        raise Forbidden("You do not moderate this community.")
    return target


# Approve -----------------------------------------------------------------------------------


async def approve(
    session: AsyncSession,
    viewer: Viewer,
    kind: str,
    item_id: int,
    *,
    title=None,
    body=None,
    reason="",
) -> Target:
    target = await load(session, viewer, kind, item_id)
    reason = content.clean_reason(reason)
    if target.kind == "thread" and target.item.status != "pending":
        target = Target("post", target.first, target.community, target.thread)
    if target.kind == "join":
        if target.item.status != "pending":
            raise Conflict("This request was already answered.")
        await memberships.set_role(
            session, viewer, target.community, target.item.user.username, "member"
        )
        return target
    await _edit(session, viewer, target, title=title, body=body)
    if target.item.status == "pending":
        await _publish(session, viewer, target, reason)
    elif await flags.open_count(session, target.kind, target.item.id):
        await _keep(session, viewer, target, reason)
    else:
        raise Conflict("This item is not waiting for a decision.")
    await notices.changed(
        session, target.community, kind=target.kind, item_id=target.item.id, action="approved"
    )
    return target


async def _edit(session: AsyncSession, viewer: Viewer, target: Target, *, title, body) -> None:
    """ "Edit then approve": a moderator's changes go through the boards (history, audit)."""
    if title is not None and target.kind == "thread" and title != target.thread.title:
        await boards.update_thread(
            session, viewer, target.thread, target.community, {"title": title}
        )
    if body is not None:
        post = target.first if target.kind == "thread" else target.item
        if target.kind == "entry":
            raise Invalid("Edit a document on its own page.", fields={"body": "Not for entries."})
        await boards.edit_post(session, viewer, post, target.community, body=body)


async def _publish(session: AsyncSession, viewer: Viewer, target: Target, reason: str) -> None:
    community, now = target.community, utcnow()
    if target.kind == "entry":
        entry = target.item
        await library.approve(session, viewer, entry, community)
        await _approved(
            session,
            viewer,
            target,
            "entry.approve",
            entry.title,
            reason,
            library.entry_url(entry, community),
            entry.author,
        )
        return
    thread = target.thread
    if target.kind == "thread":
        thread.status = target.first.status = "published"
        post = target.first
    else:
        if thread.status == "pending":
            raise Conflict("Approve the thread this reply belongs to first.")
        post = target.item
        post.status = "published"
    await session.flush()
    await content.recount(session, thread)
    thread.last_post_at = max(thread.last_post_at, now)
    if target.kind == "thread":
        await library.sync_thread_attachments(session, thread, community)
    else:
        await library.sync_attachments(session, post, community)
    # A reply approved inside a hidden thread stays as hidden as its thread.
    audience = permissions.event_audience(community, thread.status)
    if target.kind == "thread":
        await events.record(
            session,
            "thread.approved",
            actor_id=viewer.id,
            community_id=community.id,
            audience=audience,
            subject_id=thread.id,
            data={
                "thread": thread_json(thread, community),
                "post_id": post.id,
                "status": "published",
                "mentions": markup.mentions(post.body),
            },
        )
    else:
        parent = await session.get(Post, post.reply_to_id) if post.reply_to_id else None
        await events.record(
            session,
            "post.approved",
            actor_id=viewer.id,
            community_id=community.id,
            audience=audience,
            subject_id=post.id,
            data={
                "thread_id": thread.id,
                "post": post_json(post),
                "status": "published",
                "reply_to_author_id": parent.author_id
                if parent is not None and parent.status == "published"
                else None,
                "mentions": markup.mentions(post.body),
            },
        )
    title = thread.title if target.kind == "thread" else f"your reply in “{thread.title}”"
    await _approved(
        session,
        viewer,
        target,
        f"{target.kind}.approve",
        title,
        reason,
        f"/posts/{post.id}",
        post.author,
    )


async def _approved(session, viewer, target, action, title, reason, url, author) -> None:
    await audit.record(
        session,
        viewer,
        action,
        community=target.community,
        target_kind=target.kind,
        target_id=target.item.id,
        target_user=author,
        summary=title,
        reason=reason,
    )
    await notices.decided(
        session,
        viewer,
        target.community,
        author_id=target.item.author_id,
        outcome="approved",
        kind=target.kind,
        item_id=target.item.id,
        title=title,
        reason=reason,
        url=url,
    )


async def _keep(session: AsyncSession, viewer: Viewer, target: Target, reason: str) -> None:
    """A flagged item stays: restored if the flags hid it, the flags dismissed."""
    if target.item.status == "hidden":
        if target.kind == "entry":
            await content.set_entry_hidden(
                session, viewer, target.item, target.community, hidden=False, reason=reason
            )
        else:
            await content.restore_post(
                session, viewer, target.item, target.thread, target.community, reason=reason
            )
        return
    title = target.item.title if target.kind == "entry" else target.thread.title
    count = await flags.resolve(
        session, viewer, target.community, target.kind, target.item.id, title, upheld=False
    )
    await audit.record(
        session,
        viewer,
        "flags.dismiss",
        community=target.community,
        target_kind=target.kind,
        target_id=target.item.id,
        target_user=target.item.author,
        summary=f"{count} flag{'s' if count != 1 else ''} on “{title}”",
        reason=reason,
    )


# Reject ------------------------------------------------------------------------------------


async def reject(
    session: AsyncSession, viewer: Viewer, kind: str, item_id: int, *, reason
) -> Target:
    target = await load(session, viewer, kind, item_id)
    reason = content.clean_reason(reason, required=True)
    community = target.community
    if target.kind == "thread" and target.item.status != "pending":
        target = Target("post", target.first, community, target.thread)
    if target.kind == "join":
        membership = target.item
        if membership.status != "pending":
            raise Conflict("This request was already answered.")
        user = membership.user
        await memberships.remove_member(session, viewer, community, user.username, reason=reason)
        await notices.decided(
            session,
            viewer,
            community,
            author_id=user.id,
            outcome="rejected",
            kind="join",
            item_id=membership.id,
            title=f"your request to join {community.name}",
            reason=reason,
        )
    elif target.item.status == "pending":
        await _discard(session, viewer, target, reason)
    elif target.item.status in ("published", "hidden"):
        await _remove(session, viewer, target, reason)
    else:
        raise Conflict("This item is not waiting for a decision.")
    await notices.changed(session, community, kind=target.kind, item_id=item_id, action="rejected")
    return target


async def _discard(session: AsyncSession, viewer: Viewer, target: Target, reason: str) -> None:
    """Held content never was public: it is deleted for good (the log keeps its text)."""
    community = target.community
    if target.kind == "entry":
        entry = target.item
        before = {"title": entry.title, "description": entry.description}
        await library.delete(session, viewer, entry, community)
        title, text, author, url = entry.title, entry.description, entry.author, ""
    else:
        thread = target.thread
        if target.kind == "thread":
            posts = list(
                (await session.execute(select(Post).where(Post.thread_id == thread.id))).scalars()
            )
            first = target.first
            before = {"title": thread.title, "body": first.body}
            title, text, author = thread.title, first.body, thread.author
        else:
            posts = [target.item]
            before = {"body": target.item.body}
            title, text, author = (
                f"your reply in “{thread.title}”",
                target.item.body,
                target.item.author,
            )
        ids = [p.id for p in posts]
        await library.delete_attachments(session, viewer, ids, community)
        for post in posts:
            await events.record(
                session,
                "post.deleted",
                actor_id=viewer.id,
                community_id=community.id,
                audience="author",
                subject_id=post.id,
                data={"thread_id": thread.id, "post_id": post.id},
            )
        if target.kind == "thread":
            await events.record(
                session,
                "thread.deleted",
                actor_id=viewer.id,
                community_id=community.id,
                audience="author",
                subject_id=thread.id,
                data={"thread_id": thread.id},
            )
            await session.execute(delete(Thread).where(Thread.id == thread.id))
            session.expunge(thread)
        else:
            await session.execute(delete(Post).where(Post.id == target.item.id))
        for post in posts:
            if post in session:
                session.expunge(post)
        url = f"/threads/{thread.id}" if target.kind == "post" else ""
    await audit.record(
        session,
        viewer,
        f"{target.kind}.reject",
        community=community,
        target_kind=target.kind,
        target_id=target.item.id,
        target_user=author,
        summary=title,
        reason=reason,
        before=before,
    )
    await notices.decided(
        session,
        viewer,
        community,
        author_id=author.id if author else None,
        outcome="rejected",
        kind=target.kind,
        item_id=target.item.id,
        title=title,
        reason=reason,
        url=url or f"/c/{community.slug}",
        excerpt=excerpt(text, 300),
    )


async def _remove(session: AsyncSession, viewer: Viewer, target: Target, reason: str) -> None:
    """A flagged (public) item goes as a moderator's delete does; the flags are upheld."""
    community = target.community
    if target.kind == "entry":
        entry = target.item
        title = entry.title
        await library.delete(session, viewer, entry, community)
        await audit.record(
            session,
            viewer,
            "entry.reject",
            community=community,
            target_kind="entry",
            target_id=entry.id,
            target_user=entry.author,
            summary=title,
            reason=reason,
            before={"title": entry.title, "description": entry.description},
        )
        author_id, text = entry.author_id, entry.description
    else:
        post, thread = target.item, target.thread
        title, author_id, text = thread.title, post.author_id, post.body
        await boards.delete_post(session, viewer, post, thread, community, reason=reason)
    await flags.resolve(session, viewer, community, target.kind, target.item.id, title, upheld=True)
    await notices.decided(
        session,
        viewer,
        community,
        author_id=author_id,
        outcome="removed",
        kind=target.kind,
        item_id=target.item.id,
        title=title,
        reason=reason,
        excerpt=excerpt(text, 300),
    )
