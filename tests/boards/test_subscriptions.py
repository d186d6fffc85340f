"""Following threads and boards: modes, following by default, and who hears what."""

import re

from sqlalchemy import select

from connect.boards.models import Subscription
from connect.notifications.models import Notification, OutgoingMail
from tests.boards.helpers import open_board, reply, start
from tests.conftest import csrf_from, error_code


def notifications(site, member) -> list[tuple[str, str, str]]:
    """(kind, title, email mode) of the member's board notifications, oldest first."""

    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(Notification.kind, Notification.title, Notification.email_mode)
                .where(Notification.user_id == member.id, Notification.kind != "membership")
                .order_by(Notification.id)
            )
            return [tuple(r) for r in rows]

    return site.call(load)


def mail_to(site, member) -> list[str]:
    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(OutgoingMail.subject).where(OutgoingMail.to == member.email)
            )
            return list(rows.scalars())

    return site.call(load)


def selected_mode(html: str, select_id: str) -> str:
    match = re.search(rf'<select id="{select_id}" name="mode">(.*?)</select>', html, re.S)
    assert match, f"no {select_id} select"
    chosen = re.findall(r'<option value="([a-z_]+)" selected>', match.group(1))
    assert len(chosen) == 1, chosen
    return chosen[0]


def thread_mode(client, thread) -> str:
    page = client.get(f"/threads/{thread['id']}")
    assert page.status_code == 200
    return selected_mode(page.text, "thread-mode")


def test_thread_subscription_modes_via_api(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    url = f"/api/v1/threads/{thread['id']}/subscription"
    assert thread_mode(b, thread) == "none"
    for mode in ("real_time", "digest", "in_app"):
        answer = b.put(url, json={"mode": mode})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"thread_id": thread["id"], "mode": mode}
        assert thread_mode(b, thread) == mode
    for bad in ("weekly", "", None, 3, ["digest"], "REAL_TIME"):
        answer = b.put(url, json={"mode": bad})
        assert answer.status_code == 422, bad
        assert error_code(answer) == "invalid"
        assert "mode" in answer.json()["error"]["fields"]
    assert thread_mode(b, thread) == "in_app"  # a refused change changes nothing
    answer = b.delete(url)
    assert answer.status_code == 200
    assert answer.json() == {"thread_id": thread["id"], "mode": None}
    assert thread_mode(b, thread) == "none"
    assert b.delete(url).status_code == 200  # unfollowing twice is fine
    # Only one row per member and thread, however often it changes.
    b.put(url, json={"mode": "digest"})
    b.put(url, json={"mode": "digest"})

    async def rows():
        async with site.ctx.db.read() as session:
            found = await session.execute(
                select(Subscription).where(
                    Subscription.user_id == bob.id, Subscription.thread_id == thread["id"]
                )
            )
            return list(found.scalars())

    assert len(site.call(rows)) == 1


def test_subscription_needs_sign_in_and_read_access(site, admin, alice, bob):
    owner, (a,) = open_board(site, admin, alice, slug="council", visibility="closed")
    thread = start(a, slug="council")
    anonymous = site.anonymous()
    assert (
        anonymous.put(
            f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "digest"}
        ).status_code
        == 401
    )
    outsider = site.signed_in(bob)
    assert (
        outsider.put(
            f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "digest"}
        ).status_code
        == 404
    )
    assert outsider.put(
        "/api/v1/communities/council/subscription", json={"mode": "digest"}
    ).status_code in (403, 404)
    assert (
        outsider.put("/api/v1/threads/424242/subscription", json={"mode": "digest"}).status_code
        == 404
    )
    reply(owner, thread)
    site.drain()
    assert notifications(site, bob) == []


