"""Private message operations: start a conversation, write, read, leave, report.

Who may write to whom is connect.permissions.can_message over the pair's Relation
(connect.network.relations). Participants read their conversations; site moderators
read one only after a participant reported it, and every such read is in the
moderation log. Nothing here is ever put in the search index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.boards import reading as boards
from connect.boards.models import Post, Thread
from connect.boards.reading import author_json
from connect.communities.models import Community
from connect.communities.service import viewer_of
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn, RateLimited
from connect.messages.models import Conversation, Message, Participant
from connect.moderation import audit
from connect.network.relations import relation
from connect.notifications.models import Notification
from connect.permissions import Viewer

SUBJECT_MAX = 200
REASON_MAX = 500
MAX_RECIPIENTS = 20
NOT_FOUND = "There is no such conversation, or you cannot see it."


def conversation_limit(settings) -> int | None:
    """New conversations per day, or None when CONNECT_RATE_LIMITS is off."""
    return settings.new_conversations_per_day if settings.rate_limits else None


def conversation_url(conversation_id: int) -> str:
    """The page of a conversation; also what its message notifications point to."""
    return f"/messages/{conversation_id}"


# Validation ------------------------------------------------------------------------------


def _require_writer(viewer: Viewer) -> None:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to send messages.")
    if viewer.suspended:
        raise Forbidden("Your account is suspended: you cannot send messages.", code="suspended")


def _clean_subject(subject) -> str:
    if subject is None:
        return ""
    if not isinstance(subject, str):
        raise Invalid("subject is text.", fields={"subject": "Text, or leave it out."})
    subject = markup.one_line(subject)
    if len(subject) > SUBJECT_MAX:
        raise Invalid(
            f"Use at most {SUBJECT_MAX} characters for the subject.",
            fields={"subject": f"At most {SUBJECT_MAX} characters."},
        )
    return subject


def clean_usernames(to) -> list[str]:
    """`to` as a list of usernames (a string may hold several, split by commas or spaces)."""
    if isinstance(to, str):
        to = re.split(r"[\s,;]+", to)
    if not isinstance(to, list) or not all(isinstance(name, str) for name in to):
        raise Invalid("to is a list of usernames.", fields={"to": "A list of usernames."})
    names: list[str] = []
    for raw in to:
        name = raw.strip().lstrip("@").lower()
        if name and name not in names:
            names.append(name)
    if not names:
        raise Invalid("Say who the message is for.", fields={"to": "Enter a username."})
    if len(names) > MAX_RECIPIENTS:
        raise Invalid(
            f"A conversation has at most {MAX_RECIPIENTS} other members.",
            fields={"to": f"At most {MAX_RECIPIENTS} usernames."},
        )
    return names


def _clean_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid(
            "Say what is wrong, for the moderators.", fields={"reason": "Enter a reason."}
        )
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise Invalid(
            f"Use at most {REASON_MAX} characters.",
            fields={"reason": f"At most {REASON_MAX} characters."},
        )
    return reason


async def _recipients(session: AsyncSession, viewer: Viewer, names: list[str]) -> list[User]:
    rows = await session.execute(
        select(User).where(User.username.in_(names), User.deleted_at.is_(None))
    )
    found = {u.username: u for u in rows.scalars().unique()}
    missing = [n for n in names if n not in found]
    if missing:
        raise Invalid(
            f"No member is called {', '.join(missing)}.",
            fields={"to": f"Unknown username: {', '.join(missing)}."},
        )
    if viewer.user.username in found:
        raise Invalid("You cannot send a message to yourself.", fields={"to": "That is you."})
    return [found[n] for n in names]


async def may_message(session: AsyncSession, viewer: Viewer, other: User) -> bool:
    """Whether the viewer may start a conversation with `other` (blocks, their policy)."""
    rel = await relation(session, viewer.id, other.id)
    policy = other.profile.message_policy if other.profile else "anyone"
    return permissions.can_message(viewer, other, rel, policy=policy)


async def _check_may_message(session: AsyncSession, viewer: Viewer, other: User) -> None:
    if (await relation(session, viewer.id, other.id)).blocked_by_viewer:
        # The viewer's own block: nothing to hide from them (as for contact requests).
        text = f"You blocked this member (@{other.username}); unblock them first."
        raise Forbidden(text, code="blocking", fields={"to": text})
    # One answer for their blocks and privacy settings: nobody learns which it was.
    if not await may_message(session, viewer, other):
        text = f"{other.display_name} (@{other.username}) does not accept messages from you."
        raise Forbidden(text, code="not_accepting_messages", fields={"to": text})


async def _check_daily_limit(session: AsyncSession, viewer: Viewer, per_day: int | None) -> None:
    """At most `per_day` new conversations in 24 hours; site staff are not limited."""
    if per_day is None or viewer.is_site_moderator:
        return
    now = utcnow()
    count, oldest = (
        await session.execute(
            select(func.count(Conversation.id), func.min(Conversation.created_at)).where(
                Conversation.created_by_id == viewer.id,
                Conversation.created_at > now - timedelta(days=1),
            )
        )
    ).one()
    if count >= per_day:
        retry = int(((oldest or now) + timedelta(days=1) - now).total_seconds()) + 1
        hours = max(1, round(retry / 3600))
        raise RateLimited(
            f"You have started {count} conversations today, the most this site allows. "
            f"Try again in about {hours} hour{'s' if hours != 1 else ''}.",
            retry_after=retry,
        )


async def quotable_post(session: AsyncSession, viewer: Viewer, post_id) -> tuple[Post, Thread]:
    """The post a "Reply privately" quotes (and its thread): one the sender can read."""
    refused = Invalid(
        "You can only quote a post you can read.",
        fields={"reply_to_post": "Not a post you can read."},
    )
    if not isinstance(post_id, int) or isinstance(post_id, bool) or post_id < 1:
        raise refused
    try:
        post, thread, _ = await boards.get_post(session, viewer, post_id)
    except NotFound:
        raise refused from None
    if post.status == "deleted" or thread.status == "deleted":
        raise refused
    return post, thread


async def _all_may_read(session: AsyncSession, thread: Thread, users: list[User]) -> bool:
    community = await session.get(Community, thread.community_id)
    for user in users:
        reader = await viewer_of(session, user)
        if not permissions.can_see_post(
            reader, community, status=thread.status, author_id=thread.author_id
        ):
            return False
    return True


# Writing ------------------------------------------------------------------------------------


async def start_conversation(
    session: AsyncSession,
    viewer: Viewer,
    *,
    to,
    body,
    subject=None,
    reply_to_post=None,
    per_day: int | None = None,
) -> tuple[Conversation, Message]:
    """Start a conversation with one or more members; `per_day` (web requests) limits spam."""
    _require_writer(viewer)
    names = clean_usernames(to)
    body, subject = markup.clean_body(body, empty="Write a message first."), _clean_subject(subject)
    quoted = None
    if reply_to_post is not None:
        quoted, thread = await quotable_post(session, viewer, reply_to_post)
    recipients = await _recipients(session, viewer, names)
    for user in recipients:
        await _check_may_message(session, viewer, user)
    if quoted is not None and not subject and await _all_may_read(session, thread, recipients):
        subject = thread.title  # never the title of a thread a recipient cannot read
    await _check_daily_limit(session, viewer, per_day)
    subject = subject or markup.excerpt(body, 80)
    now = utcnow()
    conversation = Conversation(
        subject=(subject or "(no subject)")[:SUBJECT_MAX],
        created_by_id=viewer.id,
        created_at=now,
        last_message_at=now,
    )
    session.add(conversation)
    await session.flush()
    quoted_post_id = quoted.id if quoted else None
    message = await _write(session, viewer, conversation, body, quoted_post_id=quoted_post_id)
    for user_id in [viewer.id] + [u.id for u in recipients]:
        session.add(
            Participant(
                conversation_id=conversation.id,
                user_id=user_id,
                joined_at=now,
                last_read_message_id=message.id if user_id == viewer.id else 0,
            )
        )
    await session.flush()
    await _announce(session, conversation, message, [viewer.id] + [u.id for u in recipients])
    return conversation, message


async def send_message(
    session: AsyncSession, viewer: Viewer, conversation_id: int, *, body
) -> tuple[Conversation, Message]:
    """Write in a conversation: never across a block with anyone still in it."""
    _require_writer(viewer)
    conversation, mine = await participation(session, viewer, conversation_id)
    body = markup.clean_body(body, empty="Write a message first.")
    others = await active_members(session, conversation.id, exclude=viewer.id)
    if not others:
        raise Conflict(
            "Everyone else has left this conversation: start a new one to write to them."
        )
    for other in others:
        rel = await relation(session, viewer.id, other.id)
        if rel.blocked_by_viewer:
            raise Forbidden(
                f"You block {other.display_name}: unblock them, or leave this conversation.",
                code="blocking",
            )
        if rel.blocks_viewer:
            raise Forbidden(
                f"{other.display_name} (@{other.username}) does not accept messages from you.",
                code="not_accepting_messages",
            )
    message = await _write(session, viewer, conversation, body)
    mine.last_read_message_id = message.id  # writing means having read what came before
    await _announce(session, conversation, message, [viewer.id] + [u.id for u in others])
    return conversation, message


async def _write(
    session: AsyncSession,
    viewer: Viewer,
    conversation: Conversation,
    body: str,
    *,
    quoted_post_id: int | None = None,
) -> Message:
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        author_id=viewer.id,
        body=body,
        html=markup.render(body),
        quoted_post_id=quoted_post_id,
        created_at=now,
    )
    session.add(message)
    conversation.last_message_at = now
    await session.flush()
    message.author = await session.get(User, viewer.id)
    return message


async def _announce(
    session: AsyncSession, conversation: Conversation, message: Message, user_ids: list[int]
) -> None:
    """One `message.created` event per participant, for their `me` channel and the notifier.

    Each participant may read the message, so its text goes along; the quoted post does
    not (whether each one may read it is decided when the message is shown).
    """
    for user_id in user_ids:
        await events.record(
            session,
            "message.created",
            actor_id=message.author_id,
            audience="user",
            target_user_id=user_id,
            subject_id=message.id,
            data={
                "conversation_id": conversation.id,
                "subject": conversation.subject,
                "message": {
                    "id": message.id,
                    "author": author_json(message.author),
                    "html": message.html,
                    "created_at": message.created_at.isoformat(),
                },
                "unread": user_id != message.author_id,
                "url": f"{conversation_url(conversation.id)}#message-{message.id}",
            },
        )


async def leave(session: AsyncSession, viewer: Viewer, conversation_id: int) -> None:
    """Leave for good: no more messages, mail or notifications; the others see it."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in first.")
    conversation, mine = await participation(session, viewer, conversation_id)
    now = utcnow()
    mine.left_at = now
    # What still waited for a digest (or the bell) about this conversation goes too.
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == viewer.id,
            Notification.kind == "message",
            Notification.url == conversation_url(conversation.id),
            Notification.emailed_at.is_(None),
        )
        .values(emailed_at=now)
    )
    await _mark_notifications_read(session, viewer.id, conversation.id)


