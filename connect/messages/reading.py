"""Reading private messages: the inbox and its search, pages of messages, unread counts,
quoted posts (shown only while the reader may still read them), and JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from connect import markup, permissions
from connect.accounts.models import User
from connect.boards.models import Post, Thread
from connect.boards.reading import author_json
from connect.communities.models import Community, Membership
from connect.db import contains_any_case
from connect.errors import Forbidden
from connect.messages.models import Conversation, Message, Participant
from connect.network.models import Block, Contact
from connect.network.relations import Relation
from connect.permissions import Viewer

MESSAGES_PER_PAGE = 50
CONVERSATIONS_PER_PAGE = 30
SEARCH_WORDS = 8


# JSON shapes ------------------------------------------------------------------------------


def participant_json(participant: Participant) -> dict:
    return {
        **author_json(participant.user),
        "left_at": participant.left_at.isoformat() if participant.left_at else None,
    }


def conversation_json(
    conversation: Conversation, participants: list[Participant], *, unread: int | None = None
) -> dict:
    data = {
        "id": conversation.id,
        "subject": conversation.subject,
        "participants": [participant_json(p) for p in participants],
        "created_at": conversation.created_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
        "reported": conversation.reported_at is not None,
        "url": f"/messages/{conversation.id}",
    }
    if unread is not None:
        data["unread"] = unread
    return data


@dataclass(frozen=True)
class Quote:
    """A post quoted by "Reply privately", as shown beside the message: a plain excerpt."""

    post: Post
    thread: Thread

    @property
    def excerpt(self) -> str:
        return markup.excerpt(self.post.body, 300)


def quoted_json(quote: Quote) -> dict:
    return {
        "id": quote.post.id,
        "thread_id": quote.thread.id,
        "title": quote.thread.title,
        "author": author_json(quote.post.author),
        "excerpt": quote.excerpt,
        "url": f"/posts/{quote.post.id}",
    }


def message_json(message: Message, quoted: dict[int, Quote]) -> dict:
    """A message; its quoted post only when the reader may read that post now."""
    shown = quoted.get(message.quoted_post_id) if message.quoted_post_id else None
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author": author_json(message.author),
        "body": message.body,
        "html": message.html,
        "created_at": message.created_at.isoformat(),
        "reply_to_post": shown.post.id if shown else None,
        "quoted_post": quoted_json(shown) if shown else None,
    }


# The inbox -----------------------------------------------------------------------------------


def _mine(viewer: Viewer):
    """Join condition: the viewer's own, still active, place in each conversation."""
    return and_(
        Participant.conversation_id == Conversation.id,
        Participant.user_id == viewer.id,
        Participant.left_at.is_(None),
    )


def _matches(words: list[str]):
    """Each word in the subject or in some message of the conversation (case-insensitive).

    Straight from the database, never the search index: private messages are not indexed.
    """
    conditions = []
    for word in words:
        conditions.append(
            or_(
                contains_any_case(Conversation.subject, word),
                exists().where(
                    Message.conversation_id == Conversation.id,
                    contains_any_case(Message.body, word),
                ),
            )
        )
    return and_(*conditions)


async def inbox(
    session: AsyncSession,
    viewer: Viewer,
    *,
    q: str = "",
    page: int = 1,
    per_page: int = CONVERSATIONS_PER_PAGE,
) -> tuple[list[Conversation], int, dict[int, int], dict[int, list[Participant]]]:
    """A page of the viewer's conversations, latest activity first (or those matching `q`),
    the total, unread counts and participants of each, in four queries."""
    query = select(Conversation).join(Participant, _mine(viewer))
    words = q.split()[:SEARCH_WORDS]
    if words:
        query = query.where(_matches([w[:100] for w in words]))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
    rows = await session.execute(
        query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    conversations = list(rows.scalars().unique())
    ids = [c.id for c in conversations]
    return (
        conversations,
        total,
        await unread_by_conversation(session, viewer, ids),
        (await participants_of(session, ids)),
    )


async def unread_by_conversation(
    session: AsyncSession, viewer: Viewer, conversation_ids: list[int]
) -> dict[int, int]:
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(Message.conversation_id, func.count(Message.id))
        .join(
            Participant,
            and_(
                Participant.conversation_id == Message.conversation_id,
                Participant.user_id == viewer.id,
            ),
        )
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.id > Participant.last_read_message_id,
        )
        .group_by(Message.conversation_id)
    )
    found = dict(rows.all())
    return {cid: found.get(cid, 0) for cid in conversation_ids}


