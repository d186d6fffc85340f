"""Unread replies: counted per post on board rows and in the API, and "new replies" takes
the member to the first one, on whatever page it is."""

import re
from dataclasses import replace

import pytest

from tests.boards.helpers import open_board, reply, start

MARKER = "New since your last visit"


@pytest.fixture
def settings(settings):
    """A thread longer than a page needs many replies quickly: posting limits off."""
    return replace(settings, rate_limits=False)


def badge(board_html: str, thread_id: int) -> str | None:
    """The "N new replies" link on a board row, or None."""
    match = re.search(
        rf'<a class="badge new" href="/threads/{thread_id}/unread">([^<]*)<', board_html
    )
    return match.group(1) if match else None


def mark_read(client, thread, post_id):
    answer = client.post(f"/api/v1/threads/{thread['id']}/read", json={"last_post_id": post_id})
    assert answer.status_code == 204, answer.text


def test_new_replies_are_counted_by_post_and_lead_to_the_first_one(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Retention schedules")
    replies = [reply(b, thread, f"Reply {n}") for n in range(52)]
    # Alice read page 1 (her post and 49 replies), as the page does when she reaches its end.
    mark_read(a, thread, replies[48]["id"])

    # Three replies are on page 2: the board says so, though she read "the thread" after
    # the last reply was written.
    board = a.get("/c/cataloging").text
    assert badge(board, thread["id"]) == "3 new replies"
    jump = a.get(f"/threads/{thread['id']}/unread", follow_redirects=False)
    assert jump.status_code == 303
    assert jump.headers["location"] == f"/threads/{thread['id']}?page=2#post-{replies[49]['id']}"
    page_two = a.get(jump.headers["location"]).text
    assert re.search(
        rf'{MARKER}</p>\s*<article class="post" id="post-{replies[49]["id"]}"', page_two
    )

    # The API lists the same, for the caller only.
    listed = a.get("/api/v1/communities/cataloging/threads").json()["items"]
    (row,) = [t for t in listed if t["id"] == thread["id"]]
    assert (row["new_replies"], row["first_new_post_id"]) == (3, replies[49]["id"])
    anonymous = site.anonymous().get("/api/v1/communities/cataloging/threads").json()["items"]
    assert "new_replies" not in anonymous[0]

    # Replying marks the thread read up to her reply; a later one by Bob is news again.
    reply(a, thread, "Thanks, all")
    assert badge(a.get("/c/cataloging").text, thread["id"]) is None
    one_more = reply(b, thread, "One more")
    assert badge(a.get("/c/cataloging").text, thread["id"]) == "1 new reply"

    # Read to the end: no badge, and the link goes to the last post.
    mark_read(a, thread, one_more["id"])
    assert badge(a.get("/c/cataloging").text, thread["id"]) is None
    jump = a.get(f"/threads/{thread['id']}/unread", follow_redirects=False)
    assert jump.headers["location"] == f"/threads/{thread['id']}?page=2#post-{one_more['id']}"


def test_one_new_reply_is_singular_and_never_opened_threads_start_at_the_top(
    site, admin, alice, bob
):
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Weeding")
    first = reply(b, thread, "A first answer")
    mark_read(a, thread, first["id"])
    second = reply(b, thread, "A second answer")
    assert badge(a.get("/c/cataloging").text, thread["id"]) == "1 new reply"
    jump = a.get(f"/threads/{thread['id']}/unread", follow_redirects=False)
    assert jump.headers["location"] == f"/threads/{thread['id']}#post-{second['id']}"

    # The owner never opened it: no count, and the link is the thread's start.
    assert badge(owner.get("/c/cataloging").text, thread["id"]) is None
    jump = owner.get(f"/threads/{thread['id']}/unread", follow_redirects=False)
    assert jump.headers["location"] == f"/threads/{thread['id']}"
    jump = site.anonymous().get(f"/threads/{thread['id']}/unread", follow_redirects=False)
    assert jump.headers["location"] == f"/threads/{thread['id']}"


def test_unread_link_of_a_closed_communitys_thread_is_404_to_outsiders(site, admin, alice, bob):
    owner, (a,) = open_board(site, admin, alice, visibility="closed")
    thread = start(a, title="Budget")
    assert site.signed_in(bob).get(f"/threads/{thread['id']}/unread").status_code == 404
    assert site.anonymous().get(f"/threads/{thread['id']}/unread").status_code == 404
    assert a.get(f"/threads/{thread['id']}/unread").status_code == 200
