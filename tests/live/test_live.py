"""Live updates over the WebSocket: channels, permissions, resume, limits."""

import json
from dataclasses import replace

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from connect.app import create_app
from tests.conftest import BASE_URL, fast_passwords, hub_caught_up


def setup_board(site, admin, *members, slug="cataloging", **settings):
    owner = site.signed_in(admin)
    site.community(owner, slug, **settings)
    clients = []
    for m in members:
        c = site.signed_in(m)
        assert (
            owner.put(
                f"/api/v1/communities/{slug}/members/{m.username}", json={"role": "member"}
            ).status_code
            == 200
        )
        clients.append(c)
    return owner, clients


@pytest.fixture
def settings(settings):
    """These tests write bursts of posts (the resume tests write 50): posting limits off."""
    return replace(settings, rate_limits=False)


def live_socket(client, **headers):
    """Open the live socket as this client (its session cookie, this site's Origin)."""
    session = client.cookies.get("connect_session")
    if session:
        headers.setdefault("cookie", f"connect_session={session}")
    headers.setdefault("origin", BASE_URL)
    return client.websocket_connect("/api/v1/live", headers=headers)


def subscribe(ws, channel):
    ws.send_json({"op": "subscribe", "channel": channel})
    return ws.receive_json()


def next_event(ws, type=None):
    """The next event (of this type); earlier events may arrive while the hub catches up."""
    while True:
        message = ws.receive_json()
        if message["op"] == "event" and (type is None or message["type"] == type):
            return message


def test_new_post_reaches_thread_subscriber(site, admin, alice, bob):
    _, (a, b) = setup_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Live", "body": "Q"}
    ).json()
    with live_socket(a) as ws:
        assert subscribe(ws, f"thread:{thread['id']}") == {
            "op": "subscribed",
            "channel": f"thread:{thread['id']}",
        }
        reply = b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "**hello**"}).json()
        event = next_event(ws, "post.created")
        if event["data"]["post"]["id"] == thread["first_post_id"]:
            # The hub read the thread's own first post only after the subscription.
            event = next_event(ws, "post.created")
        assert event["channel"] == f"thread:{thread['id']}"
        assert event["data"]["post"]["id"] == reply["id"]
        assert "<strong>hello</strong>" in event["data"]["post"]["html"]


def test_anonymous_may_follow_public_channels_only(site, admin, alice):
    owner, _ = setup_board(site, admin, slug="council", visibility="closed")
    site.community(owner, "open-board")
    secret = owner.post(
        "/api/v1/communities/council/threads", json={"title": "Secret", "body": "x"}
    ).json()
    anonymous = site.anonymous()
    with anonymous.websocket_connect("/api/v1/live") as ws:
        assert subscribe(ws, "community:open-board")["op"] == "subscribed"
        for channel in ("community:council", f"thread:{secret['id']}", "me", "moderation",
                        "community:nope", "thread:999", "weird"):  # fmt: skip
            assert subscribe(ws, channel) == {
                "op": "error",
                "code": "forbidden",
                "channel": channel,
            }


def test_held_posts_go_to_author_and_moderators_only(site, admin, alice, bob):
    owner, (a, b) = setup_board(site, admin, alice, bob, slug="youth", moderation="new_members")
    with (
        live_socket(b) as member_ws,
        live_socket(owner) as mod_ws,
    ):
        subscribe(member_ws, "community:youth")
        subscribe(mod_ws, "community:youth")
        held = a.post("/api/v1/communities/youth/threads", json={"title": "Held", "body": "x"})
        assert held.json()["status"] == "pending"
        marker = owner.post(
            "/api/v1/communities/youth/threads", json={"title": "Marker", "body": "y"}
        ).json()
        event = next_event(member_ws, "thread.created")
        assert event["data"]["thread"]["id"] == marker["id"]  # the held one never came
        seen = next_event(mod_ws, "thread.created")
        assert seen["data"]["thread"]["id"] == held.json()["id"]


def test_removed_member_stops_receiving_at_once(site, admin, alice):
    owner, (a,) = setup_board(site, admin, alice, slug="council", visibility="closed")
    with live_socket(a) as ws:
        assert subscribe(ws, "community:council")["op"] == "subscribed"
        owner.post("/api/v1/communities/council/threads", json={"title": "One", "body": "x"})
        assert next_event(ws, "thread.created")["data"]["thread"]["title"] == "One"
        assert owner.delete("/api/v1/communities/council/members/alice").status_code == 204
        owner.post("/api/v1/communities/council/threads", json={"title": "Two", "body": "x"})
        marker = owner.post(
            "/api/v1/communities/council/threads", json={"title": "Three", "body": "x"}
        )
        assert marker.status_code == 201
        ws.send_json({"op": "ping"})
        # Nothing about "Two" or "Three" arrives; the pong does.
        while (message := ws.receive_json())["op"] != "pong":
            assert message.get("data", {}).get("thread", {}).get("title") not in ("Two", "Three")


def test_resume_replays_missed_events_once_and_in_order(site, admin, alice, bob):
    _, (a, b) = setup_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Resume", "body": "Q"}
    ).json()
    channel = f"thread:{thread['id']}"
    with live_socket(a) as ws:
        subscribe(ws, channel)
        b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "before"})
        last_id = next_event(ws, "post.created")["id"]
    written = [
        b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": f"missed {i}"}).json()["id"]
        for i in range(50)
    ]
    with live_socket(a) as ws:
        subscribe(ws, channel)
        ws.send_json({"op": "resume", "last_event_id": last_id})
        got = [next_event(ws, "post.created") for _ in range(50)]
        assert [e["data"]["post"]["id"] for e in got] == written
        ids = [e["id"] for e in got]
        assert ids == sorted(ids) and len(set(ids)) == 50
        live = b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "live"}).json()
        assert next_event(ws, "post.created")["data"]["post"]["id"] == live["id"]


