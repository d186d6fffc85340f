"""Reading boards: lookups that enforce visibility, pages of threads and posts, JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from connect import markup, permissions
from connect.accounts.models import User
from connect.boards.models import (
    NOT_FOLLOWING,
    Post,
    PostRevision,
    Recommendation,
    Subscription,
    Thread,
    ThreadRead,
)
from connect.communities.models import Community
from connect.errors import Forbidden, NotFound
from connect.events import Event
from connect.members.service import avatar_url
from connect.network.models import Block, Contact
from connect.permissions import Viewer

POSTS_PER_PAGE = 50
THREADS_PER_PAGE = 30


def author_json(user: User | None) -> dict | None:
    if user is None:
        return None
    return {
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": avatar_url(user),
    }


def thread_json(thread: Thread, community: Community | None = None) -> dict:
    data = {
        "id": thread.id,
        "title": thread.title,
        "author": author_json(thread.author),
        "created_at": thread.created_at.isoformat(),
        "last_post_at": thread.last_post_at.isoformat(),
        "post_count": thread.post_count,
        "pinned": thread.pinned,
        "locked": thread.locked,
        "status": thread.status,
        "first_post_id": thread.first_post_id,
        "url": f"/threads/{thread.id}",
    }
    if community is not None:
        data["community"] = community.slug
    return data


def post_json(post: Post, *, recommended: bool = False) -> dict:
    removed = post.status == "deleted"
    return {
        "id": post.id,
        "thread_id": post.thread_id,
        "author": author_json(post.author),
        "body": "" if removed else post.body,
        "html": "" if removed else post.html,
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "status": post.status,
        "recommend_count": post.recommend_count,
        "recommended": recommended,
        "reply_to": post.reply_to_id,
        "url": f"/threads/{post.thread_id}#post-{post.id}",
    }


async def merged_into(session: AsyncSession, thread_id: int) -> int | None:
    """The thread a deleted thread was merged into, if it was (its thread.merged event)."""
    data = await session.scalar(
        select(Event.data)
        .where(Event.type == "thread.merged", Event.subject_id == thread_id)
        .order_by(Event.id.desc())
        .limit(1)
    )
    return data.get("into") if isinstance(data, dict) else None


async def get_thread(
    session: AsyncSession, viewer: Viewer, thread_id: int
) -> tuple[Thread, Community]:
    """The thread and its community, or NotFound if the viewer may not see it."""
    row = await thread_and_community(session, thread_id)
    if row is None:
        raise NotFound("There is no such thread, or you cannot see it.")
    thread, community = row
    check_thread_visible(viewer, thread, community)
    return thread, community


async def thread_and_community(
    session: AsyncSession, thread_id: int
) -> tuple[Thread, Community] | None:
    """The thread and its community, whoever asks (see `check_thread_visible`)."""
    row = (
        await session.execute(
            select(Thread, Community)
            .join(Community, Community.id == Thread.community_id)
            .where(Thread.id == thread_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


def check_thread_visible(viewer: Viewer, thread: Thread, community: Community) -> None:
    if not permissions.can_see_post(
        viewer, community, status=thread.status, author_id=thread.author_id
    ):
        raise NotFound("There is no such thread, or you cannot see it.")


async def get_post(
    session: AsyncSession, viewer: Viewer, post_id: int, *, removed: bool = False
) -> tuple[Post, Thread, Community]:
    """The post, its thread and community, or NotFound if the viewer may not see it. With
    `removed`, a removed post counts as seen in a thread the viewer may read: its address
    leads to its placeholder (a notification about a reply removed since, say)."""
    row = (
        await session.execute(
            select(Post, Thread, Community)
            .join(Thread, Thread.id == Post.thread_id)
            .join(Community, Community.id == Post.community_id)
            .where(Post.id == post_id)
        )
    ).first()
    if row is None:
        raise NotFound("There is no such post, or you cannot see it.")
    post, thread, community = row
    visible_thread = permissions.can_see_post(
        viewer, community, status=thread.status, author_id=thread.author_id
    )
    visible_post = permissions.can_see_post(
        viewer, community, status=post.status, author_id=post.author_id
    ) or (removed and post.status == "deleted")
    if not visible_thread or not visible_post:
        raise NotFound("There is no such post, or you cannot see it.")
    return post, thread, community


async def quotable_post(
    session: AsyncSession, viewer: Viewer, thread_id: int, post_id: int
) -> Post | None:
    """The post of this thread the viewer may quote in a reply (on any of its pages), or None."""
    try:
        post, _, _ = await get_post(session, viewer, post_id)
    except NotFound:
        return None
    return post if post.thread_id == thread_id else None


async def recommenders(session: AsyncSession, post: Post) -> list[User]:
    rows = await session.execute(
        select(Recommendation)
        .where(Recommendation.post_id == post.id)
        .order_by(Recommendation.created_at)
    )
    return [r.user for r in rows.scalars()]


async def new_mentions(session: AsyncSession, post: Post, body: str) -> list[str]:
    """Who `body`, the post's next version, mentions that none of its versions so far did
    (an edit tells them once, as a new post would have)."""
    names = markup.mentions(body)
    if not names:
        return []
    earlier = (
        await session.execute(select(PostRevision.body).where(PostRevision.post_id == post.id))
    ).scalars()
    told = {n for text in (post.body, *earlier) for n in markup.mentions(text)}
    return [n for n in names if n not in told]


async def revisions(session: AsyncSession, post: Post) -> list[PostRevision]:
    rows = await session.execute(
        select(PostRevision).where(PostRevision.post_id == post.id).order_by(PostRevision.id)
    )
    return list(rows.scalars())


async def subscription_mode(
    session: AsyncSession, user_id: int | None, community_id: int, thread_id: int | None
) -> str | None:
    if user_id is None:
        return None
    row = await session.execute(
        select(Subscription.mode).where(
            Subscription.user_id == user_id,
            Subscription.community_id == community_id,
            Subscription.thread_id.is_(None)
            if thread_id is None
            else Subscription.thread_id == thread_id,
        )
    )
    mode = row.scalar_one_or_none()
    return None if mode == NOT_FOLLOWING else mode


async def last_read(session: AsyncSession, viewer: Viewer, thread_id: int) -> int | None:
    if not viewer.signed_in:
        return None
    row = await session.execute(
        select(ThreadRead.last_read_post_id).where(
            ThreadRead.user_id == viewer.id, ThreadRead.thread_id == thread_id
        )
    )
    return row.scalar_one_or_none()


@dataclass(slots=True)
class ReaderState:
    """What a signed-in reader brings to a thread page (nothing, for anyone else)."""

    recommended: set[int] = field(default_factory=set)  # of the page's posts
    last_read: int | None = None
    mode: str | None = None  # their subscription to the thread
    blocked: set[int] = field(default_factory=set)  # members they block
    blocks_me: set[int] = field(default_factory=set)  # members who block them
    contacts: set[int] = field(default_factory=set)  # their accepted contacts


def _reader_statement():
    user_id, thread_id = bindparam("user_id"), bindparam("thread_id")
    no_number, no_text = cast(null(), Integer), cast(null(), String)
    return union_all(
        select(literal("recommended"), Recommendation.post_id, no_text).where(
            Recommendation.user_id == user_id,
            Recommendation.post_id.in_(bindparam("post_ids", expanding=True)),
        ),
        select(literal("last_read"), ThreadRead.last_read_post_id, no_text).where(
            ThreadRead.user_id == user_id, ThreadRead.thread_id == thread_id
        ),
        select(literal("mode"), no_number, Subscription.mode).where(
            Subscription.user_id == user_id,
            Subscription.community_id == bindparam("community_id"),
            Subscription.thread_id == thread_id,
        ),
        select(literal("blocked"), Block.blocked_id, no_text).where(Block.blocker_id == user_id),
        select(literal("blocks_me"), Block.blocker_id, no_text).where(Block.blocked_id == user_id),
        # By requester and addressee, which are indexed with the status: high_id is not
        # indexed, so asking by low_id OR high_id read every contact.
        select(
            literal("contact"),
            case(
                (Contact.requester_id == user_id, Contact.addressee_id),
                else_=Contact.requester_id,
            ),
            no_text,
        ).where(
            Contact.status == "accepted",
            or_(Contact.requester_id == user_id, Contact.addressee_id == user_id),
        ),
    )


# Built once: every signed-in thread page runs it, and building cost more than running.
_READER = _reader_statement()


async def reader_state(
    session: AsyncSession, viewer: Viewer, thread: Thread, posts: list[Post]
) -> ReaderState:
    """The reader's recommendations among these posts, read marker, subscription to the
    thread, blocks either way and contacts, in one statement."""
    state = ReaderState()
    if not viewer.signed_in:
        return state
    rows = await session.execute(
        _READER,
        {
            "user_id": viewer.id,
            "thread_id": thread.id,
            "community_id": thread.community_id,
            "post_ids": [p.id for p in posts],
        },
    )
    for kind, number, text in rows:
        if kind == "recommended":
            state.recommended.add(number)
        elif kind == "blocked":
            state.blocked.add(number)
        elif kind == "blocks_me":
            state.blocks_me.add(number)
        elif kind == "contact":
            state.contacts.add(number)
        elif kind == "last_read":
            state.last_read = number
        elif text != NOT_FOLLOWING:
            state.mode = text
    return state


async def thread_posts(
    session: AsyncSession,
    viewer: Viewer,
    thread: Thread,
    community: Community,
    *,
    page: int = 1,
    per_page: int = POSTS_PER_PAGE,
) -> tuple[list[Post], int, set[int]]:
    """A page of the thread's posts in order (deleted ones as placeholders), the total,
    and which of them the viewer recommended."""
    posts, total = await visible_posts(
        session, viewer, thread, community, page=page, per_page=per_page
    )
    return posts, total, await recommended_by(session, viewer, posts)


def shown_posts(viewer: Viewer, community: Community, thread_id: int):
    """The thread's posts on the viewer's pages: those they may see, and removed ones as
    placeholders."""
    visible = permissions.visible_status_clause(viewer, community, Post.status, Post.author_id)
    return and_(Post.thread_id == thread_id, visible | (Post.status == "deleted"))


async def visible_posts(
    session: AsyncSession,
    viewer: Viewer,
    thread: Thread,
    community: Community,
    *,
    page: int = 1,
    per_page: int = POSTS_PER_PAGE,
) -> tuple[list[Post], int]:
    """A page of the thread's posts the viewer sees, in order, and how many there are."""
    condition = shown_posts(viewer, community, thread.id)
    total = (await session.execute(select(func.count(Post.id)).where(condition))).scalar()
    rows = await session.execute(
        select(Post)
        .where(condition)
        .order_by(Post.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows.scalars().unique()), total


async def recommended_by(session: AsyncSession, viewer: Viewer, posts: list[Post]) -> set[int]:
    """Which of these posts the viewer has recommended (one query)."""
    if not viewer.signed_in or not posts:
        return set()
    liked = await session.execute(
        select(Recommendation.post_id).where(
            Recommendation.user_id == viewer.id,
            Recommendation.post_id.in_([p.id for p in posts]),
        )
    )
    return set(liked.scalars())


async def parents_of(
    session: AsyncSession, viewer: Viewer, community: Community, posts: list[Post]
) -> dict[int, Post]:
    """The posts that these posts reply to, in one query, for the quoted links.

    Only parents the viewer may see (or removed ones, shown without their text): a reply
    to a held or hidden post must not quote it to everyone.
    """
    return visible_parents(viewer, community, await parent_posts(session, posts))


async def parent_posts(session: AsyncSession, posts: list[Post]) -> dict[int, Post]:
    """These posts and those they reply to, by id, whoever may see them (one query)."""
    ids = {p.reply_to_id for p in posts if p.reply_to_id} - {p.id for p in posts}
    found = {p.id: p for p in posts}
    if ids:
        rows = await session.execute(select(Post).where(Post.id.in_(ids)))
        found.update({p.id: p for p in rows.scalars().unique()})
    return found


def visible_parents(
    viewer: Viewer, community: Community, found: dict[int, Post]
) -> dict[int, Post]:
    return {
        post_id: post
        for post_id, post in found.items()
        if post.status == "deleted"
        or permissions.can_see_post(viewer, community, status=post.status, author_id=post.author_id)
    }


async def board(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    sort: str = "activity",
    page: int = 1,
    per_page: int = THREADS_PER_PAGE,
) -> tuple[list[Thread], int]:
    if not permissions.can_read_community(viewer, community):
        if community.visibility == "private":
            raise NotFound("There is no community at this address.")
        raise Forbidden("Only members of this community can read its discussions.")
    visible = permissions.visible_status_clause(viewer, community, Thread.status, Thread.author_id)
    return await board_threads(session, visible, community, sort=sort, page=page, per_page=per_page)


async def board_threads(
    session: AsyncSession,
    visible,
    community: Community,
    *,
    sort: str,
    page: int,
    per_page: int = THREADS_PER_PAGE,
) -> tuple[list[Thread], int]:
    """A page of the community's threads that meet `visible`, pinned first unless by date."""
    condition = and_(Thread.community_id == community.id, visible)
    total = (await session.execute(select(func.count(Thread.id)).where(condition))).scalar()
    if sort == "new":
        order = (Thread.created_at.desc(), Thread.id.desc())
    else:
        order = (Thread.pinned.desc(), Thread.last_post_at.desc(), Thread.id.desc())
    rows = await session.execute(
        select(Thread)
        .where(condition)
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows.scalars().unique()), total


@dataclass(frozen=True)
class Unread:
    """Replies a member has not read in a thread they opened before: how many, and the
    first of them (where "new replies" takes them)."""

    count: int
    first_post_id: int


async def unread_threads(
    session: AsyncSession, viewer: Viewer, threads: list[Thread]
) -> dict[int, Unread]:
    """The viewer's unread replies in each of these threads that they have read before,
    counted by post: past the last post they read, by others (one query)."""
    if not viewer.signed_in or not threads:
        return {}
    rows = await session.execute(
        select(ThreadRead.thread_id, func.count(Post.id), func.min(Post.id))
        .join(
            Post,
            and_(
                Post.thread_id == ThreadRead.thread_id,
                Post.id > ThreadRead.last_read_post_id,
            ),
        )
        .where(
            ThreadRead.user_id == viewer.id,
            ThreadRead.thread_id.in_([t.id for t in threads]),
            Post.status == "published",
            or_(Post.author_id.is_(None), Post.author_id != viewer.id),
        )
        .group_by(ThreadRead.thread_id)
    )
    return {thread_id: Unread(count, first) for thread_id, count, first in rows}


async def first_unread(
    session: AsyncSession, viewer: Viewer, thread: Thread, community: Community
) -> Post | None:
    """Where the viewer left off in the thread: the first post by others they have not
    read, or its last post they see if they have read them all; None if they never
    opened it (or are not signed in)."""
    if not viewer.signed_in:
        return None
    last_read = await session.scalar(
        select(ThreadRead.last_read_post_id).where(
            ThreadRead.user_id == viewer.id, ThreadRead.thread_id == thread.id
        )
    )
    if last_read is None:
        return None
    shown = shown_posts(viewer, community, thread.id)
    unread = await session.scalar(
        select(Post)
        .where(
            shown,
            Post.status == "published",
            Post.id > last_read,
            or_(Post.author_id.is_(None), Post.author_id != viewer.id),
        )
        .order_by(Post.id)
        .limit(1)
    )
    if unread is not None:
        return unread
    return await session.scalar(select(Post).where(shown).order_by(Post.id.desc()).limit(1))


async def latest_discussions(
    session: AsyncSession, viewer: Viewer, *, limit: int = 10
) -> list[tuple[Thread, Community]]:
    """Latest active threads across the viewer's communities."""
    ids = viewer.active_community_ids()
    if not ids:
        return []
    order = (Thread.last_post_at.desc(), Thread.id.desc())
    # The newest ids first, then only those threads with their authors: joining every
    # thread of the viewer's communities to its authors before sorting cost ~3 ms.
    newest = (
        select(Thread.id)
        .where(Thread.community_id.in_(ids), Thread.status == "published")
        .order_by(*order)
        .limit(limit)
    )
    rows = await session.execute(
        select(Thread, Community)
        .join(Community, Community.id == Thread.community_id)
        .where(Thread.id.in_(newest))
        .order_by(*order)
    )
    return [(t, c) for t, c in rows.all() if permissions.can_read_community(viewer, c)]


async def posts_by(
    session: AsyncSession, viewer: Viewer, user: User, *, limit: int = 20
) -> list[tuple[Post, Thread, Community]]:
    """A member's recent published posts in threads the viewer may read."""
    rows = await session.execute(
        select(Post, Thread, Community)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Community, Community.id == Post.community_id)
        .where(
            Post.author_id == user.id,
            Post.status == "published",
            Thread.status == "published",
            permissions.readable_communities_clause(viewer),
        )
        .order_by(Post.created_at.desc())
        .limit(limit)
    )
    return list(rows.all())


async def position_of(
    session: AsyncSession, viewer: Viewer, post: Post, community: Community
) -> int:
    """How many posts the viewer sees before this one in its thread (for paging)."""
    return (
        await session.execute(
            select(func.count(Post.id)).where(
                shown_posts(viewer, community, post.thread_id), Post.id < post.id
            )
        )
    ).scalar()
