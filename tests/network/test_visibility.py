"""Nothing reaches a member who must not see it: a table of viewers × items over the profile
(page and API), the home feed (page, API, live fragment) and its live news on `me`; a table of
contact policies × relations for requests (API, buttons, live); unlisted members."""

from dataclasses import replace

import pytest

from tests.live.test_live import live_socket, subscribe
from tests.network.conftest import community_with, connect
from tests.network.test_live import feed_items, pong

ITEMS = ("Open thread", "Closed thread", "Private thread", "Held thread", "Deleted thread")
READABLE_ALL = {"Open thread", "Closed thread", "Private thread"}
READABLE_COMMUNITIES = {"open", "closed", "private"}
# viewer: (alice's items on her profile, in the viewer's home feed (None: no feed), and
# the communities of the `feed.item` news that reaches the viewer live on `me`)
VIEWERS = {
    "anonymous": ({"Open thread"}, None, set()),
    "stranger": ({"Open thread"}, set(), set()),  # no shared community, not a contact
    "contact": ({"Open thread"}, {"Open thread"}, {"open"}),  # in no community
    "fellow": (READABLE_ALL, READABLE_ALL, READABLE_COMMUNITIES),  # in all of alice's
    "blocked": ({"Open thread"}, set(), set()),  # in "open"; alice blocks them
    "blocker": ({"Open thread"}, set(), set()),  # in "open"; they block alice
    "admin": (READABLE_ALL, READABLE_ALL, READABLE_COMMUNITIES),  # owns them all
}


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=False)


@pytest.fixture
def world(site, root, alice):
    """Alice belongs to an open, a closed, a private and a strictly moderated community."""
    people = {name: site.member(name) for name in VIEWERS if name not in ("anonymous", "admin")}
    fellow = people["fellow"]
    community_with(site, root, "open", alice, fellow, people["blocked"], people["blocker"])
    community_with(site, root, "closed", alice, fellow, visibility="closed")
    community_with(site, root, "private", alice, fellow, visibility="private")
    community_with(site, root, "strict", alice, fellow, moderation="all")
    connect(site, alice, people["contact"])
    site.bearer(alice).put("/api/v1/me/blocks/blocked")
    site.bearer(people["blocker"]).put("/api/v1/me/blocks/alice")
    a = site.bearer(alice)
    deleted = a.post(
        "/api/v1/communities/open/threads", json={"title": "Deleted thread", "body": "x"}
    )
    assert a.delete(f"/api/v1/posts/{deleted.json()['first_post_id']}").status_code == 204
    return people


def client_for(site, world, admin, name):
    if name == "anonymous":
        return site.anonymous()
    return site.signed_in(admin if name == "admin" else world[name])


def post_everywhere(site, alice):
    a = site.bearer(alice)
    for slug, title in (
        ("open", "Open"),
        ("closed", "Closed"),
        ("private", "Private"),
        ("strict", "Held"),
    ):
        answer = a.post(
            f"/api/v1/communities/{slug}/threads", json={"title": f"{title} thread", "body": "x"}
        )
        assert answer.status_code == 201, answer.text


def titles_in(text: str) -> set[str]:
    return {t for t in ITEMS if t in text}


@pytest.mark.parametrize("name", list(VIEWERS))
def test_activity_reaches_only_those_who_may_read_it(site, world, admin, alice, name):
    on_profile, in_feed, live = VIEWERS[name]
    client = client_for(site, world, admin, name)
    live_seen: set[str] = set()
    if in_feed is not None:
        with live_socket(client) as ws:
            assert subscribe(ws, "me")["op"] == "subscribed"
            post_everywhere(site, alice)
            live_seen = {item["data"]["community"] for item in feed_items(site, ws)}
    else:
        post_everywhere(site, alice)
    # Live: news only of what the viewer may read and would find in their feed; the
    # fragment it makes the page fetch holds only what the feed may (checked below).
    assert live_seen == live
    # The profile, as JSON and as a page.
    api = client.get("/api/v1/members/alice/activity?per_page=100").json()["items"]
    assert {i["title"] for i in api if i["type"] == "thread"} == on_profile
    # Joining shows only for communities the viewer may read, like what was said there.
    joined = {"Open", "Strict"} | (
        {"Closed", "Private"} if "Closed thread" in on_profile else set()
    )
    assert {i["title"] for i in api if i["type"] == "joined"} == joined
    assert titles_in(client.get("/members/alice").text.split('id="activity-h"', 1)[1]) == on_profile
    if in_feed is None:
        assert client.get("/api/v1/feed").status_code == 401
        assert "From your network" not in client.get("/").text
        return
    # The home feed: JSON, the home page, and the fragment live updates fetch.
    feed = client.get("/api/v1/feed?per_page=100").json()["items"]
    assert {i["title"] for i in feed if i["actor"]["username"] == "alice"} & set(ITEMS) == in_feed
    home = client.get("/").text.split('id="feed-h"', 1)[1].split("</section>", 1)[0]
    assert titles_in(home) == in_feed
    assert titles_in(client.get("/feed/fragment").text) == in_feed


