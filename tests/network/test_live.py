"""Live: requests reach only the addressee's `me` channel; home-feed news arrives on `me`
as `feed.item` only for activity the member may read, and the page fetches it from the server."""

import time

from tests.live.test_live import live_socket, next_event, subscribe
from tests.network.conftest import community_with, connect


def pong(ws) -> list[dict]:
    """Everything that arrives before the answer to a ping (so: nothing more is coming)."""
    ws.send_json({"op": "ping"})
    seen = []
    while (message := ws.receive_json())["op"] != "pong":
        seen.append(message)
    return seen


def test_requests_and_acceptances_reach_only_the_member_concerned(site, alice, bob, carol):
    a, b, c = site.signed_in(alice), site.signed_in(bob), site.signed_in(carol)
    with live_socket(a) as alice_ws, live_socket(b) as bob_ws, live_socket(c) as carol_ws:
        for ws in (alice_ws, bob_ws, carol_ws):
            assert subscribe(ws, "me") == {"op": "subscribed", "channel": "me"}
        a.post("/api/v1/members/bob/contact", json={"note": "Hi Bob"})
        event = next_event(bob_ws, "contact.requested")
        assert event["channel"] == "me"
        assert event["data"]["from"]["username"] == "alice"
        assert event["data"]["note"] == "Hi Bob"
        b.put("/api/v1/me/contacts/alice", json={"status": "accepted"})
        accepted = next_event(alice_ws, "contact.accepted")
        assert accepted["data"]["by"]["username"] == "bob"
        assert [m for m in pong(carol_ws) if m["op"] == "event"] == []
        assert [m["type"] for m in pong(alice_ws) if m["op"] == "event"] == []
        # A block tells the blocked member nothing, live or otherwise.
        a.put("/api/v1/me/blocks/bob")
        assert [m for m in pong(bob_ws) if m["op"] == "event"] == []


def settled(site) -> None:
    """Wait until the live hub has fanned out every event written so far."""
    from connect import events

    async def latest():
        async with site.ctx.db.read() as session:
            return await events.latest_id(session)

    target = site.call(latest)
    deadline = time.monotonic() + 10
    while site.ctx.hub.cursor < target:
        assert time.monotonic() < deadline, "the live hub did not catch up"
        time.sleep(0.02)


def feed_items(site, ws) -> list[dict]:
    """The feed.item events that reached this socket for everything written so far."""
    settled(site)
    return [m for m in pong(ws) if m["op"] == "event" and m["type"] == "feed.item"]


def test_home_feed_items_arrive_on_me_from_communities_and_contacts(site, root, alice, bob, carol):
    community_with(site, root, "cataloging", alice, bob)
    community_with(site, root, "youth", carol)  # open: alice may read it
    community_with(site, root, "council", carol, visibility="closed")  # alice may not
    community_with(site, root, "quiet", bob)  # bob is no contact of alice's
    connect(site, alice, carol)
    a = site.signed_in(alice)
    html = a.get("/").text
    assert 'data-live-feed data-feed-fragment="/feed/fragment"' in html
    with live_socket(a) as ws, live_socket(site.signed_in(bob)) as bob_ws:
        assert subscribe(ws, "me")["op"] == "subscribed"
        assert subscribe(bob_ws, "me")["op"] == "subscribed"
        carol_api, bob_api = site.bearer(carol), site.bearer(bob)
        for client, slug, title in (
            (carol_api, "council", "Closed talk"),  # a contact, but alice may not read it
            (carol_api, "youth", "Open talk"),  # a contact's, readable
            (bob_api, "cataloging", "Shelf talk"),  # in alice's community
            (bob_api, "quiet", "Quiet talk"),  # neither
            (site.bearer(alice), "cataloging", "My own talk"),  # her own: not news to her
        ):
            answer = client.post(
                f"/api/v1/communities/{slug}/threads", json={"title": title, "body": "x"}
            )
            assert answer.status_code == 201, answer.text
        items = feed_items(site, ws)
        assert [(i["channel"], i["data"]) for i in items] == [
            ("me", {"event": "thread.created", "community": "youth"}),
            ("me", {"event": "thread.created", "community": "cataloging"}),
        ]
        fragment = a.get("/feed/fragment").text
        assert "Open talk" in fragment and "Shelf talk" in fragment
        assert "Closed talk" not in fragment and "Quiet talk" not in fragment
        # A block takes effect on the open socket at once, and the blocked member hears nothing.
        assert [i["data"]["community"] for i in feed_items(site, bob_ws)] == ["cataloging"]
        assert site.bearer(alice).put("/api/v1/me/blocks/bob").status_code == 200
        bob_api.post("/api/v1/communities/cataloging/threads", json={"title": "After", "body": "x"})
        assert feed_items(site, ws) == []
        settled(site)
        assert [m for m in pong(bob_ws) if m["op"] == "event"] == []
        # A new contact's activity comes through at once too.
        site.bearer(alice).delete("/api/v1/me/blocks/bob")
        connect(site, bob, alice)
        bob_api.post("/api/v1/communities/quiet/threads", json={"title": "Now news", "body": "x"})
        assert [i["data"]["community"] for i in feed_items(site, ws)] == ["quiet"]


def test_an_event_reaches_a_socket_once_even_when_it_is_also_feed_news(site, root, alice, bob):
    community_with(site, root, "cataloging", alice, bob)
    thread = site.bearer(bob).post(
        "/api/v1/communities/cataloging/threads", json={"title": "Shelving", "body": "x"}
    )
    with live_socket(site.signed_in(alice)) as ws:
        assert subscribe(ws, "me")["op"] == "subscribed"
        assert subscribe(ws, f"thread:{thread.json()['id']}")["op"] == "subscribed"
        reply = site.bearer(bob).post(
            f"/api/v1/threads/{thread.json()['id']}/posts", json={"body": "A reply"}
        )
        assert reply.status_code == 201, reply.text
        settled(site)
        got = [m for m in pong(ws) if m["op"] == "event"]
    # The thread channel carries the post itself; no second message with the same id.
    assert [(m["channel"], m["type"]) for m in got] == [
        (f"thread:{thread.json()['id']}", "post.created")
    ]
