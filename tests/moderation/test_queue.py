"""The queue: what waits in it, for whom, and approving or rejecting what waits."""

from sqlalchemy import select

from connect.boards.models import PostRevision
from tests.conftest import error_code
from tests.moderation.helpers import (
    approve,
    board,
    hand_over,
    mail_to,
    notifications,
    queue,
    queue_keys,
    reject,
    reply,
    start,
)


def test_held_threads_and_replies_wait_in_the_queue_of_their_moderators_only(
    site, admin, alice, bob
):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    site.community(owner, "elsewhere")
    other_owner = hand_over(site, owner, "elsewhere", site.member("carol"))
    welcome = start(owner, title="Welcome")
    held = start(a, title="Held thread", body="Hello all")
    held_reply = reply(a, welcome["id"], "A held reply")
    assert held["status"] == held_reply["status"] == "pending"

    listed = queue(owner)
    assert [(i["kind"], i["id"]) for i in listed["items"]] == [
        ("thread", held["id"]),
        ("post", held_reply["id"]),
    ]
    first = listed["items"][0]
    assert first["community"] == "youth" and first["author"]["username"] == "alice"
    assert first["title"] == "Held thread" and first["excerpt"] == "Hello all"
    assert first["flags"] == [] and first["created_at"]
    assert first["author_history"] == {
        "posts": 0,
        "flags_upheld": 0,
        "flags_dismissed": 0,
        "sanctions": [],
    }
    assert listed["counts"]["held"] == 2 and listed["total"] == 2
    # Another community's owner sees none of it; members have no queue.
    assert queue_keys(other_owner) == []
    assert error_code(b.get("/api/v1/moderation/queue")) == "forbidden"
    assert site.anonymous().get("/api/v1/moderation/queue").status_code == 401
    # A site moderator sees every community's queue.
    mod = site.signed_in(site.member("sitemod", role="moderator"))
    assert len(queue_keys(mod)) == 2
    assert queue_keys(mod, kind="thread") == [("thread", held["id"])]
    assert queue_keys(mod, community="elsewhere") == []