def test_authors_and_repliers_follow_by_default(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    dave = site.member("dave", display_name="Dave Digitizer")
    _, (a, b, c, d) = open_board(site, admin, alice, bob, carol, dave)
    thread = start(a)
    assert thread_mode(a, thread) == "real_time"
    assert thread_mode(b, thread) == "none"
    reply(b, thread, "first answer")
    assert thread_mode(b, thread) == "real_time"
    site.drain()
    assert [n[:2] for n in notifications(site, alice)] == [
        ("followed_post", "Bob Bibliographer replied in “Subject headings”")
    ]
    reply(c, thread, "second answer")
    site.drain()
    # Author and earlier replier hear about the new reply; a bystander does not.
    assert notifications(site, alice)[-1][:2] == (
        "followed_post",
        "Carol Curator replied in “Subject headings”",
    )
    assert notifications(site, bob) == [
        ("followed_post", "Carol Curator replied in “Subject headings”", "real_time")
    ]
    assert notifications(site, carol) == []
    assert notifications(site, dave) == []
    assert len(mail_to(site, bob)) == 1

    # Unfollowing stops them.
    assert b.delete(f"/api/v1/threads/{thread['id']}/subscription").status_code == 200
    reply(d, thread, "third answer")
    site.drain()
    assert len(notifications(site, bob)) == 1
    assert len(notifications(site, carol)) == 1
    assert len(notifications(site, alice)) == 3

    # Replying again does not follow again: the choice to stop stands.
    reply(b, thread, "one more thing")
    assert thread_mode(b, thread) == "none"
    reply(c, thread, "fourth answer")
    site.drain()
    assert len(notifications(site, bob)) == 1
    # Nor for the author, who unfollowed from the thread page's form.
    page = a.get(f"/threads/{thread['id']}").text
    unfollowed = a.post(
        f"/threads/{thread['id']}/subscription",
        data={"csrf_token": csrf_from(page), "mode": "none"},
        follow_redirects=False,
    )
    assert unfollowed.status_code in (302, 303), unfollowed.text
    reply(a, thread, "closing this out")
    assert thread_mode(a, thread) == "none"
    # Following again is one choice away, and works as before.
    assert b.put(
        f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "in_app"}
    ).json() == {"thread_id": thread["id"], "mode": "in_app"}
    reply(d, thread, "fifth answer")
    site.drain()
    assert notifications(site, bob)[-1] == (
        "followed_post",
        "Dave Digitizer replied in “Subject headings”",
        "in_app",
    )
    # Alice heard of the fourth answer, not of the fifth, posted after she stopped.
    assert [n[1] for n in notifications(site, alice)[-2:]] == [
        "Bob Bibliographer replied in “Subject headings”",
        "Carol Curator replied in “Subject headings”",
    ]


def test_thread_mode_decides_mail(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    _, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(a)
    assert (
        a.put(f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "in_app"}).json()[
            "mode"
        ]
        == "in_app"
    )
    assert (
        b.put(f"/api/v1/threads/{thread['id']}/subscription", json={"mode": "digest"}).json()[
            "mode"
        ]
        == "digest"
    )
    reply(c, thread)
    site.drain()
    assert [n[2] for n in notifications(site, alice)] == ["in_app"]
    assert [n[2] for n in notifications(site, bob)] == ["digest"]
    assert mail_to(site, alice) == [] and mail_to(site, bob) == []
    # The notification list shows it either way.
    assert [n["title"] for n in a.get("/api/v1/notifications").json()["items"]] == [
        "Carol Curator replied in “Subject headings”"
    ]


