"""What every reader of a thread page or a board page shares, read once for all of them.

Most readers of a page see the same rows: the thread's published posts (and placeholders
for removed ones), the board's published threads. Those rows are kept in the read cache
(`connect.pagecache.ReadCache`) under the newest event id, read first in the same session,
so nobody gets rows older than the log they can see. What differs between readers is
applied to the kept rows per request (the quoted parents and attachments they may see) or
read for them alone (what they recommended, their subscriptions).

Readers who see more than published rows are not served from the kept ones: moderators of
the community (held and hidden posts) and members with held posts of their own in that
thread or board. Each kept page records who those members are.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.boards import reading
from connect.boards.models import Post, Thread
from connect.boards.rendering import post_part, quote_part
from connect.communities.models import Community, Membership
from connect.errors import NotFound
from connect.library import reading as library_reading
from connect.library.models import Entry
from connect.pagecache import ReadCache
from connect.permissions import Viewer

# Rough bytes per ORM row beyond its text, for the cache's budget.
_ROW_BYTES = 3000


@dataclass(frozen=True, slots=True)
class ThreadPage:
    thread: Thread
    community: Community
    posts: list[Post]  # published and removed, in order
    total: int
    held_by: frozenset[int]  # authors of held posts in the thread
    parents: dict[int, Post]  # every quoted post, before `visible_parents`
    attachments: dict[int, list[Entry]]  # every attachment, before `visible_attachments`
    parts: dict[int, tuple[tuple, tuple]]  # post_part and quote_part of each of `parents`
    communities_of: dict[int, frozenset[int]]  # each author's active communities

    def serves(self, viewer: Viewer) -> bool:
        return _serves(viewer, self.community, self.held_by)


@dataclass(frozen=True, slots=True)
class BoardPage:
    threads: list[Thread]  # published, in the page's order
    total: int
    held_by: frozenset[int]  # authors of held threads in the community

    def serves(self, viewer: Viewer, community: Community) -> bool:
        return _serves(viewer, community, self.held_by)


def _serves(viewer: Viewer, community: Community, held_by: frozenset[int]) -> bool:
    if permissions.can_moderate(viewer, community):
        return False
    return not (viewer.signed_in and viewer.id in held_by)


async def thread_page(
    session: AsyncSession, reads: ReadCache, cursor: int, thread_id: int, page: int
) -> ThreadPage:
    """The shared page of the thread, as of event `cursor` (read before, in `session`);
    NotFound if there is no such thread. Visibility is the caller's to check."""
    shared = await reads.get_or_load(
        ("thread", thread_id, page, cursor),
        lambda: _load_thread_page(session, thread_id, page),
        _thread_page_size,
    )
    if shared is None:
        raise NotFound("There is no such thread, or you cannot see it.")
    return shared


async def _load_thread_page(session: AsyncSession, thread_id: int, page: int) -> ThreadPage | None:
    row = await reading.thread_and_community(session, thread_id)
    if row is None:
        return None
    thread, community = row
    shown = and_(Post.thread_id == thread_id, Post.status.in_(("published", "deleted")))
    total = (await session.execute(select(func.count(Post.id)).where(shown))).scalar()
    rows = await session.execute(
        select(Post)
        .where(shown)
        .order_by(Post.id)
        .offset((page - 1) * reading.POSTS_PER_PAGE)
        .limit(reading.POSTS_PER_PAGE)
    )
    posts = list(rows.scalars().unique())
    parents = await reading.parent_posts(session, posts)
    held = await session.execute(
        select(Post.author_id)
        .where(Post.thread_id == thread_id, Post.status == "pending")
        .distinct()
    )
    # For "Reply privately": whether the reader shares a community with each author.
    communities: dict[int, set[int]] = {}
    authors = {p.author_id for p in posts if p.author_id is not None}
    if authors:
        rows = await session.execute(
            select(Membership.user_id, Membership.community_id).where(
                Membership.user_id.in_(authors), Membership.status == "active"
            )
        )
        for user_id, community_id in rows:
            communities.setdefault(user_id, set()).add(community_id)
    return ThreadPage(
        thread=thread,
        community=community,
        posts=posts,
        total=total,
        held_by=frozenset(held.scalars()),
        parents=parents,
        attachments=await library_reading.attachments_of(session, [p.id for p in posts]),
        parts={i: (post_part(p), quote_part(p)) for i, p in parents.items()},
        communities_of={user_id: frozenset(ids) for user_id, ids in communities.items()},
    )


def _thread_page_size(shared: ThreadPage) -> int:
    text = sum(len(p.body) + len(p.html) for p in shared.parents.values())
    rows = len(shared.parents) + sum(len(a) for a in shared.attachments.values())
    return 2 * text + _ROW_BYTES * (rows + 2)


async def board_page(
    session: AsyncSession,
    reads: ReadCache,
    cursor: int,
    community: Community,
    *,
    sort: str,
    page: int,
) -> BoardPage:
    """The shared page of the community's board, as of event `cursor` (read before)."""
    return await reads.get_or_load(
        ("board", community.id, sort, page, cursor),
        lambda: _load_board_page(session, community, sort, page),
        lambda shared: _ROW_BYTES * (len(shared.threads) + 1),
    )


async def _load_board_page(
    session: AsyncSession, community: Community, sort: str, page: int
) -> BoardPage:
    threads, total = await reading.board_threads(
        session, Thread.status == "published", community, sort=sort, page=page
    )
    held = await session.execute(
        select(Thread.author_id)
        .where(Thread.community_id == community.id, Thread.status == "pending")
        .distinct()
    )
    return BoardPage(threads=threads, total=total, held_by=frozenset(held.scalars()))
