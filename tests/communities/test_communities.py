"""Creating, listing, showing and configuring communities; private ones stay invisible."""

import pytest

from tests.conftest import csrf_from, error_code

BAD_SLUGS = ["Upper", "has space", "x", "a" * 41, "new", "api", "../x", "a/b", "", "a.b", 12, None]


def slugs(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return sorted(c["slug"] for c in answer.json()["items"])


def test_admin_creates_and_becomes_owner(site, admin):
    root = site.signed_in(admin)
    answer = root.post(
        "/api/v1/communities",
        json={
            "slug": "cataloging",
            "name": "  Cataloging  ",
            "description": "Rules and records.",
            "visibility": "closed",
            "moderation": "new_members",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["slug"] == "cataloging"
    assert body["name"] == "Cataloging"
    assert body["visibility"] == "closed"
    assert body["moderation"] == "new_members"
    assert body["membership"] == "owner"
    assert body["member_count"] == 1
    again = root.get("/api/v1/communities/cataloging").json()
    assert again["membership"] == "owner"
    members = root.get("/api/v1/communities/cataloging/members").json()
    assert [(m["username"], m["role"]) for m in members["items"]] == [("root", "owner")]

    # Visibility and moderation default to open and none.
    body = site.community(site.bearer(admin), "youth")
    assert (body["visibility"], body["moderation"], body["membership"]) == ("open", "none", "owner")


def test_only_admins_create(site, admin, alice):
    for client in (site.signed_in(alice), site.bearer(alice)):
        answer = client.post("/api/v1/communities", json={"slug": "mine", "name": "Mine"})
        assert answer.status_code == 403
        assert error_code(answer) == "forbidden"
    answer = site.anonymous().post("/api/v1/communities", json={"slug": "mine", "name": "Mine"})
    assert answer.status_code == 401
    # Site moderators moderate communities but do not create them.
    moderator = site.member("mod", role="moderator")
    answer = site.bearer(moderator).post("/api/v1/communities", json={"slug": "x1", "name": "X"})
    assert answer.status_code == 403
    assert site.bearer(admin).get("/api/v1/communities").json()["total"] == 0
    # The HTML form is refused the same way.
    assert site.signed_in(alice).get("/communities/new").status_code == 403


def test_bad_slugs_are_422_and_good_ones_work(site, admin):
    root = site.bearer(admin)
    for slug in BAD_SLUGS:
        answer = root.post("/api/v1/communities", json={"slug": slug, "name": "Some name"})
        assert answer.status_code == 422, (slug, answer.text)
        assert error_code(answer) == "invalid"
        assert "slug" in answer.json()["error"]["fields"], slug
    assert root.get("/api/v1/communities").json()["total"] == 0
    for slug in ("ab", "a" * 40, "with_under-and-9"):
        assert site.community(root, slug)["slug"] == slug


def test_duplicate_slug_is_409(site, admin):
    root = site.bearer(admin)
    site.community(root, "cataloging", name="First")
    answer = root.post("/api/v1/communities", json={"slug": "cataloging", "name": "Second"})
    assert answer.status_code == 409
    assert error_code(answer) == "conflict"
    assert root.get("/api/v1/communities/cataloging").json()["name"] == "First"
    assert root.get("/api/v1/communities").json()["total"] == 1


def test_bad_settings_on_create_are_422(site, admin):
    root = site.bearer(admin)
    for values, field in (
        ({"visibility": "secret"}, "visibility"),
        ({"visibility": "Open"}, "visibility"),
        ({"moderation": "some"}, "moderation"),
        ({"moderation": None}, "moderation"),
        ({"name": ""}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"description": ["list"]}, "description"),
    ):
        answer = root.post("/api/v1/communities", json={"slug": "good", "name": "Good", **values})
        assert answer.status_code == 422, values
        assert field in answer.json()["error"]["fields"], values
    assert root.get("/api/v1/communities/good").status_code == 404


def test_create_form_for_admins(site, admin):
    root = site.signed_in(admin)
    page = root.get("/communities/new")
    assert page.status_code == 200
    token = csrf_from(page.text)
    bad = root.post(
        "/communities/new",
        data={"csrf_token": token, "slug": "Bad Slug", "name": "Kept Name", "visibility": "open"},
    )
    assert bad.status_code == 422
    assert 'value="Kept Name"' in bad.text
    good = root.post(
        "/communities/new",
        data={
            "csrf_token": token,
            "slug": "kept",
            "name": "Kept Name",
            "visibility": "open",
            "moderation": "none",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/c/kept"
    assert root.get("/c/kept/about").status_code == 200


@pytest.fixture
def world(site, admin, alice, bob):
    """open, closed and private communities; alice is a member of private-club, carol invited."""
    root = site.bearer(admin)
    site.community(root, "open-one", name="Open One")
    site.community(root, "closed-one", name="Closed One", visibility="closed")
    site.community(root, "private-club", name="Private Club", visibility="private")
    answer = root.put("/api/v1/communities/private-club/members/alice", json={"role": "member"})
    assert answer.status_code == 200
    carol = site.member("carol")
    answer = root.post("/api/v1/communities/private-club/invitations", json={"username": "carol"})
    assert answer.status_code == 201
    return {"root": root, "carol": carol}


def test_private_communities_are_listed_only_to_members_invitees_and_admins(
    site, world, alice, bob
):
    public = ["closed-one", "open-one"]
    everything = [*public, "private-club"]
    assert slugs(site.anonymous().get("/api/v1/communities")) == public
    assert slugs(site.signed_in(bob).get("/api/v1/communities")) == public
    assert site.signed_in(bob).get("/api/v1/communities").json()["total"] == 2
    assert slugs(site.signed_in(bob).get("/api/v1/communities?q=private")) == []
    assert slugs(site.signed_in(alice).get("/api/v1/communities")) == everything
    assert slugs(site.bearer(world["carol"]).get("/api/v1/communities")) == everything
    assert slugs(world["root"].get("/api/v1/communities")) == everything
    other_admin = site.member("ada", role="admin")
    assert slugs(site.bearer(other_admin).get("/api/v1/communities")) == everything

    assert "Private Club" not in site.anonymous().get("/communities").text
    assert "Private Club" not in site.signed_in(bob).get("/communities").text
    assert "Private Club" in site.signed_in(alice).get("/communities").text

    # Nor does a member's profile give the private community away.
    answer = world["root"].put(
        "/api/v1/communities/open-one/members/alice", json={"role": "member"}
    )
    assert answer.status_code == 200
    seen_by_bob = site.signed_in(bob).get("/members/alice").text
    assert "Open One" in seen_by_bob
    assert "Private Club" not in seen_by_bob and "private-club" not in seen_by_bob
    assert "Private Club" in site.signed_in(alice).get("/members/alice").text


def test_private_community_is_404_to_outsiders_everywhere(site, world, alice, bob):
    missing = site.signed_in(bob).get("/api/v1/communities/no-such-thing")
    for client in (site.anonymous(), site.signed_in(bob), site.bearer(bob)):
        answer = client.get("/api/v1/communities/private-club")
        assert answer.status_code == 404
        # Indistinguishable from a community that does not exist.
        assert answer.json() == missing.json()
        assert client.get("/api/v1/communities/private-club/members").status_code == 404
        for path in ("", "/members", "/about", "/library", "/settings"):
            page = client.get(f"/c/private-club{path}")
            assert page.status_code == 404, path
            assert "Private Club" not in page.text
    answer = site.signed_in(bob).patch("/api/v1/communities/private-club", json={"name": "Mine"})
    assert answer.status_code == 404

    # Members, invitees and admins see it.
    member_view = site.signed_in(alice).get("/api/v1/communities/private-club")
    assert member_view.json()["membership"] == "member"
    invited = site.bearer(world["carol"]).get("/api/v1/communities/private-club")
    assert invited.status_code == 200 and invited.json()["membership"] == "invited"
    assert site.signed_in(alice).get("/c/private-club").status_code == 200
    assert world["root"].get("/c/private-club/members").status_code == 200


def test_closed_community_is_visible_but_its_members_are_not(site, world, bob):
    client = site.signed_in(bob)
    body = client.get("/api/v1/communities/closed-one").json()
    assert body["visibility"] == "closed" and body["membership"] is None
    page = client.get("/c/closed-one/members")
    assert page.status_code == 200
    assert "open to its members only" in page.text
    assert "/members/root" not in page.text
    # It exists and is listed, so the answer is "not allowed", not "not found".
    answer = client.get("/api/v1/communities/closed-one/members")
    assert answer.status_code == 403
    assert error_code(answer) == "forbidden"


@pytest.fixture
def staffed(site, admin, alice, bob):
    """An open community owned by root, with alice as moderator and bob as member."""
    root = site.bearer(admin)
    site.community(root, "staffed", name="Staffed", description="Before")
    for username, role in (("alice", "moderator"), ("bob", "member")):
        answer = root.put(f"/api/v1/communities/staffed/members/{username}", json={"role": role})
        assert answer.status_code == 200, answer.text
    return root


def test_owner_and_moderator_change_settings(site, staffed, admin, alice):
    answer = site.signed_in(admin).patch(
        "/api/v1/communities/staffed", json={"name": "Renamed", "moderation": "all"}
    )
    assert answer.status_code == 200
    assert answer.json()["name"] == "Renamed" and answer.json()["moderation"] == "all"
    mod = site.signed_in(alice)
    answer = mod.patch(
        "/api/v1/communities/staffed", json={"description": "After", "visibility": "closed"}
    )
    assert answer.status_code == 200
    body = site.anonymous().get("/api/v1/communities/staffed").json()
    assert (body["name"], body["description"], body["visibility"], body["moderation"]) == (
        "Renamed",
        "After",
        "closed",
        "all",
    )

    # The settings form does the same.
    page = mod.get("/c/staffed/settings")
    assert page.status_code == 200
    answer = mod.post(
        "/c/staffed/settings",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "Form Name",
            "description": "Form text",
            "visibility": "open",
            "moderation": "none",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    body = mod.get("/api/v1/communities/staffed").json()
    assert (body["name"], body["visibility"]) == ("Form Name", "open")


def test_refused_and_bad_settings_change_nothing(site, staffed, alice, bob):
    carol = site.member("carol")
    for client, status in (
        (site.signed_in(bob), 403),
        (site.bearer(bob), 403),
        (site.signed_in(carol), 403),
        (site.anonymous(), 401),
    ):
        answer = client.patch("/api/v1/communities/staffed", json={"name": "Taken over"})
        assert answer.status_code == status
    assert site.signed_in(bob).get("/c/staffed/settings").status_code == 403

    mod = site.signed_in(alice)
    for values, field in (
        ({"visibility": "hidden"}, "visibility"),
        ({"moderation": "strict"}, "moderation"),
        ({"name": " "}, "name"),
        ({"slug": "moved"}, "slug"),
        ({"owner": "alice"}, "owner"),
        ({"name": "Fine", "visibility": "nope"}, "visibility"),
    ):
        answer = mod.patch("/api/v1/communities/staffed", json=values)
        assert answer.status_code == 422, values
        assert field in answer.json()["error"]["fields"]
    body = mod.get("/api/v1/communities/staffed").json()
    assert (body["slug"], body["name"], body["visibility"]) == ("staffed", "Staffed", "open")
