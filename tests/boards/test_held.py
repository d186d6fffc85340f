"""Posts held for moderation: who sees them, where they never show, and who is never held."""

from dataclasses import replace
from functools import partial

import pytest
from sqlalchemy import select, update

from connect.boards.models import Post, Thread
from connect.notifications.models import Notification
from tests.boards import helpers
from tests.boards.helpers import listed_threads, reply
from tests.conftest import csrf_from

open_board = partial(helpers.open_board, slug="youth")
start = partial(helpers.start, slug="youth", title="Reading club", body="Who is in?")


@pytest.fixture
def settings(settings):
    """Some members here post several times a minute: posting rate limits off
    (CONNECT_RATE_LIMITS=off, as for imports); spam checks still apply."""
    return replace(settings, rate_limits=False)


def board_notifications(site, member) -> list[str]:
    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(Notification.title).where(
                    Notification.user_id == member.id, Notification.kind != "membership"
                )
            )
            return list(rows.scalars())

    return site.call(load)


def approve(site, thread_id: int) -> None:
    """Stand-in for a moderator's approval: publish the thread and its held posts."""

    async def publish():
        async with site.ctx.db.transaction() as session:
            await session.execute(
                update(Post).where(Post.thread_id == thread_id).values(status="published")
            )
            await session.execute(
                update(Thread)
                .where(Thread.id == thread_id)
                .values(status="published", post_count=1)
            )

    site.call(publish)


def test_all_moderation_holds_new_threads(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, moderation="all")
    assert (
        b.put("/api/v1/communities/youth/subscription", json={"mode": "real_time"}).status_code
        == 200
    )
    visible = start(owner, title="Welcome")  # moderators are never held
    assert visible["status"] == "published"

    held = start(a, title="Held thread", body="Secret until approved, hi @bob")
    assert held["status"] == "pending"
    thread_id = held["id"]

    # The author and moderators see it, marked as waiting.
    for client in (a, owner):
        assert client.get(f"/api/v1/threads/{thread_id}").status_code == 200
        page = client.get(f"/threads/{thread_id}")
        assert page.status_code == 200
        assert "awaiting approval" in page.text and "Secret until approved" in page.text
        board = client.get("/c/youth").text
        assert thread_id in listed_threads(board)
        assert "awaiting approval" in board
        listing = client.get("/api/v1/communities/youth/threads").json()
        assert thread_id in [t["id"] for t in listing["items"]]

    # Everyone else: as if it did not exist.
    for client in (b, site.anonymous()):
        assert client.get(f"/api/v1/threads/{thread_id}").status_code == 404
        assert client.get(f"/threads/{thread_id}").status_code == 404
        assert client.get(f"/posts/{held['first_post_id']}").status_code == 404
        assert client.get(f"/api/v1/posts/{held['first_post_id']}").status_code == 404
        board = client.get("/c/youth").text
        assert listed_threads(board) == [visible["id"]]
        assert "Held thread" not in board
        listing = client.get("/api/v1/communities/youth/threads").json()
        assert [t["id"] for t in listing["items"]] == [visible["id"]]
        assert listing["total"] == 1
        assert "Held thread" not in client.get("/members/alice").text
    bob_home = b.get("/").text
    assert "Welcome" in bob_home and "Held thread" not in bob_home

    # Nobody hears about it: not board followers, not the mentioned member.
    site.drain()
    assert board_notifications(site, bob) == ["New discussion in Youth: “Welcome”"]


def test_all_moderation_holds_replies(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    owner, (a, b, c) = open_board(site, admin, alice, bob, carol, moderation="all")
    thread = start(owner, title="Open to all")
    reply_by_owner = reply(owner, thread, "moderators are published at once")
    assert reply_by_owner["status"] == "published"
    site.drain()
    assert board_notifications(site, admin) == []
    # Carol follows the thread; Alice's reply mentions her and answers the owner.
    assert (
        c.put(
            f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "real_time"}
        ).status_code
        == 200
    )
    before = a.get(f"/api/v1/threads/{thread['id']}").json()["thread"]

    held = a.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "Held reply for @carol", "reply_to": reply_by_owner["id"]},
    )
    assert held.status_code == 201
    held = held.json()
    assert held["status"] == "pending"

    mine = a.get(f"/api/v1/threads/{thread['id']}").json()
    assert held["id"] in [p["id"] for p in mine["posts"]]
    author_page = a.get(f"/threads/{thread['id']}").text
    assert "Held reply for" in author_page
    held_article = author_page.split(f'id="post-{held["id"]}"', 1)[1].split("</article>", 1)[0]
    assert "awaiting approval" in held_article
    moderator_page = owner.get(f"/threads/{thread['id']}").text
    assert "Held reply for" in moderator_page and "awaiting approval" in moderator_page

    for client in (b, c, site.anonymous()):
        shown = client.get(f"/api/v1/threads/{thread['id']}").json()
        assert held["id"] not in [p["id"] for p in shown["posts"]]
        assert shown["total"] == 2
        assert "Held reply for" not in client.get(f"/threads/{thread['id']}").text
        assert client.get(f"/api/v1/posts/{held['id']}").status_code == 404
        assert "Held reply for" not in client.get("/members/alice").text
    # The thread is not bumped and its count does not change.
    after = b.get(f"/api/v1/threads/{thread['id']}").json()["thread"]
    assert after["post_count"] == before["post_count"] == 2
    assert after["last_post_at"] == before["last_post_at"]

    site.drain()
    assert board_notifications(site, carol) == []
    assert board_notifications(site, admin) == []