def test_follow_select_on_the_thread_page(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    page = b.get(f"/threads/{thread['id']}")
    token = csrf_from(page.text)
    answer = b.post(
        f"/threads/{thread['id']}/subscription",
        data={"csrf_token": token, "mode": "digest"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert thread_mode(b, thread) == "digest"
    b.post(f"/threads/{thread['id']}/subscription", data={"csrf_token": token, "mode": "none"})
    assert thread_mode(b, thread) == "none"
    refused = b.post(
        f"/threads/{thread['id']}/subscription", data={"csrf_token": token, "mode": "hourly"}
    )
    assert refused.status_code == 422
    assert thread_mode(b, thread) == "none"


def test_board_followers_hear_of_new_threads_with_their_mode(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    dave = site.member("dave", display_name="Dave Digitizer")
    _, (a, b, c, d) = open_board(site, admin, alice, bob, carol, dave)
    url = "/api/v1/communities/cataloging/subscription"
    assert b.put(url, json={"mode": "digest"}).json() == {
        "community": "cataloging",
        "mode": "digest",
    }
    assert c.put(url, json={"mode": "real_time"}).json()["mode"] == "real_time"
    assert d.put(url, json={"mode": "in_app"}).json()["mode"] == "in_app"
    answer = a.put(url, json={"mode": "monthly"})
    assert answer.status_code == 422 and "mode" in answer.json()["error"]["fields"]
    assert selected_mode(b.get("/c/cataloging").text, "board-mode") == "digest"
    assert selected_mode(a.get("/c/cataloging").text, "board-mode") == "none"

    thread = start(a, title="Linked data")
    site.drain()
    title = "New discussion in Cataloging: “Linked data”"
    assert notifications(site, bob) == [("new_thread", title, "digest")]
    assert notifications(site, carol) == [("new_thread", title, "real_time")]
    assert notifications(site, dave) == [("new_thread", title, "in_app")]
    assert notifications(site, alice) == []  # not about one's own thread
    assert mail_to(site, bob) == [] and mail_to(site, dave) == []
    assert len(mail_to(site, carol)) == 1
    url_of = c.get("/api/v1/notifications").json()["items"][0]["url"]
    assert url_of == f"/threads/{thread['id']}"

    # Following the board is about new threads, not every reply.
    reply(a, thread)
    site.drain()
    assert len(notifications(site, bob)) == 1

    # Unfollowing the board stops it.
    assert b.delete(url).json() == {"community": "cataloging", "mode": None}
    assert selected_mode(b.get("/c/cataloging").text, "board-mode") == "none"
    start(a, title="Another")
    site.drain()
    assert len(notifications(site, bob)) == 1
    assert len(notifications(site, carol)) == 2


def test_preferred_mode_is_used_when_following_by_default(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    _, (a, b, c) = open_board(site, admin, alice, bob, carol)
    answer = b.patch("/api/v1/me/preferences", json={"subscription_mode": "digest"})
    assert answer.status_code == 200
    assert answer.json()["subscription_mode"] == "digest"
    assert (
        a.patch("/api/v1/me/preferences", json={"subscription_mode": "in_app"}).status_code == 200
    )
    assert c.patch("/api/v1/me/preferences", json={"subscription_mode": "never"}).status_code == 422

    thread = start(a)
    assert thread_mode(a, thread) == "in_app"
    reply(b, thread, "following in digest mode")
    assert thread_mode(b, thread) == "digest"
    reply(c, thread, "a third voice")
    assert thread_mode(c, thread) == "real_time"  # the default preference
    site.drain()
    assert [n[2] for n in notifications(site, alice)] == ["in_app", "in_app"]
    assert [n[2] for n in notifications(site, bob)] == ["digest"]
    assert mail_to(site, alice) == [] and mail_to(site, bob) == []

    # A thread followed explicitly keeps its mode when the member replies.
    second = start(a, title="Second")
    assert (
        b.put(
            f"/api/v1/threads/{second['id']}/subscription", json={"mode": "real_time"}
        ).status_code
        == 200
    )
    reply(b, second)
    assert thread_mode(b, second) == "real_time"


def test_followers_who_lose_access_hear_nothing(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="council", visibility="closed")
    thread = start(a, slug="council", title="Budget")
    reply(b, thread, "following now")
    assert (
        b.put("/api/v1/communities/council/subscription", json={"mode": "real_time"}).status_code
        == 200
    )
    assert b.post("/api/v1/communities/council/leave").status_code == 204
    reply(a, thread, "secret reply")
    start(a, slug="council", title="Secret new thread")
    site.drain()
    assert notifications(site, bob) == []
    assert mail_to(site, bob) == []
