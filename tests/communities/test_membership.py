"""Joining, asking, inviting, leaving, roles and removal; the pages' buttons do the same."""

import re

import pytest
from sqlalchemy import select

from connect.communities.models import Community, Membership
from connect.db import utcnow
from tests.conftest import csrf_from, error_code


def info(client, slug: str) -> dict:
    answer = client.get(f"/api/v1/communities/{slug}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def roles(client, slug: str, status: str = "active") -> dict[str, str]:
    answer = client.get(f"/api/v1/communities/{slug}/members?status={status}")
    assert answer.status_code == 200, answer.text
    return {m["username"]: m["role"] for m in answer.json()["items"]}


def set_role(client, slug: str, username: str, role: str):
    return client.put(f"/api/v1/communities/{slug}/members/{username}", json={"role": role})


@pytest.fixture
def root(site, admin):
    return site.bearer(admin)


def test_join_open_community(site, root, alice):
    site.community(root, "open-one")
    me = site.signed_in(alice)
    assert info(me, "open-one")["membership"] is None
    answer = me.post("/api/v1/communities/open-one/join")
    assert answer.status_code == 200
    assert answer.json() == {"status": "member"}
    body = info(me, "open-one")
    assert body["membership"] == "member"
    assert body["member_count"] == 2
    # Joining twice changes nothing.
    assert me.post("/api/v1/communities/open-one/join").json() == {"status": "member"}
    assert info(me, "open-one")["member_count"] == 2
    assert roles(me, "open-one") == {"root": "owner", "alice": "member"}

    # Leaving: 204, count back down, and leaving again is harmless.
    assert me.post("/api/v1/communities/open-one/leave").status_code == 204
    body = info(me, "open-one")
    assert body["membership"] is None and body["member_count"] == 1
    assert me.post("/api/v1/communities/open-one/leave").status_code == 204
    assert site.anonymous().post("/api/v1/communities/open-one/join").status_code == 401


def test_closed_community_request_approve_and_decline(site, root, alice, bob):
    site.community(root, "closed-one", visibility="closed")
    a, b = site.signed_in(alice), site.bearer(bob)
    assert a.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    assert b.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    assert a.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    body = info(a, "closed-one")
    assert body["membership"] == "pending" and body["member_count"] == 1
    # Asking is not belonging: the member list stays closed, requests are for moderators.
    assert a.get("/api/v1/communities/closed-one/members").status_code == 403
    assert a.get("/api/v1/communities/closed-one/members?status=pending").status_code == 403
    assert roles(root, "closed-one", "pending") == {"alice": "member", "bob": "member"}

    answer = set_role(root, "closed-one", "alice", "member")
    assert answer.status_code == 200
    assert (answer.json()["username"], answer.json()["role"], answer.json()["status"]) == (
        "alice",
        "member",
        "active",
    )
    body = info(a, "closed-one")
    assert body["membership"] == "member" and body["member_count"] == 2
    assert roles(a, "closed-one") == {"root": "owner", "alice": "member"}

    assert root.delete("/api/v1/communities/closed-one/members/bob").status_code == 204
    assert info(b, "closed-one")["membership"] is None
    assert roles(root, "closed-one", "pending") == {}
    assert info(root, "closed-one")["member_count"] == 2
    # Declined members may ask again.
    assert b.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    # Withdrawing one's own request.
    assert b.post("/api/v1/communities/closed-one/leave").status_code == 204
    assert roles(root, "closed-one", "pending") == {}


def test_opening_a_closed_community_lets_in_those_who_asked(site, root, alice, bob):
    site.community(root, "closed-one", visibility="closed")
    a, b = site.signed_in(alice), site.bearer(bob)
    assert a.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    assert b.post("/api/v1/communities/closed-one/join").json() == {"status": "pending"}
    opened = root.patch("/api/v1/communities/closed-one", json={"visibility": "open"})
    assert opened.status_code == 200, opened.text
    assert opened.json()["member_count"] == 3
    assert info(a, "closed-one")["membership"] == "member"
    assert a.post("/api/v1/communities/closed-one/join").json() == {"status": "member"}
    assert roles(root, "closed-one", "pending") == {}
    posted = b.post(
        "/api/v1/communities/closed-one/threads", json={"title": "Hello", "body": "At last"}
    )
    assert posted.status_code == 201, posted.text


def test_joining_an_open_community_turns_a_leftover_request_into_membership(site, root, alice):
    site.community(root, "open-one")
    me = site.signed_in(alice)

    async def leftover_request():  # as rows written before opening let requests in
        async with site.ctx.db.transaction() as session:
            community = (
                await session.execute(select(Community).where(Community.slug == "open-one"))
            ).scalar_one()
            session.add(
                Membership(
                    community_id=community.id,
                    user_id=alice.id,
                    status="pending",
                    created_at=utcnow(),
                )
            )

    site.call(leftover_request)
    assert info(me, "open-one")["membership"] == "pending"
    assert me.post("/api/v1/communities/open-one/join").json() == {"status": "member"}
    body = info(me, "open-one")
    assert body["membership"] == "member" and body["member_count"] == 2
    posted = me.post("/api/v1/communities/open-one/threads", json={"title": "Hi", "body": "Hi"})
    assert posted.status_code == 201, posted.text


def test_private_community_needs_an_invitation(site, root, alice, bob):
    site.community(root, "hidden", visibility="private")
    me = site.signed_in(alice)
    answer = me.post("/api/v1/communities/hidden/join")
    assert answer.status_code == 404
    assert error_code(answer) == "not_found"
    assert root.get("/api/v1/communities/hidden/members?status=pending").json()["total"] == 0

    # Members cannot invite; moderators can.
    assert set_role(root, "hidden", "bob", "member").status_code == 200
    answer = site.bearer(bob).post(
        "/api/v1/communities/hidden/invitations", json={"username": "alice"}
    )
    assert answer.status_code == 403
    answer = root.post("/api/v1/communities/hidden/invitations", json={"username": "alice"})
    assert answer.status_code == 201
    assert answer.json()["status"] == "invited"
    assert (
        root.post("/api/v1/communities/hidden/invitations", json={"username": "nobody"}).status_code
        == 404
    )
    assert (
        root.post("/api/v1/communities/hidden/invitations", json={"username": "bob"}).status_code
        == 409
    )

    body = info(me, "hidden")
    assert body["membership"] == "invited" and body["member_count"] == 2
    # Invited is not yet a member: the member list is still out of reach.
    assert me.get("/api/v1/communities/hidden/members").status_code == 404
    assert me.post("/api/v1/communities/hidden/join").json() == {"status": "member"}
    body = info(me, "hidden")
    assert body["membership"] == "member" and body["member_count"] == 3
    assert set(roles(me, "hidden")) == {"root", "alice", "bob"}

    # Leaving a private community makes it vanish again.
    assert me.post("/api/v1/communities/hidden/leave").status_code == 204
    assert me.get("/api/v1/communities/hidden").status_code == 404
    assert me.post("/api/v1/communities/hidden/join").status_code == 404


def test_declining_an_invitation(site, root, alice):
    site.community(root, "hidden", visibility="private")
    root.post("/api/v1/communities/hidden/invitations", json={"username": "alice"})
    me = site.signed_in(alice)
    assert me.post("/api/v1/communities/hidden/leave").status_code == 204
    assert me.get("/api/v1/communities/hidden").status_code == 404


def test_invitation_to_someone_who_asked_is_an_approval(site, root, alice):
    site.community(root, "closed-one", visibility="closed")
    me = site.signed_in(alice)
    me.post("/api/v1/communities/closed-one/join")
    answer = root.post("/api/v1/communities/closed-one/invitations", json={"username": "alice"})
    assert answer.status_code == 201
    assert answer.json()["status"] == "active"
    assert info(me, "closed-one")["membership"] == "member"


def test_the_only_owner_cannot_leave_or_step_down(site, root, alice):
    site.community(root, "owned")
    answer = root.post("/api/v1/communities/owned/leave")
    assert answer.status_code == 409
    assert error_code(answer) == "conflict"
    assert set_role(root, "owned", "root", "member").status_code == 409
    assert root.delete("/api/v1/communities/owned/members/root").status_code == 409
    assert info(root, "owned")["membership"] == "owner"

    # With a second owner, the first may go.
    assert set_role(root, "owned", "alice", "owner").status_code == 200
    assert root.post("/api/v1/communities/owned/leave").status_code == 204
    assert roles(root, "owned") == {"alice": "owner"}
    assert site.signed_in(alice).post("/api/v1/communities/owned/leave").status_code == 409


def test_the_only_owner_clicking_leave_is_told_why_on_the_community_page(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "owned", name="Owned")
    page = owner.get("/c/owned/about")
    answer = owner.post(
        "/c/owned/leave", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/c/owned"
    shown = owner.get("/c/owned")
    assert shown.status_code == 200
    assert "only owner: make someone else owner first." in shown.text
    assert info(owner, "owned")["membership"] == "owner"


def test_what_moderators_and_owners_may_do_with_roles(site, root, alice, bob):
    site.community(root, "staffed", visibility="closed")
    for username in ("carol", "dave"):
        site.member(username)
    erin = site.member("erin")
    assert set_role(root, "staffed", "alice", "moderator").status_code == 200
    assert set_role(root, "staffed", "carol", "moderator").status_code == 200
    mod = site.signed_in(alice)

    # Moderators approve requests and add plain members directly...
    site.bearer(bob).post("/api/v1/communities/staffed/join")
    assert set_role(mod, "staffed", "bob", "member").status_code == 200
    assert set_role(mod, "staffed", "dave", "member").status_code == 200
    # ...but give no higher role, and cannot demote other moderators.
    for username, role in (
        ("bob", "owner"),
        ("bob", "moderator"),
        ("erin", "moderator"),
        ("erin", "owner"),
        ("alice", "owner"),
        ("carol", "member"),
        ("root", "member"),
    ):
        answer = set_role(mod, "staffed", username, role)
        assert answer.status_code == 403, (username, role)
        assert error_code(answer) == "forbidden"
    # ...and cannot remove moderators or the owner, only plain members.
    assert mod.delete("/api/v1/communities/staffed/members/carol").status_code == 403
    assert mod.delete("/api/v1/communities/staffed/members/root").status_code == 403
    assert mod.delete("/api/v1/communities/staffed/members/dave").status_code == 204
    assert roles(root, "staffed") == {
        "root": "owner",
        "alice": "moderator",
        "carol": "moderator",
        "bob": "member",
    }

    # Plain members can do none of it.
    member = site.signed_in(bob)
    assert set_role(member, "staffed", "dave", "member").status_code == 403
    assert member.delete("/api/v1/communities/staffed/members/alice").status_code == 403

    # The owner can do all of it.
    assert set_role(root, "staffed", "bob", "owner").status_code == 200
    assert set_role(root, "staffed", "carol", "member").status_code == 200
    assert root.delete("/api/v1/communities/staffed/members/alice").status_code == 204
    assert roles(root, "staffed") == {"root": "owner", "bob": "owner", "carol": "member"}
    assert info(site.signed_in(erin), "staffed")["membership"] is None

    # Bad input.
    assert set_role(root, "staffed", "carol", "king").status_code == 422
    assert set_role(root, "staffed", "nobody", "member").status_code == 404
    assert root.delete("/api/v1/communities/staffed/members/erin").status_code == 404


def test_removal_closes_the_community_again(site, root, alice):
    site.community(root, "closed-one", visibility="closed")
    site.community(root, "hidden", visibility="private")
    me = site.signed_in(alice)
    for slug in ("closed-one", "hidden"):
        assert set_role(root, slug, "alice", "member").status_code == 200
        assert "alice" in roles(me, slug)
        assert me.get(f"/c/{slug}/members").status_code == 200
        assert root.delete(f"/api/v1/communities/{slug}/members/alice").status_code == 204
    assert me.get("/api/v1/communities/closed-one/members").status_code == 403
    page = me.get("/c/closed-one/members")
    assert "open to its members only" in page.text and "/members/root" not in page.text
    assert me.get("/api/v1/communities/hidden/members").status_code == 404
    assert me.get("/api/v1/communities/hidden").status_code == 404
    assert me.get("/c/hidden/members").status_code == 404


def test_join_button_on_the_community_page(site, root, alice, bob):
    site.community(root, "open-one", name="Open One")
    site.community(root, "closed-one", name="Closed One", visibility="closed")
    me = site.signed_in(alice)

    page = me.get("/c/open-one/about")
    assert 'action="/c/open-one/join"' in page.text
    answer = me.post(
        "/c/open-one/join", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/c/open-one"
    assert info(me, "open-one")["membership"] == "member"
    page = me.get("/c/open-one/about")
    assert "Welcome to Open One!" in page.text
    assert 'action="/c/open-one/join"' not in page.text
    assert 'action="/c/open-one/leave"' in page.text

    page = me.get("/c/closed-one/about")
    assert "Ask to join" in page.text
    me.post("/c/closed-one/join", data={"csrf_token": csrf_from(page.text)})
    assert info(me, "closed-one")["membership"] == "pending"
    page = me.get("/c/closed-one/about")
    assert "waiting for a moderator" in page.text
    # Cancelling the request says so; it does not claim a membership that never was.
    shown = me.post("/c/closed-one/leave", data={"csrf_token": csrf_from(page.text)}).text
    assert info(me, "closed-one")["membership"] is None
    assert "Your request to join Closed One is withdrawn." in shown
    assert "You have left" not in shown

    # A "back" address elsewhere is not followed.
    token = csrf_from(me.get("/c/open-one/about").text)
    for back in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = me.post(
            "/c/open-one/join", data={"csrf_token": token, "back": back}, follow_redirects=False
        )
        assert answer.headers["location"] == "/c/open-one"

    # Without a valid token nothing happens.
    other = site.signed_in(bob)
    assert other.post("/c/open-one/join", data={"csrf_token": "nope"}).status_code == 403
    assert info(other, "open-one")["membership"] is None
    # Anonymous visitors are sent to sign in.
    visitor = site.anonymous()
    assert 'action="/c/open-one/join"' not in visitor.get("/c/open-one/about").text
    answer = visitor.post("/c/open-one/join", data={}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_removing_a_member_twice_says_they_are_no_longer_there(site, admin, alice):
    owner = site.signed_in(admin)
    site.community(owner, "club")
    assert site.signed_in(alice).post("/api/v1/communities/club/join").status_code == 200
    token = csrf_from(owner.get("/c/club/members").text)
    first = owner.post("/c/club/members/alice/remove", data={"csrf_token": token})
    assert first.status_code == 200 and "Done." in first.text
    again = owner.post("/c/club/members/alice/remove", data={"csrf_token": token})
    assert again.status_code == 200, again.status_code
    assert again.url.path == "/c/club/members"
    assert "alice is no longer in this community." in again.text
    # Others than moderators learn nothing new from it.
    bob = site.signed_in(site.member("bob"))
    assert bob.post("/api/v1/communities/club/join").status_code == 200
    token = csrf_from(bob.get("/c/club/members").text)
    refused = bob.post("/c/club/members/alice/remove", data={"csrf_token": token})
    assert refused.status_code == 404


def test_members_page_approve_and_decline_buttons(site, root, admin, alice, bob):
    site.community(root, "closed-one", visibility="closed")
    site.bearer(alice).post("/api/v1/communities/closed-one/join")
    site.bearer(bob).post("/api/v1/communities/closed-one/join")
    # Site moderators handle requests too, though the community's settings are not theirs.
    site_mod = site.signed_in(site.member("smod", role="moderator"))
    page = site_mod.get("/c/closed-one/members")
    assert "Requests to join (2)" in page.text
    assert 'href="/c/closed-one/settings"' not in page.text
    assert site_mod.get("/c/closed-one/settings").status_code == 403

    owner = site.signed_in(admin)
    page = owner.get("/c/closed-one/members")
    assert page.status_code == 200
    assert "Requests to join (2)" in page.text
    assert 'href="/c/closed-one/settings"' in page.text
    assert re.search(r'action="/c/closed-one/members/alice/role"', page.text)
    token = csrf_from(page.text)
    answer = owner.post(
        "/c/closed-one/members/alice/role",
        data={"csrf_token": token, "role": "member"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    # Back to the members page, where the next request waits.
    assert answer.headers["location"] == "/c/closed-one/members"
    assert "Alice Archivist is now member." in owner.get("/c/closed-one/members").text
    assert (
        owner.post(
            "/c/closed-one/members/bob/remove", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert roles(root, "closed-one") == {"root": "owner", "alice": "member"}
    assert roles(root, "closed-one", "pending") == {}
    page = owner.get("/c/closed-one/members")
    assert "Requests to join" not in page.text

    # A plain member sees no management buttons, and posting them anyway is refused.
    member = site.signed_in(alice)
    page = member.get("/c/closed-one/members")
    assert "/members/root/role" not in page.text and "Invite a member" not in page.text
    answer = member.post(
        "/c/closed-one/members/root/remove", data={"csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 200  # back on the members page, with the reason shown
    assert "You may not remove that member." in answer.text
    assert roles(root, "closed-one") == {"root": "owner", "alice": "member"}

    # Inviting nobody, or someone who is not a member of the site, says so on the same page.
    page = owner.get("/c/closed-one/members")
    token = csrf_from(page.text)
    for typed, said in (("nosuchuser", "No member has the username “nosuchuser”."), ("", "Enter")):
        answer = owner.post(
            "/c/closed-one/invitations", data={"csrf_token": token, "username": typed}
        )
        assert answer.status_code == 200 and "Invite a member" in answer.text, typed
        assert said in answer.text, typed
    assert roles(root, "closed-one", "invited") == {}


def test_member_lists_put_owners_and_moderators_first_across_pages(site, root, alice, bob):
    site.community(root, "big")
    for member in (alice, bob, site.member("carol"), site.member("dave")):
        assert site.signed_in(member).post("/api/v1/communities/big/join").status_code == 200
    assert set_role(root, "big", "dave", "moderator").status_code == 200

    def listed(number):
        answer = root.get(f"/api/v1/communities/big/members?per_page=2&page={number}")
        assert answer.status_code == 200, answer.text
        return [(m["username"], m["role"]) for m in answer.json()["items"]]

    assert listed(1) == [("root", "owner"), ("dave", "moderator")]
    assert listed(2) == [("alice", "member"), ("bob", "member")]
    assert listed(3) == [("carol", "member")]
    page = site.signed_in(alice).get("/c/big/members?per_page=2").text
    names = re.findall(r'<li class="member">\s*<a href="/members/([a-z0-9_-]+)">', page)
    assert names == ["root", "dave"]
