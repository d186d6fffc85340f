"""Deleting one's own account: signed out everywhere, anonymised, what they wrote kept under
"Former member"; refused for the last administrator and a community's only owner."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from connect.accounts.models import PasswordReset, User
from connect.boards.models import Subscription
from connect.communities.models import Membership
from connect.messages.models import Participant
from connect.network.models import Block, Contact
from connect.notifications.models import Notification, OutgoingMail
from tests.conftest import BASE_URL, PASSWORD, csrf_from, error_code
from tests.live.test_live import live_socket, next_event, subscribe
from tests.members.test_avatar import image_bytes, upload


def delete_by_form(client, password: str = PASSWORD):
    page = client.get("/settings/delete")
    assert page.status_code == 200
    return client.post(
        "/settings/delete",
        data={"csrf_token": csrf_from(page.text), "password": password},
        follow_redirects=False,
    )


def sign_in(site, login: str, password: str = PASSWORD):
    return site.anonymous().post("/api/v1/auth/token", json={"login": login, "password": password})


def account(site, user_id: int) -> User:
    async def read():
        async with site.ctx.db.read() as session:
            return await session.get(User, user_id)

    return site.call(read)


def count(site, model, *conditions) -> int:
    async def read():
        async with site.ctx.db.read() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*conditions))

    return site.call(read)


@pytest.fixture
def board(site, admin, alice, bob):
    """An open community where alice started a thread and bob replied to it."""
    owner = site.signed_in(admin)
    site.community(owner, "cataloging", name="Cataloging")
    a, b = site.signed_in(alice), site.signed_in(bob)
    for client in (a, b):
        assert client.post("/api/v1/communities/cataloging/join").status_code == 200
    thread = a.post(
        "/api/v1/communities/cataloging/threads",
        json={"title": "Authority records for conferences", "body": "Which RDA rules apply?"},
    ).json()
    b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Bob answers."})
    return thread


def test_a_deleted_account_is_gone_but_its_thread_stays_under_former_member(
    site, alice, bob, board
):
    browser = site.signed_in(alice)
    api_client = site.bearer(alice)
    visitor = site.anonymous()
    # What the caches keep before: the anonymous thread page, the directory's filter.
    assert "Alice Archivist" in visitor.get(f"/threads/{board['id']}").text
    assert visitor.get("/api/v1/members?q=alice").json()["total"] == 1
    answer = delete_by_form(browser)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert 'connect_session=""' in answer.headers["set-cookie"]  # signed out in this browser
    home = browser.get("/")
    assert "Your account has been deleted." in home.text
    assert browser.get("/api/v1/me").status_code == 401
    assert api_client.get("/api/v1/me").status_code == 401

    # Nobody signs in with the old credentials, nor as the placeholder: the usual answer.
    wrong = sign_in(site, "bob", "not bob's password").json()
    for login in ("alice", "alice@example.org", f"deleted-{alice.id}"):
        answer = sign_in(site, login)
        assert answer.status_code == 401 and answer.json() == wrong

    for path in ("/members/alice", f"/members/deleted-{alice.id}", "/api/v1/members/alice"):
        assert visitor.get(path).status_code == 404
    assert visitor.get(f"/api/v1/members/deleted-{alice.id}").status_code == 404
    listed = visitor.get("/api/v1/members?per_page=100").json()
    assert sorted(m["username"] for m in listed["items"]) == ["bob", "root"]
    for q in ("alice", "archivist", "former"):
        assert visitor.get(f"/api/v1/members?q={q}").json()["total"] == 0
    assert visitor.get("/api/v1/communities/cataloging").json()["member_count"] == 2

    # The thread stays, by "Former member", with no link to a profile and no old name.
    page = visitor.get(f"/threads/{board['id']}")
    assert page.status_code == 200
    assert "Former member" in page.text and "Which RDA rules apply?" in page.text
    assert "Alice Archivist" not in page.text and "/members/deleted-" not in page.text
    assert "/members/bob" in page.text  # other authors render as before
    thread = visitor.get(f"/api/v1/threads/{board['id']}").json()
    assert thread["thread"]["author"]["display_name"] == "Former member"
    assert thread["posts"][0]["author"]["avatar_url"] is None

    # Search: no member document, and the thread is found without the old username.
    site.drain()
    found = visitor.get("/api/v1/search?q=alice").json()
    assert found["total"] == 0, found
    hits = visitor.get("/api/v1/search?q=authority").json()["items"]
    assert [(h["type"], h["author"]) for h in hits] == [("thread", None)]
    assert visitor.get("/api/v1/search?q=rda&author=alice").json()["total"] == 0
    results = visitor.get("/search?q=authority")
    assert "by Former member" in results.text and "alice" not in results.text.lower()

    # The address is free again; the username is not: old mentions of @alice and moderation
    # log entries naming her must never lead to someone else.
    taken = visitor.post(
        "/api/v1/auth/register",
        json={"username": "alice", "email": "alice@example.org", "password": PASSWORD},
    )
    assert taken.status_code == 409 and taken.json()["error"]["fields"] == {
        "username": "That username is taken."
    }
    again = visitor.post(
        "/api/v1/auth/register",
        json={"username": "alice2", "email": "alice@example.org", "password": PASSWORD},
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] != alice.id
    assert "alice" not in str(account(site, alice.id).former_username_key)


def test_live_clients_catching_up_get_the_former_members_events_without_her_name(
    site, alice, bob, board
):
    b = site.signed_in(bob)
    a = site.signed_in(alice)
    assert a.post(f"/api/v1/threads/{board['id']}/posts", json={"body": "The conference rule."})
    assert a.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    site.hub_caught_up()
    with live_socket(site.anonymous()) as ws:
        for channel in ("community:cataloging", f"thread:{board['id']}"):
            assert subscribe(ws, channel)["op"] == "subscribed"
        ws.send_json({"op": "resume", "last_event_id": 1})
        b.post(f"/api/v1/threads/{board['id']}/posts", json={"body": "Bob again."})
        replayed = [next_event(ws)]
        while "Bob again." not in str(replayed[-1]):
            replayed.append(next_event(ws))
    text = str(replayed)
    assert "The conference rule." in text and "Authority records for conferences" in text
    assert "alice" not in text.lower() and "Archivist" not in text
    assert "Former member" in text


def test_the_account_row_is_anonymised(site, alice):
    assert (
        site.signed_in(alice)
        .patch(
            "/api/v1/members/alice",
            json={"bio": "Metadata librarian", "location": "Oslo", "organization": "NLN"},
        )
        .status_code
        == 200
    )
    assert delete_by_form(site.signed_in(alice)).status_code == 303
    user = account(site, alice.id)
    assert user.username == f"deleted-{alice.id}"
    assert user.email == f"deleted-{alice.id}@invalid"
    assert user.display_name == "Former member"
    assert user.deleted_at is not None and user.site_role == "member"
    assert not site.call(site.ctx.passwords.verify, user.password_hash, PASSWORD)
    profile = user.profile
    assert (profile.bio, profile.location, profile.organization) == ("", "", "")
    assert profile.listed is False and profile.public_fields == []


def test_the_api_deletes_with_the_password_and_answers_a_wrong_one_as_email_changes_do(site, alice):
    client = site.bearer(alice)
    wrong = client.request("DELETE", "/api/v1/me", json={"password": "not my password"})
    assert wrong.status_code == 403
    reference = client.post(
        "/api/v1/me/email", json={"email": "new@example.org", "password": "not my password"}
    )
    assert wrong.json() == reference.json()
    assert error_code(wrong) == "forbidden"
    assert client.get("/api/v1/me").json()["username"] == "alice"  # nothing changed

    assert client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    assert sign_in(site, "alice").status_code == 401


def test_a_cookie_session_deletes_through_the_api_with_its_csrf_token(site, alice):
    client = site.signed_in(alice)
    answer = client.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert answer.status_code == 204
    assert 'connect_session=""' in answer.headers["set-cookie"]
    assert client.get("/api/v1/me").status_code == 401


def test_a_wrong_password_changes_nothing(site, alice, board):
    client = site.signed_in(alice)
    answer = delete_by_form(client, "not my password")
    assert answer.status_code == 403
    assert "Not right." in answer.text and 'name="password"' in answer.text
    assert client.get("/api/v1/me").json()["username"] == "alice"
    assert site.anonymous().get("/members/alice").status_code == 200
    assert sign_in(site, "alice").status_code == 200


def test_the_last_administrator_is_refused_until_there_is_another(site, admin, alice):
    root = site.signed_in(admin)
    page = root.get("/settings/delete")
    assert "You are the site&#39;s only administrator" in page.text
    assert 'name="password"' not in page.text  # the form waits until it can work
    answer = root.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert answer.status_code == 409 and error_code(answer) == "last_administrator"
    assert "Site staff" in answer.json()["error"]["message"]
    assert account(site, admin.id).deleted_at is None
    assert root.get("/api/v1/me").status_code == 200

    assert root.put("/api/v1/members/alice/site-role", json={"role": "admin"}).status_code == 200
    assert root.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    staff = site.signed_in(alice).get("/moderation/staff")
    assert "Former member" not in staff.text and "deleted-" not in staff.text


def test_a_communitys_only_owner_is_refused_and_told_which_communities(site, admin, alice, bob):
    root = site.signed_in(admin)
    for slug, name in (("cataloging", "Cataloging"), ("youth", "Youth Services")):
        site.community(root, slug, name=name)
        owner = root.put(f"/api/v1/communities/{slug}/members/alice", json={"role": "owner"})
        assert owner.status_code == 200
        assert root.request("DELETE", f"/api/v1/communities/{slug}/members/root").status_code == 204
    client = site.signed_in(alice)
    answer = client.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert answer.status_code == 409 and error_code(answer) == "sole_owner"
    assert "only owner of Cataloging, Youth Services" in answer.json()["error"]["message"]
    page = client.get("/settings/delete")
    assert "Hand ownership over first" in page.text and "Youth Services" in page.text
    assert account(site, alice.id).deleted_at is None

    # Once someone else owns both as well, the account can go; the communities keep an owner.
    for slug in ("cataloging", "youth"):
        assert (
            client.put(
                f"/api/v1/communities/{slug}/members/bob", json={"role": "owner"}
            ).status_code
            == 200
        )
    assert client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    members = site.signed_in(bob).get("/api/v1/communities/youth/members").json()["items"]
    assert [(m["username"], m["role"]) for m in members] == [("bob", "owner")]


def test_everything_personal_goes_in_the_same_transaction(site, admin, alice, bob, board):
    root, a, b = site.signed_in(admin), site.signed_in(alice), site.signed_in(bob)
    site.member("carol")
    # alice is invited to a private community, and as a moderator invited carol to hers.
    site.community(root, "council", visibility="private")
    assert root.post("/api/v1/communities/council/invitations", json={"username": "alice"})
    root.put("/api/v1/communities/cataloging/members/alice", json={"role": "moderator"})
    invited = a.post("/api/v1/communities/cataloging/invitations", json={"username": "carol"})
    assert invited.status_code in (200, 201), invited.text
    assert count(site, Membership, Membership.invited_by_id == alice.id) == 1
    # A contact, a block, a followed board, a notification, mail still queued.
    assert a.post("/api/v1/members/bob/contact").status_code == 201
    assert b.put("/api/v1/me/contacts/alice", json={"status": "accepted"}).status_code == 200
    assert a.put("/api/v1/me/blocks/carol").status_code == 200
    followed = a.put("/api/v1/communities/cataloging/subscription", json={"mode": "digest"})
    assert followed.status_code == 200, followed.text
    conversation = a.post("/api/v1/conversations", json={"to": ["bob"], "body": "Hi Bob"}).json()
    b.post(f"/api/v1/threads/{board['id']}/posts", json={"body": "@alice, look"})
    a.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    site.drain()
    assert count(site, Notification, Notification.user_id == alice.id) > 0
    assert count(site, OutgoingMail, OutgoingMail.user_id == alice.id) > 0

    assert a.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    me = alice.id
    assert count(site, Membership, Membership.user_id == me) == 0
    assert (
        count(site, Membership, Membership.invited_by_id == me, Membership.status == "invited") == 0
    )
    assert count(site, Contact, (Contact.requester_id == me) | (Contact.addressee_id == me)) == 0
    assert count(site, Block, (Block.blocker_id == me) | (Block.blocked_id == me)) == 0
    assert count(site, Subscription, Subscription.user_id == me) == 0
    assert count(site, Notification, Notification.user_id == me) == 0
    assert (
        count(site, OutgoingMail, OutgoingMail.user_id == me, OutgoingMail.sent_at.is_(None)) == 0
    )
    assert (
        count(site, PasswordReset, PasswordReset.user_id == me, PasswordReset.used_at.is_(None))
        == 0
    )
    assert count(site, Participant, Participant.user_id == me, Participant.left_at.is_(None)) == 0
    # The conversation stays for bob, the message under "Former member".
    page = b.get(f"/messages/{conversation['id']}")
    assert (
        "Hi Bob" in page.text
        and "Former member" in page.text
        and "/members/deleted-" not in page.text
    )
    assert (
        error_code(
            b.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"body": "?"})
        )
        == "conflict"
    )
    # bob's notifications about alice's doings no longer name her.
    titles = [n["title"] for n in b.get("/api/v1/notifications").json()["items"]]
    assert titles and not [t for t in titles if "Alice" in t], titles
    # Nobody can write to or connect with the account any more.
    assert (
        b.post("/api/v1/conversations", json={"to": [f"deleted-{me}"], "body": "?"}).status_code
        == 422
    )
    assert b.post(f"/api/v1/members/deleted-{me}/contact").status_code == 404


def test_mail_not_yet_sent_to_others_names_former_member(site, alice, bob, board):
    def unsent_to_bob():
        async def read():
            async with site.ctx.db.read() as session:
                rows = await session.execute(
                    select(OutgoingMail.subject, OutgoingMail.body).where(
                        OutgoingMail.user_id == bob.id, OutgoingMail.sent_at.is_(None)
                    )
                )
                return rows.all()

        return site.call(read)

    a = site.signed_in(alice)
    a.post(f"/api/v1/threads/{board['id']}/posts", json={"body": "@bob, see the rule."})
    site.drain()
    before = unsent_to_bob()
    assert before and all(subject.startswith("Alice Archivist ") for subject, _ in before)

    assert a.request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code == 204
    after = unsent_to_bob()
    assert len(after) == len(before)
    assert all(subject.startswith("Former member ") for subject, _ in after)
    assert not any("Alice Archivist" in subject + body for subject, body in after)
    assert all("@bob, see the rule." in body for _, body in after)  # the rest as it was


def test_the_avatar_file_is_deleted_unless_someone_else_uses_it(site, alice, bob):
    photo = image_bytes("PNG", color=(10, 120, 200))
    assert upload(site.signed_in(alice), "alice", photo).status_code == 200
    sha = account(site, alice.id).profile.avatar_sha256
    path = site.ctx.storage.path(sha)
    long_ago = time.time() - 3600
    os.utime(path, (long_ago, long_ago))  # stored an hour ago, not an upload still committing
    assert delete_by_form(site.signed_in(alice)).status_code == 303
    assert not path.exists()

    # The same picture as two members' avatars: it stays for the one still here.
    for member in (bob, site.member("carol")):
        assert upload(site.signed_in(member), member.username, photo).status_code == 200
    os.utime(path, (long_ago, long_ago))
    assert (
        site.signed_in(bob).request("DELETE", "/api/v1/me", json={"password": PASSWORD}).status_code
        == 204
    )
    assert path.exists()
    assert site.anonymous().get("/members/carol/avatar").status_code == 200


def test_the_members_live_socket_is_closed(site, alice):
    client = site.signed_in(alice)
    session = client.cookies.get("connect_session")
    headers = {"cookie": f"connect_session={session}", "origin": BASE_URL}
    with client.websocket_connect("/api/v1/live", headers=headers) as ws:
        ws.send_json({"op": "subscribe", "channel": "me"})
        assert ws.receive_json() == {"op": "subscribed", "channel": "me"}
        assert delete_by_form(client).status_code == 303
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1008


def test_nobody_signs_up_as_a_deleted_accounts_placeholder(site):
    answer = site.anonymous().post(
        "/api/v1/auth/register",
        json={"username": "deleted-1", "email": "someone@example.org", "password": PASSWORD},
    )
    assert answer.status_code == 422
    assert "reserved" in answer.json()["error"]["fields"]["username"]
    answer = site.anonymous().post(
        "/api/v1/auth/register",
        json={"username": "someone", "email": "deleted-1@invalid", "password": PASSWORD},
    )
    assert answer.status_code == 422 and "email" in answer.json()["error"]["fields"]


def test_nobody_goes_by_former_member(site, alice):
    answer = site.anonymous().post(
        "/api/v1/auth/register",
        json={
            "username": "someone",
            "email": "someone@example.org",
            "password": PASSWORD,
            "display_name": "Former Member",
        },
    )
    assert answer.status_code == 422
    assert "deleted accounts" in answer.json()["error"]["fields"]["display_name"]
    a = site.signed_in(alice)
    answer = a.patch("/api/v1/members/alice", json={"display_name": " former member "})
    assert answer.status_code == 422
    assert "deleted accounts" in answer.json()["error"]["fields"]["display_name"]
    assert a.get("/api/v1/me").json()["display_name"] == "Alice Archivist"


def test_mentions_of_the_old_name_reach_nobody(site, alice, bob, board):
    assert delete_by_form(site.signed_in(alice)).status_code == 303
    site.member("carol")
    b = site.signed_in(bob)
    b.post(
        f"/api/v1/threads/{board['id']}/posts",
        json={"body": f"Asking @alice and @deleted-{alice.id} again"},
    )
    site.drain()
    assert count(site, Notification, Notification.kind == "mention") == 0
