"""Rows every reader shares (connect/boards/shared.py): read once, never shown to someone who
may not see them, never hiding from anyone what they may see, and never older than a write."""

import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from connect.accounts.models import User
from connect.messages.reading import messageable
from connect.web import load_viewer
from tests.boards.helpers import listed_threads, open_board, reply, start
from tests.boards.test_pages import posts_on
from tests.messages.helpers import befriend, block, community_with, set_policy


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=False)


def test_held_and_hidden_posts_show_only_to_their_author_and_moderators(site, admin, alice, bob):
    carol = site.member("carol")
    owner, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(owner, title="Shelving", body="Spine labels?")
    first = thread["first_post_id"]
    visible = reply(a, thread, "Yes, printed.")
    hidden = reply(b, thread, "Buy my labels.")
    assert (
        owner.post(f"/api/v1/posts/{hidden['id']}/hide", json={"reason": "Spam"}).status_code == 200
    )
    changed = owner.patch("/api/v1/communities/cataloging", json={"moderation": "all"})
    assert changed.status_code == 200, changed.text
    held = c.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Handwritten!"}).json()
    assert held["status"] == "pending", held
    url = f"/threads/{thread['id']}"

    # Whoever reads first fills the shared rows; every order gives each their own view.
    everyone = {"anonymous": site.anonymous(), "alice": a, "bob": b, "carol": c, "owner": owner}
    expected = {
        "anonymous": [first, visible["id"]],
        "alice": [first, visible["id"]],
        "bob": [first, visible["id"]],
        "carol": [first, visible["id"], held["id"]],
        "owner": [first, visible["id"], hidden["id"], held["id"]],
    }
    for order in (list(everyone), list(reversed(everyone))):
        for name in order:
            page = everyone[name].get(url)
            assert page.status_code == 200
            assert posts_on(page.text) == expected[name], (order, name)
    assert "Handwritten!" not in a.get(url).text
    assert "Buy my labels." not in a.get(url).text
    assert site.ctx.reads.hits > 0


def test_a_quoted_post_shows_only_to_those_who_may_see_it(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Deaccession", body="Which criteria?")
    quoted = reply(b, thread, "Condition first, then use.")
    answer = a.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "Agreed.", "reply_to": quoted["id"]},
    ).json()
    url = f"/threads/{thread['id']}"
    assert "Condition first" in a.get(url).text
    assert owner.post(f"/api/v1/posts/{quoted['id']}/hide", json={"reason": "x"}).status_code == 200
    # Bob's hidden post and its quote stay out of Alice's page, filled by the owner's visit.
    assert "Condition first" in owner.get(url).text
    page = a.get(url).text
    assert "Condition first" not in page and f"post-{answer['id']}" in page


def test_private_threads_stay_404_to_outsiders_after_members_read_them(site, admin, alice, bob):
    owner = site.signed_in(admin)
    site.community(owner, "board", visibility="private")
    thread = start(owner, slug="board", title="Salaries", body="Confidential figures.")
    url = f"/threads/{thread['id']}"
    assert owner.get(url).status_code == 200  # the shared rows are now kept
    for outsider in (site.anonymous(), site.signed_in(alice)):
        answer = outsider.get(url)
        assert answer.status_code == 404 and "Confidential" not in answer.text
        assert outsider.get("/c/board").status_code == 404


def test_a_write_shows_to_the_next_reader_at_once(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Hours", body="Summer hours?")
    url = f"/threads/{thread['id']}"
    before = posts_on(b.get(url).text)
    answered = reply(a, thread, "Closed on Saturdays.")
    assert posts_on(b.get(url).text) == before + [answered["id"]]
    assert (
        a.patch(f"/api/v1/posts/{answered['id']}", json={"body": "Open on Saturdays."}).status_code
        == 200
    )
    assert "Open on Saturdays." in b.get(url).text

    assert listed_threads(b.get("/c/cataloging").text) == [thread["id"]]
    newer = start(a, title="Parking", body="Where?")
    assert listed_threads(b.get("/c/cataloging").text) == [newer["id"], thread["id"]]


def test_held_threads_list_only_for_their_author_and_moderators(site, admin, alice, bob):
    carol = site.member("carol")
    owner, (a, c) = open_board(site, admin, alice, carol, moderation="all")
    held = c.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Mine", "body": "Held."}
    ).json()
    assert held["status"] == "pending"
    for order in ((a, c, owner), (owner, c, a)):
        lists = {id(client): listed_threads(client.get("/c/cataloging").text) for client in order}
        assert lists[id(a)] == []
        assert lists[id(c)] == [held["id"]]
        assert lists[id(owner)] == [held["id"]]


def test_reply_privately_from_the_shared_rows_matches_the_one_query_check(site, admin, alice, bob):
    carol, dave, erin = (site.member(name) for name in ("carol", "dave", "erin"))
    owner, (a, b, c, d, e) = open_board(site, admin, alice, bob, carol, dave, erin)
    community_with(site, owner, "council", alice, dave)
    thread = start(a, title="Binding", body="Glue or thread?")
    for client, body in ((b, "Thread."), (c, "Glue."), (d, "Both."), (e, "Neither.")):
        reply(client, thread, body)
    assert d.post("/api/v1/communities/cataloging/leave").status_code in (200, 204)
    block(site, bob, alice)  # Bob blocks Alice
    block(site, alice, erin)  # Alice blocks Erin
    befriend(site, alice, carol)
    set_policy(site, carol, "contacts")  # Carol: contacts only, and Alice is one
    set_policy(site, dave, "communities")  # Dave left, but shares the council with Alice
    set_policy(site, erin, "anyone")
    set_policy(site, bob, "contacts")
    url = f"/threads/{thread['id']}"
    members = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin}
    clients = {"alice": a, "bob": b, "carol": c, "dave": d, "erin": e}

    async def one_query(reader_name):
        current = await load_viewer(
            site.ctx, bearer=None, cookie=clients[reader_name].cookies.get("connect_session")
        )
        async with site.ctx.db.read() as session:
            users = list(
                await session.scalars(
                    select(User).where(User.id.in_([m.id for m in members.values()]))
                )
            )
            return {u.username for u in users if u.id in await messageable(session, current, users)}

    for name, client in clients.items():
        page = client.get(url).text
        linked = set(re.findall(r'href="/messages/new\?to=([a-z]+)&amp;reply_to_post=', page))
        assert linked == site.call(one_query, name) - {name}, name
    page = a.get(url).text
    assert "to=carol&amp;" in page and "to=dave&amp;" in page
    assert "to=bob&amp;" not in page and "to=erin&amp;" not in page
