"""Board pages cost a fixed number of SQL statements, however many posts and authors they show."""

import asyncio
import re
from contextlib import contextmanager

from sqlalchemy import event, select

from connect.accounts.models import User
from connect.boards import service
from connect.boards.models import Post, Thread
from connect.communities.models import Community, Membership
from connect.db import utcnow
from connect.members.models import Profile
from connect.permissions import Role, Viewer

# Statements per request, whatever the page shows. Today: thread page 12 when it reads the
# rows every reader shares (13 when replies quote posts on an earlier page), 6 when another
# reader just read them (connect.boards.shared); its JSON 7; the board 10. Each includes
# per-request constants (who is asking, sanctions, notification count, live cursor).
MAX_STATEMENTS = 15
CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.I)


@contextmanager
def counting(site):
    """Collect every SQL statement the request sends while the block runs.

    Transaction control (BEGIN, COMMIT, ...) is left out: SQLite gets an explicit BEGIN,
    PostgreSQL's driver sends it on its own. The live hub's task polls the event log now
    and then; its reads are not the request's and are left out too.
    """
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        task = asyncio.current_task()
        if task is not None and task.get_name() == "live-hub":
            return
        if CONTROL.match(statement):
            return
        statements.append(statement)

    engine = site.ctx.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def queries(site, client, url: str) -> list[str]:
    with counting(site) as statements:
        answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return statements


def add_authors(site, slug: str, first: int, count: int) -> list[int]:
    """Members with profiles and avatars, straight into the database (quick)."""

    async def insert():
        async with site.ctx.db.transaction() as session:
            community = (
                await session.execute(select(Community).where(Community.slug == slug))
            ).scalar_one()
            users = []
            for n in range(first, first + count):
                user = User(
                    username=f"author{n:03d}",
                    email=f"author{n:03d}@example.org",
                    password_hash="!",
                    display_name=f"Author {n:03d}",
                    created_at=utcnow(),
                )
                user.profile = Profile(avatar_sha256=f"{n:064x}")
                session.add(user)
                users.append(user)
            await session.flush()
            for user in users:
                session.add(
                    Membership(
                        community_id=community.id,
                        user_id=user.id,
                        role="member",
                        status="active",
                        created_at=utcnow(),
                    )
                )
            return [u.id for u in users]

    return site.call(insert)


async def _viewer(session, user_id: int, community: Community) -> Viewer:
    user = await session.get(User, user_id)
    return Viewer(user=user, memberships={community.id: Role("member", "active")})


def add_posts(site, thread_id: int, author_ids: list[int]) -> None:
    """One reply per author, each replying to the post before it."""

    async def insert():
        async with site.ctx.db.transaction() as session:
            thread = await session.get(Thread, thread_id)
            community = await session.get(Community, thread.community_id)
            previous = (
                (
                    await session.execute(
                        select(Post.id).where(Post.thread_id == thread_id).order_by(Post.id.desc())
                    )
                )
                .scalars()
                .first()
            )
            for author_id in author_ids:
                viewer = await _viewer(session, author_id, community)
                post = await service.reply(
                    session,
                    viewer,
                    thread,
                    community,
                    body=f"Answer from **author {author_id}** to @root",
                    reply_to=previous,
                )
                previous = post.id

    site.call(insert)


def add_threads(site, slug: str, author_ids: list[int]) -> None:
    """One thread per author, each with one reply by another author (a last poster)."""

    async def insert():
        async with site.ctx.db.transaction() as session:
            community = (
                await session.execute(select(Community).where(Community.slug == slug))
            ).scalar_one()
            for index, author_id in enumerate(author_ids):
                viewer = await _viewer(session, author_id, community)
                thread, _ = await service.create_thread(
                    session, viewer, community, title=f"Thread by {author_id}", body="Question"
                )
                other = author_ids[(index + 1) % len(author_ids)]
                await service.reply(
                    session, await _viewer(session, other, community), thread, community, body="A"
                )

    site.call(insert)


def setup_board(site, admin, alice):
    owner = site.signed_in(admin)
    site.community(owner, "cataloging")
    a = site.signed_in(alice)
    assert a.post("/api/v1/communities/cataloging/join").status_code == 200
    return owner, a


def test_thread_page_and_api_do_not_grow_with_posts_and_authors(site, admin, alice):
    owner, a = setup_board(site, admin, alice)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Counting", "body": "Start"}
    ).json()
    add_posts(site, thread["id"], add_authors(site, "cataloging", 0, 9))
    # The reader has recommended a couple of posts and read part of the thread.
    posts = a.get(f"/api/v1/threads/{thread['id']}").json()["posts"]
    for post in posts[1:3]:
        assert a.post(f"/api/v1/posts/{post['id']}/recommend").status_code == 200
    assert len(posts) == 10

    counts = {}
    for size in (10, 50):
        if size == 50:
            add_posts(site, thread["id"], add_authors(site, "cataloging", 9, 40))
        site.hub_caught_up()
        for who, client in (("member", a), ("anonymous", site.anonymous())):
            page = queries(site, client, f"/threads/{thread['id']}")
            api = queries(site, client, f"/api/v1/threads/{thread['id']}")
            counts[size, who] = (len(page), len(api))
            assert len(page) <= MAX_STATEMENTS, (size, who, page)
            assert len(api) <= MAX_STATEMENTS, (size, who, api)
        shown = a.get(f"/api/v1/threads/{thread['id']}").json()
        assert len(shown["posts"]) == size and shown["total"] == size
        assert len({p["author"]["username"] for p in shown["posts"]}) == size
        html = a.get(f"/threads/{thread['id']}").text
        assert html.count('class="in-reply"') == size - 1
    assert counts[10, "member"] == counts[50, "member"], counts
    assert counts[10, "anonymous"] == counts[50, "anonymous"], counts

    # The second page replies to posts on the first: still a fixed number.
    add_posts(site, thread["id"], add_authors(site, "cataloging", 49, 5))
    second = queries(site, a, f"/threads/{thread['id']}?page=2")
    assert len(second) <= MAX_STATEMENTS, second


def test_board_page_does_not_grow_with_threads_and_authors(site, admin, alice):
    owner, a = setup_board(site, admin, alice)
    authors = add_authors(site, "cataloging", 0, 50)
    add_threads(site, "cataloging", authors[:10])
    # The reader has visited some threads, so the unread badges need data.
    for thread in a.get("/api/v1/communities/cataloging/threads").json()["items"][:3]:
        last = a.get(f"/api/v1/threads/{thread['id']}").json()["posts"][-1]["id"]
        assert (
            a.post(f"/api/v1/threads/{thread['id']}/read", json={"last_post_id": last}).status_code
            == 204
        )

    counts = {}
    for size, more in ((10, []), (30, authors[10:30]), (50, authors[30:])):
        if more:
            add_threads(site, "cataloging", more)
        site.hub_caught_up()
        for who, client in (("member", a), ("anonymous", site.anonymous())):
            for url in (
                "/c/cataloging",
                "/c/cataloging?sort=new",
                "/api/v1/communities/cataloging/threads",
            ):
                statements = queries(site, client, url)
                counts[size, who, url] = len(statements)
                assert len(statements) <= MAX_STATEMENTS, (size, who, url, statements)
        listed = a.get("/api/v1/communities/cataloging/threads").json()
        assert listed["total"] == size and len(listed["items"]) == min(size, 30)
        assert len({t["author"]["username"] for t in listed["items"]}) == min(size, 30)
    for key in [k for k in counts if k[0] == 10]:
        assert counts[key] == counts[(30, *key[1:])] == counts[(50, *key[1:])], counts
