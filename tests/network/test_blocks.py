"""Blocking: no requests either way, contacts end silently, posts collapse for the blocker."""

import re

from tests.network.conftest import community_with, connect, refused, usernames


def test_block_lists_and_unblock(site, alice, bob, carol):
    a = site.bearer(alice)
    answer = a.put("/api/v1/me/blocks/bob")
    assert answer.status_code == 200
    assert answer.json()["member"]["username"] == "bob" and answer.json()["blocked"] is True
    assert a.put("/api/v1/me/blocks/bob").status_code == 200  # again: no change
    a.put("/api/v1/me/blocks/carol")
    body = a.get("/api/v1/me/blocks").json()
    assert usernames(a.get("/api/v1/me/blocks")) == ["bob", "carol"]
    assert body["total"] == 2 and body["page"] == 1
    assert a.delete("/api/v1/me/blocks/bob").status_code == 204
    assert a.delete("/api/v1/me/blocks/bob").status_code == 204  # not blocked: still done
    assert usernames(a.get("/api/v1/me/blocks")) == ["carol"]
    # Blocks are private: others' lists are their own.
    assert usernames(site.bearer(bob).get("/api/v1/me/blocks")) == []


def test_bad_block_requests(site, alice):
    a = site.bearer(alice)
    refused(a.put("/api/v1/me/blocks/alice"), 422, "invalid")
    refused(a.put("/api/v1/me/blocks/nobody"), 404, "not_found")
    refused(site.anonymous().put("/api/v1/me/blocks/alice"), 401, "not_signed_in")
    refused(site.anonymous().get("/api/v1/me/blocks"), 401, "not_signed_in")
    assert usernames(a.get("/api/v1/me/blocks")) == []


def test_blocking_ends_contacts_and_requests_both_ways(site, alice, bob, carol):
    connect(site, alice, bob)
    site.bearer(carol).post("/api/v1/members/alice/contact")
    a, b, c = site.bearer(alice), site.bearer(bob), site.bearer(carol)
    a.put("/api/v1/me/blocks/bob")
    a.put("/api/v1/me/blocks/carol")
    for client in (a, b, c):
        for status in ("accepted", "incoming", "outgoing"):
            assert usernames(client.get(f"/api/v1/me/contacts?status={status}")) == []
    # Neither side may ask now; the blocker is told why, the blocked member only "no".
    refused(a.post("/api/v1/members/bob/contact"), 403, "blocked")
    answer = b.post("/api/v1/members/alice/contact")
    refused(answer, 403, "not_accepting")
    assert "block" not in answer.json()["error"]["message"].lower()
    # Unblocking allows asking again.
    a.delete("/api/v1/me/blocks/bob")
    assert b.post("/api/v1/members/alice/contact").json() == {"status": "pending"}


def test_the_blocked_member_is_never_told(site, alice, bob):
    connect(site, alice, bob)
    b = site.bearer(bob)
    site.drain()
    before = b.get("/api/v1/notifications").json()["total"]
    site.bearer(alice).put("/api/v1/me/blocks/bob")
    site.drain()
    assert b.get("/api/v1/notifications").json()["total"] == before
    events = site.call(_events_for, site.ctx, bob.id)
    assert [e for e in events if e.startswith(("block", "contact.removed"))] == []
    profile = site.signed_in(bob).get("/members/alice").text
    assert "blocked" not in profile.lower()


async def _events_for(context, user_id):
    from sqlalchemy import select

    from connect.events import Event

    async with context.db.read() as session:
        rows = await session.execute(select(Event.type).where(Event.target_user_id == user_id))
        return list(rows.scalars())


def test_a_blocked_members_posts_collapse_on_thread_pages(site, root, alice, bob, carol):
    community_with(site, root, "cataloging", alice, bob, carol)
    thread = (
        site.bearer(alice)
        .post(
            "/api/v1/communities/cataloging/threads",
            json={"title": "Loans", "body": "Opening post"},
        )
        .json()
    )
    reply = (
        site.bearer(bob)
        .post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Bob says **this**"})
        .json()
    )
    a = site.signed_in(alice)
    a.put("/api/v1/me/blocks/bob")

    def collapsed(client, post_id) -> bool:
        html = client.get(f"/threads/{thread['id']}").text
        article = re.search(rf'<article[^>]*id="post-{post_id}".*?</article>', html, re.S).group(0)
        return "<details" in article and "Post by a member you blocked — show" in article

    assert collapsed(a, reply["id"])
    assert not collapsed(a, thread["first_post_id"])
    # Still there when opened: the text is inside the collapsed part.
    assert "Bob says <strong>this</strong>" in a.get(f"/threads/{thread['id']}").text
    assert not collapsed(site.signed_in(carol), reply["id"])
    assert not collapsed(site.anonymous(), reply["id"])
    # The fragment live updates insert is collapsed too.
    fragment = a.get(f"/posts/{reply['id']}/fragment").text
    assert "Post by a member you blocked — show" in fragment
    a.delete("/api/v1/me/blocks/bob")
    assert not collapsed(a, reply["id"])
