"""Notifications: the notifier (an event-log consumer), the mail queue and digests.

The notifier turns published posts and membership changes into notification
rows and queued mail, in the transaction that moves its cursor. Mail leaves
the queue only when the SMTP server accepts it; failures are retried later.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.accounts.models import User
from connect.boards.models import NOT_FOLLOWING, Post, Subscription, Thread
from connect.communities.models import Community
from connect.communities.service import viewer_of
from connect.db import utcnow
from connect.events import Event
from connect.markup import excerpt
from connect.messages import service as messages
from connect.moderation import notices
from connect.network.models import Contact
from connect.network.service import blocked_either_way
from connect.notifications.mail import queue_mail, send_due_mail  # noqa: F401 (job entry point)
from connect.notifications.models import DigestRun, Notification, OutgoingMail
from connect.notifications.preferences import preferences_of
from connect.notifications.reading import unreadable
from connect.notifications.unsubscribe import unsubscribe_token

log = logging.getLogger("connect.notifications")
DIGEST_EVERY = timedelta(hours=24)
MODERATION_EVENTS = {"moderation.decided", "flags.resolved", "sanction.created", "sanction.lifted"}


# The notifier ---------------------------------------------------------------------------


class Notifier:
    """Event consumer that writes notifications and queues real-time mail."""

    EVENTS = frozenset(
        {
            "post.created",
            "post.approved",
            "post.updated",
            "thread.created",
            "thread.approved",
            "membership.invited",
            "member.joined",
            "message.created",
            "contact.requested",
            "contact.accepted",
            "post.deleted",
            *MODERATION_EVENTS,
        }
    )

    def __init__(self, context) -> None:
        self.context = context

    @classmethod
    def wants(cls, event: Event) -> bool:
        return event.type in cls.EVENTS

    async def handle(self, session: AsyncSession, batch: list[Event]) -> None:
        for event in batch:
            if event.type.endswith(".created") and (event.data or {}).get("status") == "pending":
                continue  # held: its ".approved" event speaks for it (the notifier may lag)
            if event.type in ("post.created", "post.approved"):
                if event.data.get("first") and event.type == "post.created":
                    continue  # the thread.created event speaks for a first post
                await self._post_published(session, event)
            elif event.type in ("thread.created", "thread.approved"):
                await self._thread_published(session, event)
            elif event.type == "membership.invited":
                await self._membership(session, event, "invited you to join")
            elif event.type == "member.joined" and event.actor_id != event.target_user_id:
                await self._membership(session, event, "added you to")
            elif event.type in MODERATION_EVENTS:
                await self._moderation(session, event)
            elif event.type == "message.created" and event.target_user_id != event.actor_id:
                await self._message(session, event)
            elif event.type in ("contact.requested", "contact.accepted"):
                await self._contact(session, event)
            elif event.type == "post.deleted":
                await self._post_removed(session, event)
            elif event.type == "post.updated" and (event.data or {}).get("mentions"):
                await self._mentions_added(session, event)

    async def _post_removed(self, session: AsyncSession, event: Event) -> None:
        """A removed post's text leaves the notifications that quoted it; they still lead
        to where it was (its "removed" placeholder)."""
        await session.execute(
            update(Notification)
            .where(Notification.post_id == event.subject_id, Notification.excerpt != "")
            .values(excerpt="")
        )

    async def _load_post(self, session: AsyncSession, post_id: int):
        row = (
            await session.execute(
                select(Post, Thread, Community)
                .join(Thread, Thread.id == Post.thread_id)
                .join(Community, Community.id == Post.community_id)
                .where(Post.id == post_id)
            )
        ).first()
        if row is None:
            return None
        post, thread, community = row
        if post.status != "published" or thread.status != "published":
            return None
        return post, thread, community

    async def _post_published(self, session: AsyncSession, event: Event) -> None:
        post_id = event.data.get("post", {}).get("id") or event.subject_id
        loaded = await self._load_post(session, post_id)
        if loaded is None:
            return
        post, thread, community = loaded
        recipients: dict[int, tuple[str, str]] = {}  # user id -> (kind, email mode)
        parent_author = event.data.get("reply_to_author_id")
        if parent_author:
            recipients[parent_author] = ("reply", "")
        for user in await self._users_named(session, event.data.get("mentions", [])):
            recipients.setdefault(user.id, ("mention", ""))
        subs = await session.execute(
            select(Subscription.user_id, Subscription.mode).where(
                Subscription.thread_id == thread.id, Subscription.mode != NOT_FOLLOWING
            )
        )
        for user_id, mode in subs:
            recipients.setdefault(user_id, ("followed_post", mode))
        recipients.pop(post.author_id, None)
        author = post.author.display_name if post.author else "A former member"
        titles = {
            "reply": f"{author} replied to you in “{thread.title}”",
            "mention": f"{author} mentioned you in “{thread.title}”",
            "followed_post": f"{author} replied in “{thread.title}”",
        }
        for user_id, (kind, mode) in recipients.items():
            await self._notify(
                session,
                event,
                user_id,
                kind=kind,
                mode=mode,
                community=community,
                thread=thread,
                post=post,
                title=titles[kind],
                text=excerpt(post.body, 300),
                url=f"/posts/{post.id}",
                scope=f"t{thread.id}" if kind == "followed_post" else "replies",
            )

    async def _thread_published(self, session: AsyncSession, event: Event) -> None:
        post_id = event.data.get("post_id")
        loaded = await self._load_post(session, post_id) if post_id else None
        if loaded is None:
            return
        post, thread, community = loaded
        author = post.author.display_name if post.author else "A former member"
        recipients: dict[int, tuple[str, str]] = {}
        for user in await self._users_named(session, event.data.get("mentions", [])):
            recipients[user.id] = ("mention", "")
        subs = await session.execute(
            select(Subscription.user_id, Subscription.mode).where(
                Subscription.community_id == community.id, Subscription.thread_id.is_(None)
            )
        )
        for user_id, mode in subs:
            recipients.setdefault(user_id, ("new_thread", mode))
        recipients.pop(post.author_id, None)
        for user_id, (kind, mode) in recipients.items():
            title = (
                f"{author} mentioned you in “{thread.title}”"
                if kind == "mention"
                else f"New discussion in {community.name}: “{thread.title}”"
            )
            await self._notify(
                session,
                event,
                user_id,
                kind=kind,
                mode=mode,
                community=community,
                thread=thread,
                post=post,
                title=title,
                text=excerpt(post.body, 300),
                url=f"/threads/{thread.id}",
                scope=f"c{community.id}" if kind == "new_thread" else "replies",
            )

    async def _mentions_added(self, session: AsyncSession, event: Event) -> None:
        """An edit that mentions someone no earlier version did tells them (only them)."""
        loaded = await self._load_post(session, event.subject_id)
        if loaded is None:
            return
        post, thread, community = loaded
        author = post.author.display_name if post.author else "A former member"
        for user in await self._users_named(session, event.data["mentions"]):
            if user.id == post.author_id:
                continue
            await self._notify(
                session,
                event,
                user.id,
                kind="mention",
                mode="",
                community=community,
                thread=thread,
                post=post,
                title=f"{author} mentioned you in “{thread.title}”",
                text=excerpt(post.body, 300),
                url=f"/posts/{post.id}",
            )

    async def _membership(self, session: AsyncSession, event: Event, verb: str) -> None:
        community = await session.get(Community, event.community_id)
        actor = await session.get(User, event.actor_id) if event.actor_id else None
        if community is None or event.target_user_id is None:
            return
        who = actor.display_name if actor else "A moderator"
        await self._notify(
            session,
            event,
            event.target_user_id,
            kind="membership",
            mode="in_app",
            community=community,
            title=f"{who} {verb} {community.name}",
            url=f"/c/{community.slug}",
        )

    async def _moderation(self, session: AsyncSession, event: Event) -> None:
        """Moderation outcomes: authors hear decisions, flaggers how their flags ended, members
        their sanctions; by email as their reply-email preference says."""
        community = await session.get(Community, event.community_id) if event.community_id else None
        data = event.data or {}
        if event.type == "flags.resolved":
            recipients = data.get("flagger_ids", [])
            title, text = notices.describe_flags(data)
            url = "/notifications"
        elif event.type == "moderation.decided":
            recipients = [event.target_user_id]
            title, text = notices.describe_decision(data)
            url = data.get("url") or "/notifications"
        else:
            recipients = [event.target_user_id]
            title, text = notices.describe_sanction(event.type, data)
            url = "/standing"
        for user_id in recipients:
            if user_id is None:
                continue
            shown_url, shown_text = url, text
            moved = event.type == "moderation.decided" and data.get("outcome") == "moved"
            if moved and not await self._reads(session, user_id, community):
                # Moved where they cannot read: no link that would be a 404 to them.
                shown_url = "/notifications"
                shown_text = "\n".join(
                    filter(None, [text, "It is now in a community you cannot read."])
                )
            await self._notify(
                session,
                event,
                user_id,
                kind="moderation",
                mode="",
                community=community,
                title=title,
                text=shown_text,
                url=shown_url,
            )

    @staticmethod
    async def _reads(session: AsyncSession, user_id: int, community: Community | None) -> bool:
        """Whether the member may read the community (True when there is none)."""
        if community is None:
            return True
        user = await session.get(User, user_id)
        if user is None:
            return False
        return permissions.can_read_community(await viewer_of(session, user), community)

    async def _message(self, session: AsyncSession, event: Event) -> None:
        """A private message: the recipient hears of it (by email as their message preference
        says) unless they left the conversation or a block now stands between them."""
        found = await messages.deliverable(session, event.target_user_id, event.subject_id)
        user = await session.get(User, event.target_user_id)
        if found is None or user is None:
            return
        message, conversation = found
        author = message.author.display_name if message.author else "A former member"
        await self._notify(
            session,
            event,
            user.id,
            kind="message",
            mode=preferences_of(user)["email_messages"],
            community=None,
            title=f"{author} sent you a message: “{conversation.subject}”",
            text=excerpt(message.body, 300),
            url=messages.conversation_url(conversation.id),
            scope="messages",
        )

    async def _contact(self, session: AsyncSession, event: Event) -> None:
        """A contact request or acceptance, in the app only; not when the request was
        answered, withdrawn or ended by a block before the notifier got to it."""
        contact = await session.get(Contact, event.subject_id)
        wanted = "pending" if event.type == "contact.requested" else "accepted"
        actor = await session.get(User, event.actor_id) if event.actor_id else None
        if contact is None or contact.status != wanted or actor is None:
            return
        title, url = f"{actor.display_name} asked to connect with you", "/network"
        if event.type == "contact.accepted":
            title = f"{actor.display_name} accepted your contact request"
            url = f"/members/{actor.username}"
        await self._notify(
            session,
            event,
            event.target_user_id,
            kind="contact",
            mode="in_app",
            community=None,
            title=title,
            text=contact.note if event.type == "contact.requested" else "",
            url=url,
        )

    async def _users_named(self, session: AsyncSession, names: list[str]) -> list[User]:
        if not names:
            return []
        rows = await session.execute(
            select(User).where(User.username.in_(names[:50]), User.deleted_at.is_(None))
        )
        return list(rows.scalars().unique())

    async def _notify(
        self,
        session: AsyncSession,
        event: Event,
        user_id: int,
        *,
        kind: str,
        mode: str,
        community: Community | None,
        title: str,
        url: str,
        thread: Thread | None = None,
        post: Post | None = None,
        text: str = "",
        scope: str = "replies",
    ) -> None:
        user = await session.get(User, user_id)
        if user is None or user.is_deleted:
            return
        if thread is not None:
            # A block either way silences what one member writes for the other.
            if event.actor_id and event.actor_id in await blocked_either_way(session, user_id):
                return
            # Only members who may read the thread hear about it (mentions included).
            reader = await viewer_of(session, user)
            if not permissions.can_see_post(
                reader, community, status=thread.status, author_id=thread.author_id
            ):
                return
        exists = await session.execute(
            select(Notification.id).where(
                Notification.user_id == user_id, Notification.event_id == event.id
            )
        )
        if exists.first():
            return  # this event was handled before a crash
        if not mode:
            mode = preferences_of(user)["email_replies"]
        notification = Notification(
            user_id=user_id,
            event_id=event.id,
            kind=kind,
            actor_id=event.actor_id,
            community_id=community.id if community else None,
            thread_id=thread.id if thread else None,
            post_id=post.id if post else None,
            title=title[:300],
            excerpt=text,
            url=url,
            created_at=utcnow(),
            email_mode=mode,
        )
        session.add(notification)
        await session.flush()
        if mode == "real_time":
            queue_notification_mail(
                session,
                self.context,
                user,
                subject=title,
                body=f"{title}\n\n{text}\n\nRead it: {self.context.settings.base_url}{url}\n",
                scope=scope,
            )
            notification.emailed_at = utcnow()
        await events.record(
            session,
            "notification.created",
            actor_id=event.actor_id,
            audience="user",
            target_user_id=user_id,
            subject_id=notification.id,
            data={"id": notification.id, "kind": kind, "title": notification.title, "url": url},
        )


# Mail ----------------------------------------------------------------------------------------


def queue_notification_mail(
    session: AsyncSession, context, user: User, *, subject: str, body: str, scope: str
) -> OutgoingMail:
    """Queue a notice with a one-click unsubscribe link (RFC 8058) for its scope."""
    token = unsubscribe_token(context.secret_key, user.id, scope)
    link = f"{context.settings.base_url}/unsubscribe/{token}"
    return queue_mail(
        session,
        to=user.email,
        user_id=user.id,
        subject=subject,
        body=f"{body}\n--\nStop these emails: {link}\n",
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


async def send_digests(context, *, force: bool = False) -> int:
    """Queue one digest per member whose digest items wait and whose last digest is a day
    old; a member's first digest waits until their oldest waiting item is a day old."""
    now = utcnow()
    queued = 0
    async with context.db.transaction() as session:
        rows = await session.execute(
            select(Notification.user_id, func.min(Notification.created_at))
            .where(Notification.email_mode == "digest", Notification.emailed_at.is_(None))
            .group_by(Notification.user_id)
        )
        for user_id, oldest in list(rows):
            last = await session.get(DigestRun, user_id)
            since = last.sent_at if last is not None else oldest
            if not force and now - since < DIGEST_EVERY:
                continue
            user = await session.get(User, user_id)
            items = list(
                (
                    await session.execute(
                        select(Notification)
                        .where(
                            Notification.user_id == user_id,
                            Notification.email_mode == "digest",
                            Notification.emailed_at.is_(None),
                        )
                        .order_by(Notification.id)
                        .limit(200)
                    )
                ).scalars()
            )
            # Private messages from a conversation left, or across a block made since, stay
            # out; so do notices about threads out of the member's reach since.
            dropped = await messages.undeliverable(session, user_id, items)
            reader = await viewer_of(session, user)
            dropped |= {n.id for n in await unreadable(session, reader, items)}
            for n in items:
                if n.id in dropped:
                    n.emailed_at = now
            items = [n for n in items if n.id not in dropped]
            if not items:
                continue
            lines = [
                f"- {n.title}\n  {n.excerpt[:200]}\n  {context.settings.base_url}{n.url}"
                for n in items
            ]
            queue_notification_mail(
                session,
                context,
                user,
                subject=f"Your {context.settings.site_name} digest: {len(items)} update"
                + ("s" if len(items) != 1 else ""),
                body=f"{_digest_intro(items)}\n\n" + "\n\n".join(lines),
                scope="digest",
            )
            for n in items:
                n.emailed_at = now
            if last is None:
                session.add(DigestRun(user_id=user_id, sent_at=now))
            else:
                last.sent_at = now
            queued += 1
    return queued


def _digest_intro(items: list[Notification]) -> str:
    """The digest's first line, naming what it holds."""
    messages_only = all(n.kind == "message" for n in items)
    discussions_only = all(n.thread_id is not None for n in items)
    if messages_only:
        return "Here are the private messages you were sent:"
    if discussions_only:
        return "Here is what happened in the discussions you follow:"
    return "Here is what is new for you:"
