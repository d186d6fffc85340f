"""Activity feeds: a member's activity on their profile, and the home feed from contacts and
communities, newest first and paged, with nothing held, hidden or deleted."""

import re
from dataclasses import replace

import pytest

from tests.network.conftest import community_with, connect, refused


@pytest.fixture
def settings(settings):
    """These tests write more posts a minute than a first-week member may: limits off."""
    return replace(settings, rate_limits=False)


def activity(client, username: str, **params) -> list[tuple[str, str, str]]:
    answer = client.get(f"/api/v1/members/{username}/activity", params=params)
    assert answer.status_code == 200, answer.text
    return [(i["type"], i["actor"]["username"], i["title"]) for i in answer.json()["items"]]


def feed(client, **params) -> list[tuple[str, str, str]]:
    answer = client.get("/api/v1/feed", params=params)
    assert answer.status_code == 200, answer.text
    return [(i["type"], i["actor"]["username"], i["title"]) for i in answer.json()["items"]]


def thread(client, slug: str, title: str, body: str = "Body text") -> dict:
    answer = client.post(f"/api/v1/communities/{slug}/threads", json={"title": title, "body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def reply(client, thread_id: int, body: str) -> dict:
    answer = client.post(f"/api/v1/threads/{thread_id}/posts", json={"body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def upload(client, slug: str, title: str) -> dict:
    answer = client.post(
        f"/api/v1/communities/{slug}/library/entries",
        data={"title": title, "description": "The *plan*"},
        files=[("file", ("plan.txt", b"a plan\n", "text/plain"))],
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_profile_activity_has_every_kind_newest_first(site, root, alice, bob):
    community_with(site, root, "cataloging", alice, bob)
    a, b = site.bearer(alice), site.bearer(bob)
    started = thread(a, "cataloging", "Authority files", "About **authority** files")
    theirs = thread(b, "cataloging", "Bob's question")
    reply(a, theirs["id"], "An answer")
    upload(a, "cataloging", "Cataloging plan")
    assert activity(site.anonymous(), "alice") == [
        ("entry", "alice", "Cataloging plan"),
        ("reply", "alice", "Bob's question"),
        ("thread", "alice", "Authority files"),
        ("joined", "alice", "Cataloging"),
    ]
    items = site.anonymous().get("/api/v1/members/alice/activity").json()["items"]
    first = items[2]
    assert first["url"] == f"/threads/{started['id']}"
    assert first["excerpt"] == "About authority files"
    assert first["community"] == {"slug": "cataloging", "name": "Cataloging"}
    assert items[0]["url"].startswith("/c/cataloging/library/")
    assert items[1]["url"].startswith("/posts/")
    page = site.anonymous().get("/members/alice").text
    activity_html = page.split('id="activity-h"', 1)[1]
    assert "Cataloging plan" in activity_html and "Authority files" in activity_html
    assert "replied in" in activity_html and "joined" in activity_html


def test_profile_activity_pages(site, root, alice):
    community_with(site, root, "cataloging", alice)
    a = site.bearer(alice)
    for n in range(5):
        thread(a, "cataloging", f"Thread {n}")
    answer = site.anonymous().get("/api/v1/members/alice/activity?per_page=2&page=2").json()
    assert (answer["total"], answer["page"], answer["per_page"]) == (6, 2, 2)
    assert [i["title"] for i in answer["items"]] == ["Thread 2", "Thread 1"]
    refused(site.anonymous().get("/api/v1/members/nobody/activity"), 404, "not_found")


def test_home_feed_holds_contacts_and_communities_but_not_oneself(site, root, alice, bob, carol):
    dave = site.member("dave")
    community_with(site, root, "cataloging", alice, bob)
    community_with(site, root, "youth", carol, dave)  # open; alice is not a member
    connect(site, alice, carol)
    a = site.bearer(alice)
    thread(a, "cataloging", "Mine")
    thread(site.bearer(bob), "cataloging", "From a fellow member")
    thread(site.bearer(carol), "youth", "From a contact elsewhere")
    thread(site.bearer(dave), "youth", "From a stranger elsewhere")
    got = feed(a)
    assert got[:2] == [
        ("thread", "carol", "From a contact elsewhere"),
        ("thread", "bob", "From a fellow member"),
    ]
    assert all(actor != "alice" for _, actor, _ in got)
    assert ("thread", "dave", "From a stranger elsewhere") not in got
    assert ("joined", "carol", "Youth") in got  # a contact joining a community
    assert ("joined", "bob", "Cataloging") in got
    assert ("joined", "dave", "Youth") not in got
    # Blocking takes a member out of the feed, either way round.
    a.put("/api/v1/me/blocks/bob")
    assert all(actor != "bob" for _, actor, _ in feed(a))
    site.bearer(carol).put("/api/v1/me/blocks/alice")
    assert all(actor != "carol" for _, actor, _ in feed(a))


def home_feed_keys(client) -> list[str]:
    return re.findall(r'data-feed-key="([a-z]+-\d+)"', client.get("/").text)


def test_the_home_page_reads_each_communitys_newest_and_shows_the_same_feed(
    site, root, alice, bob, carol
):
    """The home page (not counting) cuts each community's activity, and the contacts'
    elsewhere, to its newest rows before merging them: it must show exactly the first page
    of the counted feed, with a contact's doings in a shared community once."""
    dave = site.member("dave")
    moderator = site.member("sitemod", role="moderator")  # reads every community
    community_with(site, root, "cataloging", alice, bob, carol, moderator)
    community_with(site, root, "rare", alice, dave)
    community_with(site, root, "youth", carol, dave)  # alice is not a member
    connect(site, alice, carol)
    b, c, d = site.bearer(bob), site.bearer(carol), site.bearer(dave)
    busy = thread(b, "cataloging", "Busy board")
    for n in range(24):  # more than a page from one community alone
        reply(b, busy["id"], f"Busy reply {n}")
        if n % 4 == 0:
            thread(d, "rare", f"Rare find {n}")
        if n % 5 == 0:
            thread(c, "youth", f"Story time {n}")  # a contact, elsewhere
            reply(c, busy["id"], f"Carol here {n}")  # a contact, in a shared community
    upload(d, "rare", "Finding aid")
    thread(site.bearer(alice), "rare", "Mine, never shown")
    a = site.signed_in(alice)
    counted = a.get("/api/v1/feed").json()["items"]
    expected = [f"{i['type']}-{i['id']}" for i in counted]
    assert len(expected) == 20 and len(set(expected)) == 20
    assert {i["community"]["slug"] for i in counted} == {"cataloging", "rare", "youth"}
    assert home_feed_keys(a) == expected
    m = site.signed_in(moderator)
    as_moderator = [f"{i['type']}-{i['id']}" for i in m.get("/api/v1/feed").json()["items"]]
    assert home_feed_keys(m) == as_moderator and len(as_moderator) == 20
    # A whole page from one part (bob's replies), and the next items behind it.
    for n in range(21):
        reply(b, busy["id"], f"Late reply {n}")
    thread(c, "youth", "Late story")
    counted = a.get("/api/v1/feed").json()["items"]
    assert [i["type"] for i in counted[1:]] == ["reply"] * 19
    assert home_feed_keys(a) == [f"{i['type']}-{i['id']}" for i in counted]


def test_home_feed_pages_and_its_html(site, root, alice, bob):
    community_with(site, root, "cataloging", alice, bob)
    b = site.bearer(bob)
    for n in range(25):
        thread(b, "cataloging", f"Topic {n}")
    a = site.signed_in(alice)
    body = a.get("/api/v1/feed").json()
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (27, 1, 20, 20)
    assert body["items"][0]["title"] == "Topic 24"
    second = a.get("/api/v1/feed?page=2").json()["items"]
    assert [i["title"] for i in second][:5] == [
        "Topic 4",
        "Topic 3",
        "Topic 2",
        "Topic 1",
        "Topic 0",
    ]
    home = a.get("/").text
    assert "From your network and communities" in home
    assert "Topic 24" in home and "Topic 4<" not in home
    assert 'href="/feed?page=2"' in home
    later = a.get("/feed?page=2").text
    assert "Topic 4" in later and "Topic 24" not in later
    assert "From your network and communities" not in site.anonymous().get("/").text
    assert site.anonymous().get("/feed", follow_redirects=False).status_code == 303


def test_home_page_offers_older_activity_only_when_there_is_more(site, root, alice, bob):
    """The home page does not count the whole feed: it looks one item past its twenty."""
    community_with(site, root, "cataloging", alice, bob)
    b, a = site.bearer(bob), site.signed_in(alice)
    already = a.get("/api/v1/feed").json()["total"]
    for n in range(20 - already):
        thread(b, "cataloging", f"Topic {n}")
    assert a.get("/api/v1/feed").json()["total"] == 20
    home = a.get("/").text
    assert "Topic 0" in home and 'href="/feed?page=2"' not in home
    thread(b, "cataloging", "One more")
    home = a.get("/").text
    assert "One more" in home and 'href="/feed?page=2"' in home


def test_held_hidden_and_deleted_items_never_appear(site, root, alice, bob):
    community_with(site, root, "strict", alice, bob, moderation="all")
    a, b = site.bearer(alice), site.bearer(bob)
    held = b.post("/api/v1/communities/strict/threads", json={"title": "Held", "body": "x"}).json()
    assert held["status"] == "pending"
    for viewer in (a, site.anonymous(), b):
        assert "Held" not in [t for _, _, t in activity(viewer, "bob")]
    assert "Held" not in [t for _, _, t in feed(a)]
    assert root.post(f"/api/v1/moderation/items/thread/{held['id']}/approve").status_code == 200
    assert ("thread", "bob", "Held") in feed(a)

    kept = reply(root, held["id"], "A moderator's reply")
    gone = reply(root, held["id"], "To be hidden")
    assert root.post(f"/api/v1/posts/{gone['id']}/hide", json={"reason": "spam"}).status_code == 200
    deleted = reply(root, held["id"], "To be deleted")
    assert root.delete(f"/api/v1/posts/{deleted['id']}").status_code == 204
    replies = [i for i in a.get("/api/v1/feed").json()["items"] if i["type"] == "reply"]
    assert [i["id"] for i in replies] == [kept["id"]]
    # A thread removed as a whole takes its replies with it.
    assert root.delete(f"/api/v1/posts/{held['first_post_id']}").status_code == 204
    assert [t for t in feed(a) if t[2] == "Held"] == []


def test_the_live_fragment_renders_the_newest_items(site, root, alice, bob):
    community_with(site, root, "cataloging", alice, bob)
    thread(site.bearer(bob), "cataloging", "Fresh news")
    fragment = site.signed_in(alice).get("/feed/fragment")
    assert fragment.status_code == 200
    assert 'data-feed-key="thread-' in fragment.text and "Fresh news" in fragment.text
    assert "<html" not in fragment.text
    assert site.anonymous().get("/feed/fragment").status_code == 204