def test_resume_across_a_server_restart(site, admin, alice, bob, settings):
    _, (a, b) = setup_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Restart", "body": "Q"}
    ).json()
    with live_socket(a) as ws:
        subscribe(ws, f"thread:{thread['id']}")
        b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "seen"})
        last_id = next_event(ws, "post.created")["id"]
    written = [
        b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": f"p{i}"}).json()["id"]
        for i in range(50)
    ]
    token = a.cookies.get("connect_session")
    restarted = create_app(settings)
    restarted.state.ctx.passwords = fast_passwords()
    with TestClient(restarted, base_url=BASE_URL) as fresh:
        # The new hub starts behind the log: once it has read up, only the resume below
        # sends what the socket missed (else it may pass an older event on live).
        hub_caught_up(fresh, restarted.state.ctx)
        with live_socket(fresh, cookie=f"connect_session={token}") as ws:
            subscribe(ws, f"thread:{thread['id']}")
            ws.send_json({"op": "resume", "last_event_id": last_id})
            got = [next_event(ws, "post.created")["data"]["post"]["id"] for _ in range(50)]
            assert got == written


def test_too_far_behind_gets_resync(app, site, admin, alice):
    app.state.ctx.hub.replay_limit = 5
    _, (a,) = setup_board(site, admin, alice)
    for i in range(8):
        a.post("/api/v1/communities/cataloging/threads", json={"title": f"T{i}", "body": "x"})
    site.hub_caught_up()  # else the last thread may reach the new subscription live first
    with live_socket(a) as ws:
        subscribe(ws, "community:cataloging")
        ws.send_json({"op": "resume", "last_event_id": 1})
        assert ws.receive_json() == {"op": "resync", "reason": "too_far_behind"}


def test_cookie_from_a_foreign_origin_is_refused(site, admin, alice):
    _, (a,) = setup_board(site, admin, alice)
    with (
        pytest.raises(WebSocketDisconnect),
        live_socket(a, origin="https://evil.example") as ws,
    ):
        ws.receive_json()
    # A malformed Origin (a port that is not a number, a broken IPv6 host) is foreign too.
    for origin in ("http://127.0.0.1:8000.evil.example", "http://127.0.0.1:99999", "http://[::1"):
        with pytest.raises(WebSocketDisconnect) as refused, live_socket(a, origin=origin):
            pass
        assert refused.value.code == 1008
    # A bearer token may come from anywhere; a bad token is refused.
    token = site.bearer(alice).headers["Authorization"].split()[1]
    anon = site.anonymous()
    with anon.websocket_connect(f"/api/v1/live?token={token}") as ws:
        assert subscribe(ws, "me")["op"] == "subscribed"
    with pytest.raises(WebSocketDisconnect), anon.websocket_connect("/api/v1/live?token=nope"):
        pass


def test_notifications_arrive_on_me(site, admin, alice, bob):
    _, (a, b) = setup_board(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Bell", "body": "Q"}
    ).json()
    with live_socket(a) as ws:
        subscribe(ws, "me")
        b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "ding"})
        site.drain()
        while "Bell" not in (event := next_event(ws, "notification.created"))["data"]["title"]:
            assert event["data"]["title"] == "Site Admin added you to Cataloging"
        assert event["channel"] == "me"


def test_malformed_messages_and_limits(site, admin, alice):
    _, (a,) = setup_board(site, admin, alice)
    with live_socket(a) as ws:
        for bad in ("not json", "[1,2]", json.dumps({"op": 5}), json.dumps({"op": "dance"})):
            ws.send_text(bad)
            assert ws.receive_json() == {"op": "error", "code": "bad_message"}
    with live_socket(a) as ws:
        for _i in range(25):
            ws.send_json({"op": "ping"})
        answers = [ws.receive_json() for _ in range(25)]
        assert {"op": "error", "code": "rate_limited"} in answers
    with live_socket(a) as ws:
        ws.send_text("x" * (64 * 1024 + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009


def test_subscription_cap(site, admin, alice, monkeypatch):
    from connect.live import routes

    monkeypatch.setattr(routes, "MAX_SUBSCRIPTIONS", 3)
    owner, (a,) = setup_board(site, admin, alice)
    for slug in ("b1", "b2", "b3"):
        site.community(owner, slug)
    with live_socket(a) as ws:
        for slug in ("cataloging", "b1", "b2"):
            assert subscribe(ws, f"community:{slug}")["op"] == "subscribed"
        assert subscribe(ws, "community:b3")["code"] == "too_many_subscriptions"


def test_slow_client_is_dropped_without_delaying_others(app, site, admin, alice, bob):
    import asyncio

    from connect.live import hub as hub_module
    from connect.live.hub import Connection
    from connect.permissions import Viewer

    hub = app.state.ctx.hub
    _, (a, b) = setup_board(site, admin, alice, bob)

    async def never(message):
        await asyncio.sleep(3600)

    async def attach():
        slow = Connection(send=never, viewer=Viewer(), channels={"community:cataloging"}, limit=2)
        hub.add(slow)
        return slow

    slow = site.call(attach)
    with live_socket(b) as ws:
        subscribe(ws, "community:cataloging")
        for i in range(4):
            a.post("/api/v1/communities/cataloging/threads", json={"title": f"T{i}", "body": "x"})
        titles = [next_event(ws, "thread.created")["data"]["thread"]["title"] for _ in range(4)]
        assert titles == ["T0", "T1", "T2", "T3"]
    assert slow.close_code == 1013
    assert hub_module.QUEUE_SIZE >= 100