async def report(
    session: AsyncSession, viewer: Viewer, conversation_id: int, *, reason
) -> Conversation:
    """A participant, or one who left, reports the conversation: from now on site
    moderators may read it."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in first.")
    conversation, _ = await reporter_participation(session, viewer, conversation_id)
    conversation.report_reason = _clean_reason(reason)
    conversation.reported_at = utcnow()
    conversation.reported_by_id = viewer.id
    return conversation


async def close_report(
    session: AsyncSession, viewer: Viewer, conversation_id: int, *, reason: str = ""
) -> Conversation:
    """A site moderator is done with a report: the conversation is private again."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not permissions.can_read_reported_conversation(
        viewer, reported=conversation.reported_at is not None
    ):
        raise NotFound(NOT_FOUND)
    reporter = (
        await session.get(User, conversation.reported_by_id)
        if conversation.reported_by_id
        else None
    )
    await audit.record(
        session,
        viewer,
        "conversation.close_report",
        target_kind="conversation",
        target_id=conversation.id,
        target_user=reporter,
        summary=f"“{conversation.subject}”",
        reason=reason.strip()[:REASON_MAX] if isinstance(reason, str) else "",
        before={"report_reason": conversation.report_reason},
    )
    conversation.reported_at = None
    conversation.reported_by_id = None
    conversation.report_reason = ""
    return conversation


