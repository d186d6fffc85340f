"""Activity feeds: threads started, replies, library uploads and communities joined.

Built from the domain tables, not the event log, so that the clauses guarding boards and
libraries guard the feeds too: only published items in communities the viewer may read
ever appear, whoever did them. A member's profile shows their own activity; the home page
shows what the viewer's contacts did and what happened in the viewer's communities.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.boards.models import Post, Thread
from connect.boards.reading import author_json
from connect.communities.models import Community, Membership
from connect.library.models import Entry
from connect.markup import excerpt
from connect.network.service import blocked_either_way, contact_ids
from connect.permissions import Viewer

PER_PAGE = 20
# Up to this many communities, the uncounted home feed reads each one's newest activity on
# its own (four parts each; SQLite allows 500 parts in one statement).
NEWEST_SCOPES = 40
KINDS = ("thread", "reply", "entry", "joined")


@dataclass
class FeedItem:
    kind: str  # one of KINDS
    id: int
    at: datetime
    actor: User
    community: Community
    title: str
    url: str
    excerpt: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.id}"


def item_json(item: FeedItem) -> dict:
    return {
        "type": item.kind,
        "id": item.id,
        "created_at": item.at.isoformat(),
        "actor": author_json(item.actor),
        "community": {"slug": item.community.slug, "name": item.community.name},
        "title": item.title,
        "excerpt": item.excerpt,
        "url": item.url,
    }


def _activity(viewer: Viewer, who) -> object:
    """Every activity the viewer may see, as rows (kind, item_id, at, actor_id, community_id).

    `who(actor_column, community_column)` narrows it to the feed's members and communities.
    """
    readable = permissions.readable_communities_clause(viewer)
    return union_all(*_parts(readable, who)).subquery("activity")


def _parts(readable: ColumnElement[bool], who) -> list[Select]:
    """`_activity`'s four parts (threads started, replies, library uploads, joins) in the
    communities `readable` allows."""

    def row(kind: str, item_id, at, actor_id, community_id) -> list:
        return [
            literal(kind, String(8)).label("kind"),
            item_id.label("item_id"),
            at.label("at"),
            actor_id.label("actor_id"),
            community_id.label("community_id"),
        ]

    threads = (
        select(*row("thread", Thread.id, Thread.created_at, Thread.author_id, Thread.community_id))
        .join(Community, Community.id == Thread.community_id)
        .where(Thread.status == "published", readable, who(Thread.author_id, Thread.community_id))
    )
    replies = (
        select(*row("reply", Post.id, Post.created_at, Post.author_id, Post.community_id))
        .join(Thread, Thread.id == Post.thread_id)
        .join(Community, Community.id == Post.community_id)
        .where(
            Post.status == "published",
            Thread.status == "published",
            Post.id != Thread.first_post_id,
            readable,
            who(Post.author_id, Post.community_id),
        )
    )
    entries = (
        select(*row("entry", Entry.id, Entry.created_at, Entry.author_id, Entry.community_id))
        .join(Community, Community.id == Entry.community_id)
        .where(
            Entry.status == "published",
            Entry.post_id.is_(None),  # a post's attachments show with the post
            readable,
            who(Entry.author_id, Entry.community_id),
        )
    )
    joins = (
        select(
            *row(
                "joined",
                Membership.id,
                Membership.created_at,
                Membership.user_id,
                Membership.community_id,
            )
        )
        .join(Community, Community.id == Membership.community_id)
        .where(
            Membership.status == "active",
            readable,
            who(Membership.user_id, Membership.community_id),
        )
    )
    return [threads, replies, entries, joins]


def _newest(part: Select, n) -> Select:
    """The part's newest `n` rows: read newest first along an index and stopped there,
    instead of every row read and sorted (what a page of a big community's feed cost)."""
    columns = part.selected_columns
    return select(part.order_by(columns.at.desc(), columns.item_id.desc()).limit(n).subquery())


@cache
def _newest_page(communities: int, contacts: bool, everywhere: bool) -> Select:
    """The uncounted home feed's page, for a viewer in this many communities, with or
    without contacts, reading everywhere (site moderators) or not. Each community's activity,
    and the contacts' elsewhere, is cut to its newest rows before they are merged: a page
    reads about a page per community, however much the communities hold.

    Built once per shape, its values bound at each run (see home_feed): building and
    compiling ~20 parts for every home page cost more than running them."""
    me, blocked = bindparam("me"), bindparam("blocked", expanding=True)
    mine = bindparam("mine", expanding=True)
    readable = (
        true()
        if everywhere
        else or_(
            Community.visibility == "open",
            Community.id.in_(bindparam("readable", expanding=True)),
        )
    )
    newest = bindparam("newest")

    def others(actor) -> ColumnElement[bool]:
        return and_(actor != me, actor.not_in(blocked))

    scopes = [
        lambda actor, community, one=bindparam(f"c{i}"): and_(others(actor), community == one)
        for i in range(communities)
    ]
    if contacts:
        scopes.append(
            lambda actor, community: and_(
                others(actor),
                actor.in_(bindparam("contacts", expanding=True)),
                community.not_in(mine),
            )
        )
    activity = union_all(
        *(_newest(part, newest) for scope in scopes for part in _parts(readable, scope))
    ).subquery("activity")
    return (
        select(activity)
        .order_by(activity.c.at.desc(), activity.c.item_id.desc(), activity.c.kind)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


async def _page(
    session: AsyncSession, activity, *, page: int, per_page: int, count: bool = True
) -> tuple[list[FeedItem], int]:
    """A page of the activity and how many there are in all; with `count=False` (no
    counting every activity), a lower bound that is more than the page shows if more follow."""
    offset = (page - 1) * per_page
    total = await session.scalar(select(func.count()).select_from(activity)) if count else None
    rows = (
        await session.execute(
            select(activity)
            .order_by(activity.c.at.desc(), activity.c.item_id.desc(), activity.c.kind)
            .offset(offset)
            .limit(per_page if count else per_page + 1)
        )
    ).all()
    if total is None:
        total = offset + len(rows)
    return await _load(session, rows[:per_page]), total or 0


async def _load(session: AsyncSession, rows) -> list[FeedItem]:
    """The rows' members and communities, and of their threads, replies and entries only
    what the feed shows (titles and the text to excerpt): a few narrow queries in all."""
    ids: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        ids[r.kind].add(r.item_id)
    users = await _by_id(session, User, {r.actor_id for r in rows})
    communities = await _by_id(session, Community, {r.community_id for r in rows})
    # (title, Markdown to excerpt) of each item; a reply's title is its thread's.
    threads = await _described(
        session,
        select(Thread.id, Thread.title, Post.body)
        .outerjoin(Post, Post.id == Thread.first_post_id)
        .where(Thread.id.in_(ids["thread"])),
        ids["thread"],
    )
    replies = await _described(
        session,
        select(Post.id, Thread.title, Post.body)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.id.in_(ids["reply"])),
        ids["reply"],
    )
    entries = await _described(
        session,
        select(Entry.id, Entry.title, Entry.description).where(Entry.id.in_(ids["entry"])),
        ids["entry"],
    )
    items = []
    for r in rows:
        community, actor = communities.get(r.community_id), users.get(r.actor_id)
        if community is None or actor is None:
            continue  # deleted since the page was counted
        described = None  # (title, url, Markdown to excerpt)
        if r.kind == "thread" and r.item_id in threads:
            title, text = threads[r.item_id]
            described = (title, f"/threads/{r.item_id}", text or "")
        elif r.kind == "reply" and r.item_id in replies:
            title, text = replies[r.item_id]
            described = (title, f"/posts/{r.item_id}", text)
        elif r.kind == "entry" and r.item_id in entries:
            title, text = entries[r.item_id]
            described = (title, f"/c/{community.slug}/library/{r.item_id}", text)
        elif r.kind == "joined":
            described = (community.name, f"/c/{community.slug}", "")
        if described is None:
            continue
        title, url, text = described
        items.append(
            FeedItem(
                kind=r.kind,
                id=r.item_id,
                at=r.at,
                actor=actor,
                community=community,
                title=title,
                url=url,
                excerpt=excerpt(text, 200) if text else "",
            )
        )
    return items


async def _by_id(session: AsyncSession, model, ids: set) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = await session.execute(select(model).where(model.id.in_(ids)))
    return {obj.id: obj for obj in rows.scalars().unique()}


async def _described(session: AsyncSession, query, ids: set[int]) -> dict[int, tuple]:
    """{id: (title, text)} from `query`'s (id, title, text) rows; no query for no ids."""
    if not ids:
        return {}
    return {row[0]: (row[1], row[2]) for row in await session.execute(query)}


# The two feeds ----------------------------------------------------------------------------


async def profile_activity(
    session: AsyncSession, viewer: Viewer, user: User, *, page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[FeedItem], int]:
    """What the member did, as far as the viewer may see it."""

    def who(actor, community) -> ColumnElement[bool]:
        return actor == user.id

    return await _page(session, _activity(viewer, who), page=page, per_page=per_page)


async def home_feed(
    session: AsyncSession,
    viewer: Viewer,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    count: bool = True,
) -> tuple[list[FeedItem], int]:
    """What the viewer's contacts did and what happened in the viewer's communities.

    Not the viewer's own doings, and nothing by members blocked either way. With
    `count=False` the total is only a lower bound (see _page): enough for "Older activity".
    """
    if not viewer.signed_in:
        return [], 0
    contacts = await contact_ids(session, viewer.id)
    blocked = await blocked_either_way(session, viewer.id)
    communities = viewer.active_community_ids()

    if not contacts and not communities:
        return [], 0

    def who(actor, community) -> ColumnElement[bool]:
        network = []
        if contacts:
            network.append(actor.in_(sorted(contacts)))
        if communities:
            network.append(community.in_(communities))
        return and_(
            actor != viewer.id,
            actor.not_in(sorted(blocked)) if blocked else true(),
            or_(*network),
        )

    if count or len(communities) > NEWEST_SCOPES:
        return await _page(
            session, _activity(viewer, who), page=page, per_page=per_page, count=count
        )
    offset = (page - 1) * per_page
    readable = [] if viewer.suspended else communities
    rows = (
        await session.execute(
            _newest_page(len(communities), bool(contacts), viewer.is_site_moderator),
            {
                "me": viewer.id,
                "blocked": sorted(blocked),
                "contacts": sorted(contacts),
                "mine": communities,
                "readable": readable,
                "newest": offset + per_page + 1,
                "offset": offset,
                "limit": per_page + 1,
                **{f"c{i}": one for i, one in enumerate(communities)},
            },
        )
    ).all()
    return await _load(session, rows[:per_page]), offset + len(rows)
