"""Archiving a community: who may, from the settings page and the API, and what it shows."""

from __future__ import annotations

import re

from sqlalchemy import select

from connect.events import Event
from tests.conftest import csrf_from, error_code
from tests.live.test_live import live_socket, next_event, subscribe

ARCHIVED = "This community is archived: it can be read but takes no new posts."


def make_world(site, admin, alice, bob, *, visibility="open"):
    """`admin` creates the community; alice owns it too, bob moderates it."""
    root = site.signed_in(admin)
    site.community(root, "committee", name="Bylaws Committee", visibility=visibility)
    for member, role in ((alice, "owner"), (bob, "moderator")):
        answer = root.put(
            f"/api/v1/communities/committee/members/{member.username}", json={"role": role}
        )
        assert answer.status_code == 200, answer.text
    return root


def event_types(site, prefix="community.") -> list[str]:
    async def run():
        async with site.ctx.db.read() as session:
            rows = await session.execute(select(Event.type).order_by(Event.id))
            return [t for t in rows.scalars() if t.startswith(prefix)]

    return site.call(run)


def test_an_owner_archives_and_unarchives_from_the_settings_page(site, admin, alice, bob):
    make_world(site, admin, alice, bob)
    owner = site.signed_in(alice)
    settings = owner.get("/c/committee/settings")
    assert settings.status_code == 200
    assert "Archive this community" in settings.text
    assert 'action="/c/committee/archive"' in settings.text
    token = csrf_from(settings.text)

    # A wrong confirmation: the form again, the typed text kept, the reason said, nothing done.
    wrong = owner.post("/c/committee/archive", data={"csrf_token": token, "confirm": "bylaws"})
    assert wrong.status_code == 422
    assert "Type the community&#39;s address, committee, to confirm." in wrong.text
    assert 'value="bylaws"' in wrong.text
    assert owner.get("/api/v1/communities/committee").json()["archived_at"] is None

    # Without the CSRF token: refused.
    assert owner.post("/c/committee/archive", data={"confirm": "committee"}).status_code == 403
    assert owner.get("/api/v1/communities/committee").json()["archived_at"] is None

    done = owner.post("/c/committee/archive", data={"csrf_token": token, "confirm": "committee"})
    assert done.status_code == 200
    assert done.url.path == "/c/committee"
    assert "Bylaws Committee is archived" in done.text
    assert "badge archived" in done.text
    assert ARCHIVED in done.text
    assert owner.get("/api/v1/communities/committee").json()["archived_at"] is not None

    settings = owner.get("/c/committee/settings")
    assert "Unarchive this community" in settings.text
    assert "by Alice Archivist" in settings.text
    assert 'action="/c/committee/archive"' not in settings.text
    undone = owner.post("/c/committee/unarchive", data={"csrf_token": token})
    assert undone.status_code == 200
    assert "Bylaws Committee is open for posting again." in undone.text
    assert "badge archived" not in undone.text
    assert owner.get("/api/v1/communities/committee").json()["archived_at"] is None
    assert event_types(site)[-2:] == ["community.archived", "community.unarchived"]


def test_an_admin_archives_and_unarchives_over_the_api(site, admin, alice, bob):
    make_world(site, admin, alice, bob)
    other_admin = site.bearer(site.member("ada", role="admin"))  # not in the community
    answer = other_admin.post("/api/v1/communities/committee/archive")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["slug"] == "committee" and body["archived_at"].startswith("20")
    # Again: nothing changes, the same answer, no second event.
    again = other_admin.post("/api/v1/communities/committee/archive")
    assert again.status_code == 200 and again.json()["archived_at"] == body["archived_at"]
    assert event_types(site).count("community.archived") == 1
    # Everyone who can see the community sees that it is archived, in the directory too.
    reader = site.anonymous()
    assert reader.get("/api/v1/communities/committee").json()["archived_at"] == body["archived_at"]
    listed = reader.get("/api/v1/communities").json()["items"]
    assert [c["archived_at"] for c in listed] == [body["archived_at"]]

    answer = other_admin.delete("/api/v1/communities/committee/archive")
    assert answer.status_code == 200
    assert answer.json()["archived_at"] is None
    assert event_types(site)[-1] == "community.unarchived"
    # The moderation log says who did it and when.
    log = site.bearer(admin).get("/api/v1/moderation/log", params={"community": "committee"})
    actions = [(i["action"], i["actor"]) for i in log.json()["items"]]
    assert ("community.archive", "ada") in actions and ("community.unarchive", "ada") in actions