# Reading --------------------------------------------------------------------------------------


@dataclass
class Opened:
    """A conversation as the viewer may read it: as a participant, or as a site moderator."""

    conversation: Conversation
    participant: Participant | None  # None: a moderator reading a reported conversation

    @property
    def as_moderator(self) -> bool:
        return self.participant is None


async def participation(
    session: AsyncSession, viewer: Viewer, conversation_id: int
) -> tuple[Conversation, Participant]:
    """The conversation and the viewer's place in it; 404 unless they are still in it."""
    row = (
        await session.execute(
            select(Conversation, Participant)
            .join(Participant, Participant.conversation_id == Conversation.id)
            .where(
                Conversation.id == conversation_id,
                Participant.user_id == viewer.id,
                Participant.left_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row[0], row[1]


async def reporter_participation(
    session: AsyncSession, viewer: Viewer, conversation_id: int
) -> tuple[Conversation, Participant]:
    """The conversation and the viewer's place in it, left or not; 404 unless they may
    report it."""
    row = (
        await session.execute(
            select(Conversation, Participant)
            .join(Participant, Participant.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, Participant.user_id == viewer.id)
        )
    ).first()
    if row is None or not permissions.can_report_conversation(viewer, was_participant=True):
        raise NotFound(NOT_FOUND)
    return row[0], row[1]


async def open_conversation(session: AsyncSession, viewer: Viewer, conversation_id: int) -> Opened:
    """The conversation for reading, or 404. A moderator's read is logged (write transaction)."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to read your messages.")
    try:
        conversation, mine = await participation(session, viewer, conversation_id)
        return Opened(conversation, mine)
    except NotFound:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None or not permissions.can_read_reported_conversation(
            viewer, reported=conversation.reported_at is not None
        ):
            raise
    reporter = (
        await session.get(User, conversation.reported_by_id)
        if conversation.reported_by_id
        else None
    )
    await audit.record(
        session,
        viewer,
        "conversation.read",
        target_kind="conversation",
        target_id=conversation.id,
        target_user=reporter,
        summary=f"“{conversation.subject}”",
        reason=conversation.report_reason,
    )
    return Opened(conversation, None)


async def active_members(
    session: AsyncSession, conversation_id: int, *, exclude: int | None = None
) -> list[User]:
    """Members still in the conversation (all but `exclude`)."""
    query = (
        select(User)
        .join(Participant, Participant.user_id == User.id)
        .where(Participant.conversation_id == conversation_id, Participant.left_at.is_(None))
    )
    if exclude is not None:
        query = query.where(User.id != exclude)
    return list((await session.execute(query.order_by(User.id))).scalars().unique())


async def mark_read(
    session: AsyncSession, viewer: Viewer, conversation_id: int, message_id: int
) -> None:
    """The participant has seen the conversation up to `message_id` (never backwards)."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in first.")
    _, mine = await participation(session, viewer, conversation_id)
    newest = await session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation_id, Message.id <= message_id
        )
    )
    if newest and newest > mine.last_read_message_id:
        mine.last_read_message_id = newest
    await _mark_notifications_read(session, viewer.id, conversation_id)