def test_approving_publishes_everywhere_and_tells_the_author(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    assert (
        b.put("/api/v1/communities/youth/subscription", json={"mode": "in_app"}).status_code == 200
    )
    held = start(a, title="Held thread", body="Hi @bob")
    assert b.get(f"/api/v1/threads/{held['id']}").status_code == 404

    approve(owner, "thread", held["id"])
    shown = b.get(f"/api/v1/threads/{held['id']}").json()
    assert shown["thread"]["status"] == "published" and shown["thread"]["post_count"] == 1
    assert [p["status"] for p in shown["posts"]] == ["published"]
    assert queue_keys(owner) == []
    site.drain()
    assert [n.title for n in notifications(site, alice)] == [
        "Your thread “Held thread” was approved"
    ]
    assert any("Held thread" in m.subject for m in mail_to(site, alice))  # real-time by default
    # Followers and the mentioned member hear about it once it is public.
    bob_titles = [n["title"] for n in b.get("/api/v1/notifications").json()["items"]]
    assert bob_titles == ["Alice Archivist mentioned you in “Held thread”"], bob_titles
    # A second approval is a conflict, not a second publication.
    assert error_code(approve(owner, "thread", held["id"], status=409)) == "conflict"


def test_approving_a_reply_bumps_the_thread_and_counts_it(site, admin, alice):
    owner, (a,) = board(site, admin, alice, moderation="all")
    thread = start(owner, title="Open")
    held = reply(a, thread["id"], "Later words")
    approve(owner, "post", held["id"])
    shown = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    assert [p["id"] for p in shown["posts"]][-1] == held["id"]
    assert shown["thread"]["post_count"] == 2


def test_rejecting_deletes_held_content_and_tells_the_author_why(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    thread = start(owner, title="Open")
    held_reply = reply(a, thread["id"], "Buy cheap watches now")
    held_thread = start(a, title="Spam thread", body="More watches")
    assert error_code(reject(owner, "post", held_reply["id"], reason="", status=422)) == "invalid"

    reject(owner, "post", held_reply["id"], reason="Advertising is not allowed")
    reject(owner, "thread", held_thread["id"], reason="Advertising is not allowed")
    for client in (a, owner):
        assert client.get(f"/api/v1/posts/{held_reply['id']}").status_code == 404
        assert client.get(f"/api/v1/threads/{held_thread['id']}").status_code == 404
    # No placeholder shows where the rejected reply was.
    page = b.get(f"/threads/{thread['id']}").text
    assert "This post was removed" not in page
    assert queue_keys(owner) == []
    site.drain()
    found = notifications(site, alice)
    assert [n.title for n in found] == [
        "Your reply in “Open” was not approved",
        "Your thread “Spam thread” was not approved",
    ]
    assert "Reason: Advertising is not allowed" in found[0].excerpt
    assert "Buy cheap watches now" in found[0].excerpt
    assert any("Advertising is not allowed" in m.body for m in mail_to(site, alice))


def test_edit_then_approve_keeps_the_history_with_the_moderators_name(site, admin, alice):
    owner, (a,) = board(site, admin, alice, moderation="all")
    held = start(a, title="typo titel", body="teh text")
    approve(owner, "thread", held["id"], title="Typo title", body="The text")
    shown = a.get(f"/api/v1/threads/{held['id']}").json()
    assert shown["thread"]["title"] == "Typo title"
    assert shown["posts"][0]["body"] == "The text" and shown["posts"][0]["status"] == "published"
    history = a.get(f"/api/v1/posts/{held['first_post_id']}/history").json()["items"]
    assert history[0]["body"] == "teh text"
    assert history[0]["editor"]["username"] == "root"

    async def editors():
        async with site.ctx.db.read() as session:
            return list((await session.execute(select(PostRevision.editor_id))).scalars())

    assert site.call(editors) == [admin.id]


def test_bulk_decisions_and_the_html_queue(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    thread = start(owner, title="Open")
    replies = [reply(a, thread["id"], f"Reply number {i}") for i in range(3)]
    page = owner.get("/moderation")
    assert page.status_code == 200
    for r in replies:
        assert f'value="post:{r["id"]}"' in page.text
    answer = owner.post(
        "/api/v1/moderation/bulk",
        json={
            "action": "approve",
            "items": [{"kind": "post", "id": r["id"]} for r in replies[:2]]
            + [{"kind": "post", "id": 999_999}],
        },
    )
    assert answer.status_code == 200
    assert [r["status"] for r in answer.json()["results"]] == ["approved", "approved", "error"]
    assert queue_keys(owner) == [("post", replies[2]["id"])]
    # The page's bulk form does the same.
    from tests.conftest import csrf_from

    token = csrf_from(owner.get("/moderation").text)
    done = owner.post(
        "/moderation/bulk",
        data={
            "csrf_token": token,
            "action": "reject",
            "reason": "Duplicate",
            "item": [f"post:{replies[2]['id']}"],
            "back": "/moderation",
        },
    )
    assert done.status_code == 200
    assert "1 item rejected." in done.text, done.text[-3000:]
    assert queue_keys(owner) == []
    assert "Nothing is waiting" in owner.get("/moderation/queue/fragment").text


def test_join_requests_are_approved_or_declined_from_the_queue(site, admin, alice, bob):
    owner, _ = board(site, admin, slug="council", visibility="closed")
    for m in (alice, bob):
        assert site.signed_in(m).post("/api/v1/communities/council/join").json() == {
            "status": "pending"
        }
    items = queue(owner, kind="join")["items"]
    assert [i["author"]["username"] for i in items] == ["alice", "bob"]
    approve(owner, "join", items[0]["id"])
    reject(owner, "join", items[1]["id"], reason="Members of the council only")
    members = owner.get("/api/v1/communities/council/members").json()["items"]
    assert sorted(m["username"] for m in members) == ["alice", "root"]
    site.drain()
    assert [n.title for n in notifications(site, bob)] == [
        "Your request to join Council was declined"
    ]
    assert "Members of the council only" in notifications(site, bob)[0].excerpt


def test_author_history_counts_posts_flags_and_sanctions(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Alice's")
    first = reply(a, thread["id"], "Words")
    assert (
        owner.post(f"/api/v1/posts/{first['id']}/flags", json={"reason": "spam"}).status_code == 201
    )
    reject(owner, "post", first["id"], reason="Spam")
    answer = owner.post(
        "/api/v1/communities/youth/sanctions",
        json={"username": "alice", "kind": "require_approval", "reason": "Recent spam"},
    )
    assert answer.status_code == 201, answer.text
    held = reply(a, thread["id"], "Now held")
    assert held["status"] == "pending"
    item = queue(owner)["items"][0]
    history = item["author_history"]
    assert history["posts"] == 1 and history["flags_upheld"] == 1
    assert [s["kind"] for s in history["sanctions"]] == ["require_approval"]


def test_a_rejected_thread_or_reply_leaves_its_id_and_link_to_no_one_else(site, admin, alice):
    owner, (a,) = board(site, admin, alice, moderation="all")
    thread = start(owner, title="Open")
    held_thread = start(a, title="Spam thread", body="More watches")
    held_reply = reply(a, thread["id"], "Buy cheap watches now")
    reject(owner, "post", held_reply["id"], reason="Advertising is not allowed")
    reject(owner, "thread", held_thread["id"], reason="Advertising is not allowed")

    newer_thread = start(owner, title="Next")
    newer_reply = reply(owner, thread["id"], "A real answer")
    assert newer_thread["id"] > held_thread["id"]
    assert newer_reply["id"] > newer_thread["first_post_id"] > held_reply["id"]
    for client in (a, owner):
        assert client.get(f"/api/v1/threads/{held_thread['id']}").status_code == 404
        assert client.get(f"/threads/{held_thread['id']}").status_code == 404
        assert client.get(f"/api/v1/posts/{held_reply['id']}").status_code == 404
