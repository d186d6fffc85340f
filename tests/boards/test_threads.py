"""Starting threads, replying, editing, deleting, pinning and locking."""

from sqlalchemy import func, select

from connect.boards.models import Post
from tests.conftest import csrf_from, error_code


def open_board(site, admin, *members, slug="cataloging", **settings):
    owner = site.signed_in(admin)
    site.community(owner, slug, **settings)
    clients = []
    for m in members:
        c = site.signed_in(m)
        assert c.post(f"/api/v1/communities/{slug}/join").status_code == 200
        clients.append(c)
    return owner, clients


def count_posts(site) -> int:
    async def count():
        async with site.ctx.db.read() as session:
            return (await session.execute(select(func.count(Post.id)))).scalar()

    return site.call(count)


def test_start_thread_and_reply(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    answer = a.post(
        "/api/v1/communities/cataloging/threads",
        json={"title": "RDA and BIBFRAME", "body": "What do you use for **linked data**?"},
    )
    assert answer.status_code == 201, answer.text
    thread = answer.json()
    assert thread["status"] == "published"
    first = thread["first_post_id"]
    reply = b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "We use BIBFRAME. cc @alice", "reply_to": first},
    )
    assert reply.status_code == 201
    assert reply.json()["reply_to"] == first
    assert '<a href="/members/alice" class="mention"' in reply.json()["html"]

    page = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    assert [p["id"] for p in page["posts"]] == [first, reply.json()["id"]]
    assert page["thread"]["post_count"] == 2
    assert "<strong>linked data</strong>" in page["posts"][0]["html"]

    html = site.anonymous().get(f"/threads/{thread['id']}").text
    assert "RDA and BIBFRAME" in html
    # The quote reads as the post does, not as its Markdown.
    assert "<p>What do you use for linked data?</p>\n  </blockquote>" in html
    assert "**linked data**" not in html
    # So does the author's profile's list of recent posts.
    profile = site.anonymous().get("/members/bob").text
    assert "We use BIBFRAME. cc @alice" in profile


def test_bad_posts_are_refused_and_nothing_is_written(site, admin, alice):
    _, (a,) = open_board(site, admin, alice)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "T", "body": "B"}
    ).json()
    before = count_posts(site)
    for body in ({"body": ""}, {"body": "   "}, {"body": "x" * 65_537}, {"body": 5}, {}):
        answer = a.post(f"/api/v1/threads/{thread['id']}/posts", json=body)
        assert answer.status_code == 422, body
        assert error_code(answer) == "invalid"
    for body in ({"title": "", "body": "x"}, {"title": "t" * 201, "body": "x"}):
        answer = a.post("/api/v1/communities/cataloging/threads", json=body)
        assert answer.status_code == 422
    assert a.post("/api/v1/threads/99999/posts", json={"body": "hi"}).status_code == 404
    assert count_posts(site) == before


def test_locked_thread_refuses_replies_with_423_and_keeps_text(site, admin, alice):
    owner, (a,) = open_board(site, admin, alice)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "T", "body": "B"}
    ).json()
    assert owner.patch(f"/api/v1/threads/{thread['id']}", json={"locked": True}).status_code == 200
    answer = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "late"})
    assert answer.status_code == 423
    page = a.get(f"/threads/{thread['id']}")
    form = a.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": csrf_from(page.text), "body": "my careful words"},
    )
    assert form.status_code == 423
    assert "my careful words" in form.text
    # A member may not lock; the author may retitle.
    assert a.patch(f"/api/v1/threads/{thread['id']}", json={"locked": False}).status_code == 403
    assert a.patch(f"/api/v1/threads/{thread['id']}", json={"title": "New"}).status_code == 200


def test_edit_keeps_history_and_only_author_or_moderator_may_edit(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "T", "body": "first text"}
    ).json()
    post_id = thread["first_post_id"]
    assert b.patch(f"/api/v1/posts/{post_id}", json={"body": "hijack"}).status_code == 403
    assert a.patch(f"/api/v1/posts/{post_id}", json={"body": "second text"}).status_code == 200
    assert owner.patch(f"/api/v1/posts/{post_id}", json={"body": "third text"}).status_code == 200
    history = b.get(f"/api/v1/posts/{post_id}/history").json()["items"]
    assert [h["body"] for h in history] == ["first text", "second text"]
    assert history[1]["editor"]["username"] == "root"
    assert b.get(f"/api/v1/posts/{post_id}").json()["body"] == "third text"


def test_deleted_post_leaves_placeholder(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "T", "body": "B"}
    ).json()
    reply = b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "oops secret"}).json()
    assert a.delete(f"/api/v1/posts/{reply['id']}").status_code == 403
    assert b.delete(f"/api/v1/posts/{reply['id']}").status_code == 204
    page = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    removed = [p for p in page["posts"] if p["id"] == reply["id"]][0]
    assert removed["status"] == "deleted" and removed["body"] == "" and removed["html"] == ""
    html = site.anonymous().get(f"/threads/{thread['id']}").text
    assert "This post was removed." in html
    assert "oops secret" not in html


def test_closed_community_threads_are_404_to_outsiders(site, admin, alice, bob):
    owner, _ = open_board(site, admin, slug="council", visibility="closed")
    thread = owner.post(
        "/api/v1/communities/council/threads", json={"title": "Budget", "body": "secret"}
    ).json()
    outsider = site.signed_in(bob)
    assert outsider.get(f"/api/v1/threads/{thread['id']}").status_code == 404
    assert outsider.get(f"/threads/{thread['id']}").status_code == 404
    assert (
        outsider.post(
            f"/api/v1/threads/{thread['id']}/posts", json={"body": "let me in"}
        ).status_code
        == 404
    )
    assert site.anonymous().get("/api/v1/communities/council/threads").status_code == 403
    # The community itself is there for everyone: starting a thread means joining first.
    started = outsider.post(
        "/api/v1/communities/council/threads", json={"title": "Hello", "body": "May I?"}
    )
    assert started.status_code == 403, started.text
    assert "Join this community" in started.json()["error"]["message"]


def test_held_posts_visible_only_to_author_and_moderators(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="youth", moderation="new_members")
    answer = a.post("/api/v1/communities/youth/threads", json={"title": "Held", "body": "wait"})
    assert answer.status_code == 201
    thread = answer.json()
    assert thread["status"] == "pending"
    assert a.get(f"/api/v1/threads/{thread['id']}").status_code == 200
    assert owner.get(f"/api/v1/threads/{thread['id']}").status_code == 200
    assert b.get(f"/api/v1/threads/{thread['id']}").status_code == 404
    listing = b.get("/api/v1/communities/youth/threads").json()
    assert listing["total"] == 0 and listing["items"] == []
    assert "awaiting approval" in a.get(f"/threads/{thread['id']}").text