async def _mark_notifications_read(session: AsyncSession, user_id: int, conversation_id: int):
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.kind == "message",
            Notification.url == conversation_url(conversation_id),
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )


# For the notifier -------------------------------------------------------------------------------


async def still_reaches(
    session: AsyncSession, user_id: int, conversation_id: int, sender_id: int | None
) -> bool:
    """Whether news of a message may still go to this member: they are in the
    conversation and no block stands between them and the sender."""
    mine = await session.get(Participant, (conversation_id, user_id))
    if mine is None or mine.left_at is not None:
        return False
    if sender_id == user_id:
        return False  # nobody hears about their own message
    if sender_id is None:
        return True  # the sender's account is gone: no block can stand
    return not (await relation(session, user_id, sender_id)).blocked


async def deliverable(
    session: AsyncSession, user_id: int, message_id: int
) -> tuple[Message, Conversation] | None:
    """The message and its conversation, if the member may still hear about it."""
    message = await session.get(Message, message_id)
    if message is None:
        return None
    if not await still_reaches(session, user_id, message.conversation_id, message.author_id):
        return None
    return message, await session.get(Conversation, message.conversation_id)


def conversation_id_of(url: str) -> int | None:
    """The conversation a message notification points to (its url is conversation_url)."""
    match = re.fullmatch(r"/messages/(\d+)", url or "")
    return int(match.group(1)) if match else None


async def undeliverable(session: AsyncSession, user_id: int, notifications: list) -> set[int]:
    """Ids of message notifications that must not be mailed (left, or a block since)."""
    dropped = set()
    for n in notifications:
        if n.kind != "message":
            continue
        conversation_id = conversation_id_of(n.url)
        if conversation_id is None or not await still_reaches(
            session, user_id, conversation_id, n.actor_id
        ):
            dropped.add(n.id)
    return dropped