def unread_messages_count(user_id: int):
    """A scalar subquery: messages waiting unread in the member's conversations (the header).

    One index range per conversation the member is in (messages by conversation and id).
    """
    return (
        select(func.count(Message.id))
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(
            Participant.user_id == user_id,
            Participant.left_at.is_(None),
            Message.id > Participant.last_read_message_id,
        )
        .scalar_subquery()
    )


async def unread_total(session: AsyncSession, user_id: int) -> int:
    return (await session.execute(select(unread_messages_count(user_id)))).scalar() or 0


async def participants_of(
    session: AsyncSession, conversation_ids: list[int]
) -> dict[int, list[Participant]]:
    """Everyone who is or was in these conversations, in the order they joined."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(Participant)
        .where(Participant.conversation_id.in_(conversation_ids))
        .order_by(Participant.joined_at, Participant.user_id)
    )
    found: dict[int, list[Participant]] = {cid: [] for cid in conversation_ids}
    for participant in rows.scalars().unique():
        found[participant.conversation_id].append(participant)
    return found


# A conversation's messages --------------------------------------------------------------------


async def messages_of(
    session: AsyncSession,
    conversation: Conversation,
    *,
    page: int | None = 1,
    per_page: int = MESSAGES_PER_PAGE,
) -> tuple[list[Message], int, int]:
    """A page of messages, oldest first; page None means the last one. Returns the page too."""
    condition = Message.conversation_id == conversation.id
    total = (await session.execute(select(func.count(Message.id)).where(condition))).scalar()
    last = max(1, (total + per_page - 1) // per_page)
    page = last if page is None else page
    rows = await session.execute(
        select(Message)
        .where(condition)
        .order_by(Message.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows.scalars().unique()), total, page


async def get_message(session: AsyncSession, conversation: Conversation, message_id: int):
    message = await session.get(Message, message_id)
    return message if message is not None and message.conversation_id == conversation.id else None


async def quoted_posts(
    session: AsyncSession, viewer: Viewer, messages: list[Message]
) -> dict[int, Quote]:
    """The posts these messages quote that the viewer may read now (one query).

    A post since removed, held, hidden or moved out of the viewer's reach is left out:
    the message then shows without its quote.
    """
    ids = {m.quoted_post_id for m in messages if m.quoted_post_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(Post, Thread, Community)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Community, Community.id == Post.community_id)
        .where(Post.id.in_(ids))
    )
    shown = {}
    for post, thread, community in rows.all():
        if post.status == "deleted" or thread.status == "deleted":
            continue
        if permissions.can_see_post(
            viewer, community, status=thread.status, author_id=thread.author_id
        ) and permissions.can_see_post(
            viewer, community, status=post.status, author_id=post.author_id
        ):
            shown[post.id] = Quote(post, thread)
    return shown


async def left_positions(
    session: AsyncSession, conversation: Conversation, participants: list[Participant]
) -> list[tuple[int, Participant]]:
    """Where each departure falls: (how many messages came before it, who left)."""
    found = []
    for participant in participants:
        if participant.left_at is None:
            continue
        before = await session.scalar(
            select(func.count(Message.id)).where(
                Message.conversation_id == conversation.id,
                Message.created_at <= participant.left_at,
            )
        )
        found.append((before or 0, participant))
    return sorted(found, key=lambda item: (item[0], item[1].left_at))


# Who may be messaged (the "Reply privately" links) -----------------------------------------


def _relations_statement():
    """Per candidate: blocks either way, an accepted contact, a shared community with `me`.

    Built once: it runs on every thread page, where building it cost more than running it.
    """
    me, candidate = bindparam("me"), User.id
    mine, theirs = aliased(Membership), aliased(Membership)
    return select(
        candidate,
        select(Block.blocker_id)
        .where(Block.blocker_id == me, Block.blocked_id == candidate)
        .exists(),
        select(Block.blocker_id)
        .where(Block.blocker_id == candidate, Block.blocked_id == me)
        .exists(),
        select(Contact.id)
        .where(
            Contact.status == "accepted",
            or_(
                and_(Contact.low_id == me, Contact.high_id == candidate),
                and_(Contact.low_id == candidate, Contact.high_id == me),
            ),
        )
        .exists(),
        select(mine.community_id)
        .join(theirs, theirs.community_id == mine.community_id)
        .where(
            mine.user_id == me,
            mine.status == "active",
            theirs.user_id == candidate,
            theirs.status == "active",
        )
        .exists(),
    ).where(candidate.in_(bindparam("ids", expanding=True)))


_RELATIONS = _relations_statement()


async def messageable(session: AsyncSession, viewer: Viewer, users: list[User | None]) -> set[int]:
    """Which of these members the viewer may message, in one query for all of them.

    Builds each pair's Relation (blocks either way, accepted contact, a shared community)
    and asks permissions.can_message, exactly as starting the conversation will.
    """
    candidates = _candidates(viewer, users)
    if not candidates:
        return set()
    me = viewer.id
    rows = await session.execute(_RELATIONS, {"me": me, "ids": list(candidates)})
    relations = [
        Relation(
            viewer_id=me,
            other_id=user_id,
            contact="accepted" if contact else None,
            blocked_by_viewer=bool(blocked_by_me),
            blocks_viewer=bool(blocks_me),
            shared_communities=1 if shared else 0,
        )
        for user_id, blocked_by_me, blocks_me, contact, shared in rows.all()
    ]
    return _allowed(viewer, candidates, relations)


def messageable_among(
    viewer: Viewer,
    users: list[User | None],
    *,
    blocked: set[int],
    blocks_me: set[int],
    contacts: set[int],
    communities_of: dict[int, frozenset[int]],
) -> set[int]:
    """`messageable` from facts the caller has read already: whom the viewer blocks, who
    blocks them, their accepted contacts, and each member's active communities."""
    candidates = _candidates(viewer, users)
    if not candidates:
        return set()
    mine = {cid for cid, role in viewer.memberships.items() if role.status == "active"}
    relations = [
        Relation(
            viewer_id=viewer.id,
            other_id=user_id,
            contact="accepted" if user_id in contacts else None,
            blocked_by_viewer=user_id in blocked,
            blocks_viewer=user_id in blocks_me,
            shared_communities=1 if mine & communities_of.get(user_id, frozenset()) else 0,
        )
        for user_id in candidates
    ]
    return _allowed(viewer, candidates, relations)


