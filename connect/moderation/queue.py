"""The moderation queue: held threads, posts and library entries, flagged items and join
requests in the communities the viewer moderates, each with its author's history there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.boards.models import Post, Thread
from connect.communities.models import Community, Membership
from connect.errors import Forbidden, Invalid, NotFound
from connect.markup import excerpt
from connect.moderation import flags, library
from connect.moderation.audit import moderated_ids
from connect.moderation.models import Flag, Sanction
from connect.permissions import Viewer

KINDS = ("thread", "post", "entry", "join")
FILTERS = (*KINDS, "held", "flagged")
SOURCE_LIMIT = 500  # per source; a queue longer than this is shown in parts


@dataclass
class QueueItem:
    kind: str  # thread / post / entry / join
    id: int
    community: Community
    author: User | None
    title: str
    created_at: datetime
    reason: str  # held / flagged / request
    status: str = "pending"
    body: str = ""
    html: str = ""
    url: str = ""
    thread_id: int | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class Queue:
    items: list[QueueItem]
    total: int
    counts: dict[str, int]
    history: dict[tuple[int, int], dict]  # (author id, community id) -> their record there
    flaggers: dict[int, dict]  # flagger id -> how their flags ended


async def scope(session: AsyncSession, viewer: Viewer, slug: str = "") -> list[int] | None:
    """The community ids the queue covers (None: all, for site moderators), or a refusal."""
    allowed = await moderated_ids(session, viewer)
    if allowed is not None and not allowed:
        raise Forbidden("Only moderators have a moderation queue.")
    if not slug:
        return allowed
    community = (
        await session.execute(select(Community).where(Community.slug == slug.lower()))
    ).scalar_one_or_none()
    if community is None or not permissions.can_see_community(viewer, community):
        raise NotFound("There is no community at this address.")
    if not permissions.can_moderate(viewer, community):
        raise Forbidden("You do not moderate this community.")
    return [community.id]


async def moderated_communities(session: AsyncSession, viewer: Viewer) -> list[Community]:
    """The communities the viewer moderates, by name (all of them for site moderators)."""
    ids = await moderated_ids(session, viewer)
    query = select(Community).order_by(func.lower(Community.name))
    if ids is not None:
        query = query.where(Community.id.in_(ids))
    return list((await session.execute(query)).scalars())


def _in(column, ids: list[int] | None):
    return column.in_(ids) if ids is not None else true()


async def _held_threads(session, ids) -> list[QueueItem]:
    rows = await session.execute(
        select(Thread, Post, Community)
        .join(Post, Post.id == Thread.first_post_id)
        .join(Community, Community.id == Thread.community_id)
        .where(Thread.status == "pending", _in(Thread.community_id, ids))
        .order_by(Thread.created_at)
        .limit(SOURCE_LIMIT)
    )
    return [
        QueueItem(
            "thread",
            t.id,
            c,
            t.author,
            t.title,
            t.created_at,
            "held",
            body=p.body,
            html=p.html,
            url=f"/threads/{t.id}",
            thread_id=t.id,
        )
        for t, p, c in rows.unique().all()
    ]


async def _held_posts(session, ids) -> list[QueueItem]:
    rows = await session.execute(
        select(Post, Thread, Community)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Community, Community.id == Post.community_id)
        .where(
            Post.status == "pending",
            Thread.status != "pending",
            Post.id != Thread.first_post_id,
            _in(Post.community_id, ids),
        )
        .order_by(Post.created_at)
        .limit(SOURCE_LIMIT)
    )
    return [
        QueueItem(
            "post",
            p.id,
            c,
            p.author,
            f"Reply in “{t.title}”",
            p.created_at,
            "held",
            body=p.body,
            html=p.html,
            url=f"/posts/{p.id}",
            thread_id=t.id,
        )
        for p, t, c in rows.unique().all()
    ]


async def _held_entries(session, ids) -> list[QueueItem]:
    query = library.held_entries_query(ids)
    if query is None:
        return []
    rows = await session.execute(query.order_by(library.Entry.created_at).limit(SOURCE_LIMIT))
    return [
        QueueItem(
            "entry",
            e.id,
            c,
            e.author,
            e.title,
            e.created_at,
            "held",
            body=e.description,
            html=e.html,
            url=library.entry_url(e, c),
        )
        for e, c in rows.unique().all()
    ]


async def _join_requests(session, ids) -> list[QueueItem]:
    rows = await session.execute(
        select(Membership)
        .where(Membership.status == "pending", _in(Membership.community_id, ids))
        .order_by(Membership.created_at)
        .limit(SOURCE_LIMIT)
    )
    return [
        QueueItem(
            "join",
            m.id,
            m.community,
            m.user,
            f"{m.user.display_name} asks to join",
            m.created_at,
            "request",
            url=f"/members/{m.user.username}",
        )
        for m in rows.scalars().unique()
    ]


async def _flagged(session, ids) -> list[QueueItem]:
    rows = await session.execute(
        select(Flag.item_kind, Flag.item_id)
        .where(Flag.status == "open", _in(Flag.community_id, ids))
        .group_by(Flag.item_kind, Flag.item_id)
        .order_by(func.min(Flag.created_at))
        .limit(SOURCE_LIMIT)
    )
    wanted = rows.all()
    post_ids = [i for k, i in wanted if k == "post"]
    entry_ids = [i for k, i in wanted if k == "entry"]
    items: list[QueueItem] = []
    if post_ids:
        found = await session.execute(
            select(Post, Thread, Community)
            .join(Thread, Thread.id == Post.thread_id)
            .join(Community, Community.id == Post.community_id)
            .where(Post.id.in_(post_ids), Post.status.in_(("published", "hidden")))
        )
        for p, t, c in found.unique().all():
            title = t.title if p.id == t.first_post_id else f"Reply in “{t.title}”"
            items.append(
                QueueItem(
                    "post",
                    p.id,
                    c,
                    p.author,
                    title,
                    p.created_at,
                    "flagged",
                    status=p.status,
                    body=p.body,
                    html=p.html,
                    url=f"/posts/{p.id}",
                    thread_id=t.id,
                )
            )
    if entry_ids and library.ENABLED:
        found = await session.execute(
            select(library.Entry, Community)
            .join(Community, Community.id == library.Entry.community_id)
            .where(
                library.Entry.id.in_(entry_ids), library.Entry.status.in_(("published", "hidden"))
            )
        )
        for e, c in found.unique().all():
            items.append(
                QueueItem(
                    "entry",
                    e.id,
                    c,
                    e.author,
                    e.title,
                    e.created_at,
                    "flagged",
                    status=e.status,
                    body=e.description,
                    html=e.html,
                    url=library.entry_url(e, c),
                )
            )
    return items


def matches(item: QueueItem, kind: str) -> bool:
    if not kind:
        return True
    if kind in ("held", "flagged"):
        return item.reason == kind
    return item.kind == kind


async def load_queue(
    session: AsyncSession,
    viewer: Viewer,
    *,
    community: str = "",
    kind: str = "",
    page: int = 1,
    per_page: int = 50,
) -> Queue:
    if kind and kind not in FILTERS:
        raise Invalid(f"kind is one of {', '.join(FILTERS)}.", fields={"kind": "Unknown kind."})
    ids = await scope(session, viewer, community)
    everything = [
        *await _held_threads(session, ids),
        *await _held_posts(session, ids),
        *await _held_entries(session, ids),
        *await _flagged(session, ids),
        *await _join_requests(session, ids),
    ]
    counts = {k: sum(1 for i in everything if matches(i, k)) for k in FILTERS}
    counts["all"] = len(everything)
    chosen = sorted((i for i in everything if matches(i, kind)), key=lambda i: i.created_at)
    shown = chosen[(page - 1) * per_page : page * per_page]
    found = await flags.open_flags(session, [(i.kind, i.id) for i in shown if i.kind != "join"])
    for item in shown:
        item.flags = found.get((item.kind, item.id), [])
    flagger_ids = sorted({f.user_id for i in shown for f in i.flags})
    return Queue(
        items=shown,
        total=len(chosen),
        counts=counts,
        history=await author_history(session, shown),
        flaggers=await flags.flagger_records(session, flagger_ids),
    )


async def author_history(session: AsyncSession, items: list[QueueItem]) -> dict:
    """Per (author, community): published posts, flags against them, sanctions (3 queries)."""
    pairs = {(i.author.id, i.community.id) for i in items if i.author is not None}
    if not pairs:
        return {}
    users = sorted({u for u, _ in pairs})
    communities = sorted({c for _, c in pairs})
    history = {
        pair: {"posts": 0, "flags_upheld": 0, "flags_dismissed": 0, "sanctions": []}
        for pair in pairs
    }
    rows = await session.execute(
        select(Post.author_id, Post.community_id, func.count(Post.id))
        .where(
            Post.author_id.in_(users),
            Post.community_id.in_(communities),
            Post.status == "published",
        )
        .group_by(Post.author_id, Post.community_id)
    )
    for user_id, community_id, count in rows:
        if (user_id, community_id) in history:
            history[user_id, community_id]["posts"] = count
    rows = await session.execute(
        select(Flag.item_author_id, Flag.community_id, Flag.status, func.count(Flag.id))
        .where(Flag.item_author_id.in_(users), Flag.community_id.in_(communities))
        .group_by(Flag.item_author_id, Flag.community_id, Flag.status)
    )
    for user_id, community_id, status, count in rows:
        if (user_id, community_id) in history and status in ("upheld", "dismissed"):
            history[user_id, community_id][f"flags_{status}"] = count
    rows = await session.execute(
        select(Sanction)
        .where(
            Sanction.user_id.in_(users),
            or_(Sanction.community_id.in_(communities), Sanction.community_id.is_(None)),
        )
        .order_by(Sanction.id.desc())
    )
    for sanction in rows.scalars().unique():
        for (user_id, community_id), record in history.items():
            if user_id == sanction.user_id and sanction.community_id in (community_id, None):
                record["sanctions"].append(sanction)
    return history


def item_json(item: QueueItem, queue: Queue) -> dict:
    history = queue.history.get((item.author.id, item.community.id)) if item.author else None
    return {
        "kind": item.kind,
        "id": item.id,
        "community": item.community.slug,
        "author": {"username": item.author.username, "display_name": item.author.display_name}
        if item.author
        else None,
        "title": item.title,
        "excerpt": excerpt(item.body, 300) if item.body else "",
        "body": item.body,
        "html": item.html,
        "status": item.status,
        "reason": item.reason,
        "url": item.url,
        "created_at": item.created_at.isoformat(),
        "flags": [flags.flag_json(f, queue.flaggers.get(f.user_id)) for f in item.flags],
        "author_history": {
            "posts": history["posts"],
            "flags_upheld": history["flags_upheld"],
            "flags_dismissed": history["flags_dismissed"],
            "sanctions": [
                {
                    "kind": s.kind,
                    "reason": s.reason,
                    "until": s.ends_at.isoformat() if s.ends_at else None,
                    "active": s.active(),
                }
                for s in history["sanctions"]
            ],
        }
        if history
        else None,
    }
