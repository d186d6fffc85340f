"""The queue updates live: moderation.changed reaches the moderators of that community only."""

from tests.live.test_live import live_socket, next_event, subscribe
from tests.moderation.helpers import approve, board, hand_over, reply, start


def test_moderators_hear_about_their_own_communities_queues_only(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    site.community(owner, "other", moderation="all")
    assert a.post("/api/v1/communities/other/join").status_code == 200
    youth_mod = hand_over(site, owner, "youth", site.member("youthmod"), role="moderator")
    other_mod = hand_over(site, owner, "other", site.member("othermod"), role="moderator")
    thread = start(owner, title="Open")
    with (
        live_socket(youth_mod) as youth_ws,
        live_socket(other_mod) as other_ws,
        live_socket(b) as member_ws,
    ):
        assert subscribe(youth_ws, "moderation")["op"] == "subscribed"
        assert subscribe(other_ws, "moderation")["op"] == "subscribed"
        assert subscribe(member_ws, "moderation") == {
            "op": "error",
            "code": "forbidden",
            "channel": "moderation",
        }
        subscribe(member_ws, f"thread:{thread['id']}")
        held = reply(a, thread["id"], "Held for review")
        change = next_event(youth_ws, "moderation.changed")
        assert change["data"]["community"] == "youth" and change["data"]["id"] == held["id"]
        # The other community's moderator hears only about theirs.
        marker = start(a, slug="other", title="Held elsewhere")
        while (message := other_ws.receive_json()).get("type") != "moderation.changed":
            assert message.get("data", {}).get("post", {}).get("id") != held["id"], message
        assert message["data"] == {
            "community": "other",
            "kind": "thread",
            "id": marker["id"],
            "action": "held:rule",
        }
        approve(youth_mod, "post", held["id"])
        assert next_event(youth_ws, "moderation.changed")["data"]["action"] == "approved"
        # Readers of the thread get the post once it is approved, not before.
        event = next_event(member_ws, "post.approved")
        assert event["data"]["post"]["id"] == held["id"]
        other_ws.send_json({"op": "ping"})
        while (message := other_ws.receive_json())["op"] != "pong":
            assert message.get("data", {}).get("community") != "youth", message


def test_the_queue_page_is_wired_for_live_updates(site, admin, alice):
    owner, _ = board(site, admin, alice, moderation="all")
    page = owner.get("/moderation?community=youth")
    assert "data-live-moderation" in page.text
    assert 'data-fragment="/moderation/queue/fragment?community=youth"' in page.text
    assert "data-live-cursor" in page.text and "data-queue-banner" in page.text
    fragment = owner.get("/moderation/queue/fragment?community=youth")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "data-queue-total" in fragment.text


def test_what_happens_inside_a_hidden_thread_reaches_moderators_only(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Heated")
    answer = reply(a, thread["id"], "First words")
    site.hub_caught_up()  # so that nothing written above arrives among the answers below
    anonymous = site.anonymous()
    with live_socket(anonymous) as outsider_ws, live_socket(owner) as moderator_ws:
        for ws in (outsider_ws, moderator_ws):
            for channel in ("community:youth", f"thread:{thread['id']}"):
                ws.send_json({"op": "subscribe", "channel": channel})
                while (answer_op := ws.receive_json()["op"]) == "event":
                    pass  # an event of the first channel may come before the second's answer
                assert answer_op == "subscribed"
        hidden = owner.post(f"/api/v1/posts/{thread['first_post_id']}/hide", json={"reason": "x"})
        assert hidden.status_code == 200, hidden.text
        edited = owner.patch(f"/api/v1/posts/{answer['id']}", json={"body": "Secret edit"})
        assert edited.status_code == 200, edited.text
        assert b.post(f"/api/v1/posts/{answer['id']}/recommend").status_code in (200, 404)
        assert owner.post(f"/api/v1/posts/{answer['id']}/hide", json={}).status_code == 200
        assert owner.post(f"/api/v1/posts/{answer['id']}/restore", json={}).status_code == 200
        event = next_event(moderator_ws, "post.updated")
        assert event["data"]["post"]["body"] == "Secret edit"  # moderators follow it all
        # The outsider hears that the thread went, and nothing of what follows inside it.
        marker = start(b, title="Later, elsewhere")
        while (message := outsider_ws.receive_json()).get("type") != "thread.created":
            assert "Secret edit" not in str(message), message
            assert message.get("type") not in ("post.updated", "post.recommended"), message
        assert message["data"]["thread"]["id"] == marker["id"]
