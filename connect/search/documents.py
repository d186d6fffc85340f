"""What goes into the index for each searchable thing, read from the database (the source of
truth): `load(session, keys)` for the indexer's changes, `stream(db)` for full rebuilds.

Keys are "<type>:<id>". A thing that must not be found any more (deleted, unlisted) loads as
None, and the indexer deletes its document.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import defer, raiseload

from connect.accounts.models import User
from connect.boards.models import Post, Thread
from connect.communities.models import Community
from connect.markup import plain_text
from connect.members.models import PROFILE_FIELDS, Profile
from connect.search import library
from connect.search.schema import NO_COMMUNITY

STREAM_BATCH = 2_000


def effective_status(*statuses: str) -> str:
    """A post inside a thread is as visible as the less visible of the two."""
    for status in ("deleted", "hidden", "pending"):
        if status in statuses:
            return status
    return "published"


def _doc(
    *,
    type: str,
    id: int,
    title: str,
    body: str,
    created: datetime,
    community: int | None = None,
    status: str = "published",
    author_id: int | None = None,
    author: str | None = None,
    thread: int | None = None,
    tags: Iterable[str] = (),
    extra: str = "",
    files: list | None = None,
) -> dict:
    doc = {
        "key": f"{type}:{id}",
        "type": type,
        "id": id,
        "community": str(community) if community else NO_COMMUNITY,
        "status": status,
        "title": title,
        "body": body,
        "created": created.replace(tzinfo=None),  # Whoosh compares naive UTC datetimes
    }
    if author_id is not None:
        doc["author_id"] = str(author_id)
    if author:
        doc["author"] = author
    if thread is not None:
        doc["thread"] = thread
    tags = [t.strip().lower() for t in tags if t and t.strip()]
    if tags:
        doc["tags"] = ",".join(tags)
    if extra or tags:
        doc["extra"] = " ".join([extra, *tags]).strip()
    if files:
        doc["files"] = files
    return doc


def thread_document(thread: Thread, first: Post | None, author: str | None) -> dict | None:
    status = effective_status(thread.status, first.status if first else "published")
    if status == "deleted":
        return None
    return _doc(
        type="thread",
        id=thread.id,
        title=thread.title,
        body=plain_text(first.html) if first else "",
        created=thread.created_at,
        community=thread.community_id,
        status=status,
        author_id=thread.author_id,
        author=author,
        thread=thread.id,
    )


def post_document(post: Post, thread: Thread, author: str | None) -> dict | None:
    """A reply; the first post is part of its thread's document instead."""
    status = effective_status(post.status, thread.status)
    if status == "deleted" or post.id == thread.first_post_id:
        return None
    doc = _doc(
        type="post",
        id=post.id,
        title="",
        body=plain_text(post.html),
        created=post.created_at,
        community=post.community_id,
        status=status,
        author_id=post.author_id,
        author=author,
        thread=thread.id,
    )
    del doc["title"]
    doc["heading"] = thread.title
    return doc


def member_document(user: User, profile: Profile | None) -> dict | None:
    """Listed members, with their public profile fields only."""
    if user.is_deleted or profile is not None and not profile.listed:
        return None
    public = set(profile.public_fields or []) if profile else set()
    parts = [getattr(profile, name) or "" for name in PROFILE_FIELDS if name in public]
    doc = _doc(
        type="member",
        id=user.id,
        title=user.display_name,
        body="\n".join(p for p in parts if p),
        created=user.created_at,
        extra=user.username,
    )
    doc["username"] = user.username
    return doc


def community_document(community: Community) -> dict:
    return _doc(
        type="community",
        id=community.id,
        title=community.name,
        body=community.description or "",
        created=community.created_at,
        community=community.id,
    )


def entry_document(entry: library.EntryRecord) -> dict | None:
    """A library entry: title, description, tags, file names and its files' current text."""
    if entry.status == "deleted":
        return None
    body_parts = [entry.description or ""]
    files = []
    offset = len(body_parts[0])
    for name, text in entry.files:
        body_parts.append(text or "")
        start = offset + 2
        offset = start + len(text or "")
        files.append((name, start, offset))
    return _doc(
        type="entry",
        id=entry.id,
        title=entry.title,
        body="\n\n".join(body_parts),
        created=entry.created_at,
        community=entry.community_id,
        status=entry.status,
        author_id=entry.author_id,
        author=entry.author,
        tags=entry.tags,
        # "minutes_2025-03.pdf" is found by minutes, 2025, 03 and pdf.
        extra=" ".join(re.sub(r"[\W_]+", " ", name) for name, _ in entry.files),
        files=files,
    )


# Loading by key --------------------------------------------------------------------------


def _ids(keys: Iterable[str], kind: str) -> list[int]:
    return sorted(int(k.split(":", 1)[1]) for k in keys if k.startswith(kind + ":"))


async def load(session, keys: set[str]) -> dict[str, dict | None]:
    """The current document for each key (None: delete it)."""
    found: dict[str, dict | None] = {key: None for key in keys}
    thread_ids = _ids(keys, "thread")
    if thread_ids:
        for doc in await _threads(session, Thread.id.in_(thread_ids)):
            found[doc[0]] = doc[1]
    post_ids = _ids(keys, "post")
    if post_ids:
        for key, doc in await _posts(session, Post.id.in_(post_ids)):
            found[key] = doc
    member_ids = _ids(keys, "member")
    if member_ids:
        rows = await session.execute(select(User).where(User.id.in_(member_ids)))
        for user in rows.scalars().unique():
            found[f"member:{user.id}"] = member_document(user, user.profile)
    community_ids = _ids(keys, "community")
    if community_ids:
        rows = await session.execute(select(Community).where(Community.id.in_(community_ids)))
        for community in rows.scalars():
            found[f"community:{community.id}"] = community_document(community)
    entry_ids = _ids(keys, "entry")
    if entry_ids:
        for entry in await library.load_entries(session, entry_ids):
            found[f"entry:{entry.id}"] = entry_document(entry)
    return found