def test_held_reply_through_the_page_says_so(site, admin, alice):
    owner, (a,) = open_board(site, admin, alice, moderation="all")
    thread = start(owner, title="Open to all")
    token = csrf_from(a.get(f"/threads/{thread['id']}").text)
    answer = a.post(
        f"/threads/{thread['id']}/reply", data={"csrf_token": token, "body": "My held words"}
    )
    assert answer.status_code == 200
    assert "Your reply is waiting for a moderator" in answer.text  # the flash message
    assert "My held words" in answer.text and "awaiting approval" in answer.text
    new = a.post(
        "/c/youth/threads/new",
        data={"csrf_token": token, "title": "Held from the form", "body": "words"},
    )
    assert new.status_code == 200
    assert "waiting for a moderator" in new.text
    assert "Held from the form" in new.text


def test_replies_in_a_held_thread_are_held_too(site, admin, alice):
    owner, (a,) = open_board(site, admin, alice, moderation="new_members")
    thread = start(a, title="First ever")
    assert thread["status"] == "pending"
    follow_up = reply(a, thread, "follow-up")
    assert follow_up["status"] == "pending"


def test_new_members_first_post_is_held_until_one_is_published(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, moderation="new_members")
    # A published post elsewhere does not count here.
    site.community(owner, "elsewhere")
    assert a.post("/api/v1/communities/elsewhere/join").status_code == 200
    assert start(a, slug="elsewhere", title="Elsewhere")["status"] == "published"

    welcome = start(owner, title="Welcome")
    assert welcome["status"] == "published"
    first = start(a, title="My first")
    assert first["status"] == "pending"
    second = reply(a, welcome, "Still new")
    assert second["status"] == "pending"  # nothing of hers is published yet
    assert "Still new" not in b.get(f"/threads/{welcome['id']}").text

    approve(site, first["id"])
    assert b.get(f"/api/v1/threads/{first['id']}").status_code == 200

    later = start(a, title="Now trusted")
    assert later["status"] == "published"
    answer = reply(a, welcome, "Published at once")
    assert answer["status"] == "published"
    shown = b.get(f"/api/v1/threads/{welcome['id']}").json()
    assert answer["id"] in [p["id"] for p in shown["posts"]]
    assert second["id"] not in [p["id"] for p in shown["posts"]]  # still waiting
    assert "Now trusted" in b.get("/c/youth").text

    # Bob has nothing published: still held.
    assert start(b, title="Bob's first")["status"] == "pending"
    assert reply(b, welcome, "Bob replies")["status"] == "pending"


def test_moderators_are_never_held(site, admin, alice, bob):
    for slug, mode in (("youth", "all"), ("juniors", "new_members")):
        owner, (a, b) = open_board(site, admin, alice, bob, slug=slug, moderation=mode)
        assert start(a, slug=slug, title=f"From a member in {slug}")["status"] == "pending"
        answer = owner.put(f"/api/v1/communities/{slug}/members/bob", json={"role": "moderator"})
        assert answer.status_code == 200, answer.text
        thread = start(b, slug=slug, title=f"From a moderator in {slug}")
        assert thread["status"] == "published"
        assert reply(b, thread, "and a reply")["status"] == "published"
        by_owner = start(owner, slug=slug, title=f"From the owner in {slug}")
        assert by_owner["status"] == "published"
        listing = site.anonymous().get(f"/api/v1/communities/{slug}/threads").json()
        assert [t["id"] for t in listing["items"]] == [by_owner["id"], thread["id"]]


def test_held_posts_never_appear_in_latest_discussions_or_profiles(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, moderation="all")
    held = start(a, title="Quietly held")
    held_reply = reply(a, start(owner, title="Public thread"), "Quiet reply")
    assert held["status"] == held_reply["status"] == "pending"
    for client in (b, owner):
        home = client.get("/").text
        assert "Public thread" in home
        assert "Quietly held" not in home
    for client in (b, owner, a, site.anonymous()):
        profile = client.get("/members/alice").text
        assert "Quietly held" not in profile and "Quiet reply" not in profile
    assert "No posts yet." in b.get("/members/alice").text


def test_replies_never_quote_held_posts_to_others(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, moderation="all")
    thread = start(owner, title="Open")
    held = reply(a, thread, "SECRET held words")
    assert held["status"] == "pending"
    # A moderator sees the held post and may answer it; the answer is published.
    answer = owner.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "Moderator answer", "reply_to": held["id"]},
    )
    assert answer.status_code == 201 and answer.json()["status"] == "published"
    # Others see the answer but never the held text it answers.
    for client in (b, site.anonymous()):
        page = client.get(f"/threads/{thread['id']}").text
        assert "Moderator answer" in page
        assert "SECRET held words" not in page
        quoted = client.get(f"/threads/{thread['id']}?reply_to={held['id']}").text
        assert "SECRET held words" not in quoted
        # Nor in the single-post fragment that live updates insert.
        fragment = client.get(f"/posts/{answer.json()['id']}/fragment")
        assert fragment.status_code == 200
        assert "Moderator answer" in fragment.text
        assert "SECRET held words" not in fragment.text
    # The author and the moderator still see the quote.
    for client in (a, owner):
        assert "SECRET held words" in client.get(f"/threads/{thread['id']}").text
    quoted = a.get(f"/threads/{thread['id']}?reply_to={held['id']}").text
    assert "&gt; SECRET held words" in quoted
    # Someone who cannot see a post cannot reply to it either (as if it did not exist).
    guess = b.post(
        f"/api/v1/threads/{thread['id']}/posts", json={"body": "guess", "reply_to": held["id"]}
    )
    missing = b.post(
        f"/api/v1/threads/{thread['id']}/posts", json={"body": "guess", "reply_to": 999_999}
    )
    assert guess.status_code == missing.status_code == 422
    assert guess.json() == missing.json()
