"""Private messages arrive live on each participant's `me` channel, and nowhere else."""

import json

from tests.live.test_live import live_socket, subscribe
from tests.messages.helpers import leave, marker, start, write


def frames_until_marker(ws) -> list[dict]:
    """Every event up to the marker event (the hub sends events in log order)."""
    seen = []
    while True:
        message = ws.receive_json()
        if message["op"] != "event":
            continue
        if message["type"] == "test.marker":
            return seen
        seen.append(message)


def test_each_participant_gets_the_message_on_their_me_channel(site, alice, bob):
    carol = site.member("carol")
    a, b, c = site.signed_in(alice), site.signed_in(bob), site.signed_in(carol)
    with live_socket(b) as bob_ws, live_socket(a) as alice_ws, live_socket(c) as carol_ws:
        for ws in (bob_ws, alice_ws, carol_ws):
            assert subscribe(ws, "me") == {"op": "subscribed", "channel": "me"}
        created = start(a, "bob", "Live **hello**", subject="Live")
        for member in (alice, bob, carol):
            marker(site, member)
        (to_bob,) = [f for f in frames_until_marker(bob_ws) if f["type"] == "message.created"]
        assert to_bob["channel"] == "me"
        assert to_bob["data"]["conversation_id"] == created["id"]
        assert to_bob["data"]["unread"] is True
        assert to_bob["data"]["subject"] == "Live"
        assert "<strong>hello</strong>" in to_bob["data"]["message"]["html"]
        assert to_bob["data"]["message"]["author"]["username"] == "alice"
        # The sender's other tabs hear of it too, marked as not unread.
        (to_alice,) = [f for f in frames_until_marker(alice_ws) if f["type"] == "message.created"]
        assert to_alice["data"]["unread"] is False
        # Carol is not in the conversation: nothing.
        assert "Live" not in json.dumps(frames_until_marker(carol_ws))


def test_a_member_who_left_hears_nothing_more(site, alice, bob):
    carol = site.member("carol")
    a, c = site.signed_in(alice), site.signed_in(carol)
    cid = start(a, ["bob", "carol"], "Group hello")["id"]
    leave(c, cid)
    with live_socket(c) as ws:
        subscribe(ws, "me")
        write(a, cid, "After carol left: kumquat")
        marker(site, carol)
        assert "kumquat" not in json.dumps(frames_until_marker(ws))
    # Nor on resume: replaying the log gives her nothing of it either.
    with live_socket(c) as ws:
        subscribe(ws, "me")
        ws.send_json({"op": "resume", "last_event_id": 0})
        marker(site, carol)
        assert "kumquat" not in json.dumps(frames_until_marker(ws))


def test_the_search_indexer_and_hub_ignore_other_channels(site, alice, bob):
    """A message event is for the `me` channel only: no thread or community channel carries it."""
    from connect.events import Event
    from connect.live.hub import Hub
    from connect.search.indexer import keys_for

    a = site.signed_in(alice)
    start(a, "bob", "Channels")

    async def load():
        from sqlalchemy import select

        async with site.ctx.db.read() as session:
            return list(
                (
                    await session.execute(select(Event).where(Event.type == "message.created"))
                ).scalars()
            )

    found = site.call(load)
    assert len(found) == 2  # one per participant
    hub = Hub(site.ctx.db)
    for event in found:
        assert event.audience == "user" and event.target_user_id in (alice.id, bob.id)
        assert hub._channels_of(event) == ["me"]
        assert keys_for(event) == set()  # never indexed