def _candidates(viewer: Viewer, users: list[User | None]) -> dict[int, User]:
    if not viewer.signed_in or viewer.suspended:
        return {}
    return {u.id: u for u in users if u is not None and u.id != viewer.id}


def _allowed(viewer: Viewer, candidates: dict[int, User], relations: list[Relation]) -> set[int]:
    allowed = set()
    for rel in relations:
        other = candidates[rel.other_id]
        policy = other.profile.message_policy if other.profile else "anyone"
        if permissions.can_message(viewer, other, rel, policy=policy):
            allowed.add(rel.other_id)
    return allowed


# Moderation ------------------------------------------------------------------------------------


async def reported(
    session: AsyncSession, viewer: Viewer, *, page: int = 1, per_page: int = 30
) -> tuple[list[tuple[Conversation, User | None]], int]:
    """Reported conversations, newest report first, with who reported each (site moderators)."""
    if not viewer.is_site_moderator:
        raise Forbidden("Only site moderators see reported conversations.")
    condition = Conversation.reported_at.is_not(None)
    total = (await session.execute(select(func.count(Conversation.id)).where(condition))).scalar()
    rows = await session.execute(
        select(Conversation, User)
        .outerjoin(User, User.id == Conversation.reported_by_id)
        .where(condition)
        .order_by(Conversation.reported_at.desc(), Conversation.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [(c, u) for c, u in rows.unique().all()], total