async def _threads(session, condition) -> list[tuple[str, dict | None]]:
    rows = (
        await session.execute(
            select(Thread, Post)
            .outerjoin(Post, Post.id == Thread.first_post_id)
            .where(condition)
            .order_by(Thread.id)
        )
    ).all()
    return [(f"thread:{t.id}", thread_document(t, p, _username(t.author))) for t, p in rows]


async def _posts(session, condition) -> list[tuple[str, dict | None]]:
    rows = (
        await session.execute(
            select(Post, Thread)
            .join(Thread, Thread.id == Post.thread_id)
            .where(condition)
            .order_by(Post.id)
        )
    ).all()
    out: list[tuple[str, dict | None]] = []
    for post, thread in rows:
        if post.id == thread.first_post_id:
            # Editing or moderating the first post changes the thread's document.
            out.append((f"post:{post.id}", None))
            out.extend(await _threads(session, Thread.id == thread.id))
        else:
            out.append((f"post:{post.id}", post_document(post, thread, _username(post.author))))
    return out


async def authored_by(session, user_ids: Iterable[int]) -> dict[str, dict | None]:
    """Every thread, reply and library entry of these members (after their accounts were
    deleted: shown without an author's name from then on)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    found = dict(await _threads(session, Thread.author_id.in_(ids)))
    # First posts are part of their thread's document, read just above.
    replies = Post.author_id.in_(ids) & (Post.id != Thread.first_post_id)
    found.update(await _posts(session, replies))
    for entry in await library.load_entries(session, await library.entry_ids_by(session, ids)):
        found[f"entry:{entry.id}"] = entry_document(entry)
    return found


async def thread_posts(session, thread_ids: Iterable[int]) -> dict[str, dict | None]:
    """Every reply of these threads (after a thread's visibility changed)."""
    ids = sorted(set(thread_ids))
    if not ids:
        return {}
    return dict(await _posts(session, Post.thread_id.in_(ids)))


# Streaming everything (rebuilds) -----------------------------------------------------------


async def count_all(db) -> int:
    async with db.read() as session:
        total = 0
        for model in (Thread, Post, User, Community):
            total += (await session.execute(select(func.count()).select_from(model))).scalar()
        total += await library.count_entries(session)
    return total


async def stream(db, *, batch: int = STREAM_BATCH) -> AsyncIterator[tuple[int, list[dict]]]:
    """(rows read, documents) in batches, each batch from its own short read."""
    for step in (_communities_after, _threads_after, _posts_after, _members_after):
        last = 0
        while True:
            async with db.read() as session:
                rows_read, docs, last = await step(session, last, batch)
            if rows_read:
                yield rows_read, docs
            if rows_read < batch:
                break
    async for rows_read, docs in library.stream_entries(db, entry_document, batch=batch):
        yield rows_read, docs


def _username(user: User | None) -> str | None:
    """An author's name as the index keeps it: none for a deleted account."""
    return user.username if user is not None and not user.is_deleted else None


# The same, read by rebuilds as a column.
_AUTHOR_NAME = case((User.deleted_at.is_(None), User.username))


async def _page(session, query, model, last: int, batch: int) -> list:
    rows = await session.execute(query.where(model.id > last).order_by(model.id).limit(batch))
    return list(rows.unique().all())


async def _communities_after(session, last: int, batch: int):
    rows = await _page(session, select(Community), Community, last, batch)
    docs = [community_document(c) for (c,) in rows]
    return len(rows), docs, rows[-1][0].id if rows else last


# Rebuilds read only the author's username: the joined loads the pages use (each author
# with a profile and its JSON columns, three per reply) were most of a rebuild's reading.
_NO_USERS = (
    raiseload(Thread.author),
    defer(Thread.last_poster_name),
    raiseload(Post.author),
)


async def _threads_after(session, last: int, batch: int):
    query = (
        select(Thread, Post, _AUTHOR_NAME)
        .outerjoin(Post, Post.id == Thread.first_post_id)
        .outerjoin(User, User.id == Thread.author_id)
        .options(*_NO_USERS)
    )
    rows = await _page(session, query, Thread, last, batch)
    docs = [d for t, p, name in rows if (d := thread_document(t, p, name))]
    return len(rows), docs, rows[-1][0].id if rows else last


async def _posts_after(session, last: int, batch: int):
    query = (
        select(Post, Thread, _AUTHOR_NAME)
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(User, User.id == Post.author_id)
        .options(*_NO_USERS)
    )
    rows = await _page(session, query, Post, last, batch)
    docs = [d for p, t, name in rows if (d := post_document(p, t, name))]
    return len(rows), docs, rows[-1][0].id if rows else last


async def _members_after(session, last: int, batch: int):
    rows = await _page(session, select(User), User, last, batch)
    docs = [d for (u,) in rows if (d := member_document(u, u.profile))]
    return len(rows), docs, rows[-1][0].id if rows else last