def test_moderators_members_and_outsiders_may_not_archive(site, admin, alice, bob):
    make_world(site, admin, alice, bob, visibility="private")
    carol = site.member("carol")
    outsider = site.member("otto")
    root = site.bearer(admin)
    root.put("/api/v1/communities/committee/members/carol", json={"role": "member"})
    for who, status in ((bob, 403), (carol, 403), (outsider, 404)):
        client = site.bearer(who)
        for method in ("post", "delete"):
            answer = getattr(client, method)("/api/v1/communities/committee/archive")
            assert answer.status_code == status, (who.username, answer.text)
            assert error_code(answer) == ("forbidden" if status == 403 else "not_found")
            if status == 404:
                assert "committee" not in answer.text
    assert site.anonymous().post("/api/v1/communities/committee/archive").status_code == 401
    # The moderator sees the settings page, but no archive form, and its POST is refused.
    moderator = site.signed_in(bob)
    page = moderator.get("/c/committee/settings")
    assert page.status_code == 200 and "Archive this community" not in page.text
    token = csrf_from(page.text)
    refused = moderator.post(
        "/c/committee/archive", data={"csrf_token": token, "confirm": "committee"}
    )
    assert refused.status_code == 403
    assert root.get("/api/v1/communities/committee").json()["archived_at"] is None
    assert "community.archived" not in event_types(site)


def test_archived_communities_are_marked_and_listed_after_active_ones(site, admin, alice, bob):
    root = make_world(site, admin, alice, bob)
    site.community(root, "zoning", name="Zoning")
    site.community(root, "awards", name="Awards Jury")
    site.bearer(admin).post("/api/v1/communities/awards/archive")
    directory = site.anonymous().get("/communities").text
    names = re.findall(r'<h2><a href="/c/([a-z-]+)">', directory)
    assert names == ["committee", "zoning", "awards"]
    awards_card = directory[directory.index('href="/c/awards"') :]
    assert "badge archived" in awards_card
    assert "badge archived" not in directory[: directory.index('href="/c/awards"')]
    api_order = [c["slug"] for c in site.anonymous().get("/api/v1/communities").json()["items"]]
    assert api_order == ["committee", "zoning", "awards"]

    # The home page's "Your communities" marks it for its members.
    site.bearer(admin).post("/api/v1/communities/committee/archive")
    home = site.signed_in(alice).get("/").text
    mine = home[home.index('id="my-communities"') : home.index('id="communities"')]
    assert 'href="/c/committee"' in mine and "badge archived" in mine
    # The community's own pages carry the badge with its date.
    for path in ("/c/committee", "/c/committee/library", "/c/committee/about"):
        text = site.anonymous().get(path).text
        assert re.search(r'badge archived[^<]*<time datetime="20', text), path


def test_open_pages_hear_when_the_community_is_archived(site, admin, alice, bob):
    make_world(site, admin, alice, bob)
    member = site.signed_in(site.member("carol"))
    assert member.post("/api/v1/communities/committee/join").status_code == 200
    with live_socket(member) as ws:
        assert subscribe(ws, "community:committee")["op"] == "subscribed"
        site.bearer(alice).post("/api/v1/communities/committee/archive")
        event = next_event(ws, "community.archived")
        assert event["channel"] == "community:committee"
        assert event["data"]["slug"] == "committee" and event["data"]["archived_at"]
        site.bearer(alice).delete("/api/v1/communities/committee/archive")
        assert next_event(ws, "community.unarchived")["data"]["archived_at"] is None


def test_no_one_joins_asks_to_join_or_is_invited_while_archived(site, admin, alice, bob):
    root = make_world(site, admin, alice, bob, visibility="closed")
    asked, invited, newcomer = site.member("asked"), site.member("invited"), site.member("newbie")
    assert site.bearer(asked).post("/api/v1/communities/committee/join").json() == {
        "status": "pending"
    }
    assert (
        root.post(
            "/api/v1/communities/committee/invitations", json={"username": "invited"}
        ).status_code
        == 201
    )
    assert root.post("/api/v1/communities/committee/archive").status_code == 200
    before = root.get("/api/v1/communities/committee/members?per_page=100").json()

    def refused(answer):
        assert answer.status_code == 409, answer.text
        assert error_code(answer) == "archived"
        assert answer.json()["error"]["message"] == ARCHIVED

    refused(site.bearer(newcomer).post("/api/v1/communities/committee/join"))  # a request
    refused(site.bearer(invited).post("/api/v1/communities/committee/join"))  # accepting
    refused(root.post("/api/v1/communities/committee/invitations", json={"username": "newbie"}))
    refused(root.put("/api/v1/communities/committee/members/asked", json={"role": "member"}))
    refused(root.put("/api/v1/communities/committee/members/newbie", json={"role": "member"}))
    assert root.get("/api/v1/communities/committee/members?per_page=100").json() == before
    for status in ("pending", "invited"):
        waiting = root.get(f"/api/v1/communities/committee/members?status={status}").json()
        assert len(waiting["items"]) == 1
    # Roles of members still change: an owner can hand the community over.
    promoted = root.put("/api/v1/communities/committee/members/bob", json={"role": "owner"})
    assert promoted.status_code == 200
    # The pages offer none of it: no Join button, no invite form, no Approve button.
    assert "Ask to join" not in site.signed_in(newcomer).get("/c/committee").text
    members_page = site.signed_in(alice).get("/c/committee/members").text
    assert 'action="/c/committee/invitations"' not in members_page
    assert "Approve" not in members_page and "Decline" in members_page
    # Open for joining again once unarchived.
    assert root.delete("/api/v1/communities/committee/archive").status_code == 200
    assert site.bearer(invited).post("/api/v1/communities/committee/join").json() == {
        "status": "member"
    }