# Contact requests: the addressee's policy × how the two stand -------------------------------

REQUESTS = [
    # policy, relation, allowed
    ("anyone", "stranger", True),
    ("anyone", "fellow", True),
    ("communities", "stranger", False),
    ("communities", "fellow", True),
    ("communities", "fellow in a private community", True),
    ("contacts", "stranger", False),
    ("contacts", "fellow", False),
    ("anyone", "blocked by them", False),
    ("anyone", "blocking them", False),
    ("anyone", "suspended", False),
]


@pytest.mark.parametrize(("policy", "standing", "allowed"), REQUESTS)
def test_requests_respect_policy_and_blocks(site, root, admin, policy, standing, allowed):
    tara, rex = site.member("tara"), site.member("rex")
    site.bearer(tara).patch("/api/v1/members/tara", json={"contact_policy": policy})
    if standing.startswith("fellow"):
        visibility = "private" if "private" in standing else "open"
        community_with(site, root, "shared", tara, rex, visibility=visibility)
    elif standing == "blocked by them":
        site.bearer(tara).put("/api/v1/me/blocks/rex")
    elif standing == "blocking them":
        site.bearer(rex).put("/api/v1/me/blocks/tara")
    r = site.signed_in(rex)
    if standing == "suspended":
        answer = site.bearer(admin).post(
            "/api/v1/members/rex/suspend", json={"reason": "spam", "until": "2999-01-01T00:00:00Z"}
        )
        assert answer.status_code == 201, answer.text
    # The button shows exactly when asking is allowed.
    assert ('action="/network/contacts/tara/request"' in r.get("/members/tara").text) == allowed
    t = site.signed_in(tara)
    site.drain()  # what came before (being added to a community) is told already
    with live_socket(t) as ws:
        subscribe(ws, "me")
        answer = r.post("/api/v1/members/tara/contact")
        assert answer.status_code == (201 if allowed else 403), answer.text
        if not allowed:
            assert set(answer.json()) == {"error"} and answer.json()["error"]["message"]
        told = [m["type"] for m in pong(ws) if m["op"] == "event"]
        site.drain()
        told += [m["type"] for m in pong(ws) if m["op"] == "event"]
    assert told == (["contact.requested", "notification.created"] if allowed else [])
    incoming = t.get("/api/v1/me/contacts?status=incoming").json()["items"]
    assert [i["member"]["username"] for i in incoming] == (["rex"] if allowed else [])
    notes = t.get("/api/v1/notifications").json()["items"]
    assert [n["kind"] for n in notes if n["kind"] == "contact"] == (["contact"] if allowed else [])


# Unlisted members ----------------------------------------------------------------------------


@pytest.mark.parametrize("listed", [True, False])
def test_unlisted_members_are_absent_from_directory_and_suggestions(site, root, alice, listed):
    uma = site.member("uma", display_name="Uma Unlisted")
    community_with(site, root, "shared", alice, uma)
    site.bearer(uma).patch("/api/v1/members/uma", json={"listed": listed, "interests": "maps"})
    site.bearer(alice).patch("/api/v1/members/alice", json={"interests": "maps"})
    a = site.signed_in(alice)
    surfaces = {
        "directory api": [m["username"] for m in a.get("/api/v1/members").json()["items"]],
        "interest filter": [
            m["username"] for m in a.get("/api/v1/members?interest=maps").json()["items"]
        ],
        "sorted directory": [
            m["username"] for m in a.get("/api/v1/members?sort=complete").json()["items"]
        ],
        "suggestions": [
            s["member"]["username"] for s in a.get("/api/v1/me/suggestions").json()["items"]
        ],
    }
    for surface, found in surfaces.items():
        assert ("uma" in found) == listed, surface
    assert ("Uma Unlisted" in a.get("/members").text) == listed
    assert ("Uma Unlisted" in a.get("/network").text) == listed
