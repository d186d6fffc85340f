"""Sanctions: community bans, site suspensions, "require approval" marks; reasons and ends."""

from datetime import timedelta

from sqlalchemy import update

from connect.db import utcnow
from connect.moderation.models import Sanction
from tests.conftest import csrf_from, error_code
from tests.moderation.helpers import board, hand_over, log_rows, notifications, reply, start


def test_a_banned_member_cannot_post_or_upload_there_and_sees_why(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    site.community(owner, "elsewhere")
    assert a.post("/api/v1/communities/elsewhere/join").status_code == 200
    thread = start(b, title="Open")
    answer = owner.post(
        "/api/v1/communities/youth/bans",
        json={"username": "alice", "reason": "Repeated insults", "until": "2999-12-31"},
    )
    assert answer.status_code == 201, answer.text
    ban = answer.json()
    assert ban["kind"] == "ban" and ban["until"].startswith("2999-12-31")
    assert ban["username"] == "alice" and ban["reason"] == "Repeated insults"

    refused = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Hi"})
    assert refused.status_code == 403 and error_code(refused) == "banned"
    assert "Repeated insults" in refused.json()["error"]["message"]
    assert "2999-12-31" in refused.json()["error"]["message"]
    assert (
        error_code(a.post("/api/v1/communities/youth/threads", json={"title": "T", "body": "B"}))
        == "banned"
    )
    upload = a.post(
        "/api/v1/communities/youth/library/entries",
        files={"file": ("notes.txt", b"plain text", "text/plain")},
    )
    assert upload.status_code == 403
    liked = a.post(f"/api/v1/posts/{thread['first_post_id']}/recommend")
    assert liked.status_code == 403 and error_code(liked) == "banned"
    assert a.get(f"/api/v1/threads/{thread['id']}").json()["posts"][0]["recommend_count"] == 0
    assert (
        f'action="/posts/{thread["first_post_id"]}/recommend"'
        not in a.get(f"/threads/{thread['id']}").text
    )
    # Elsewhere she posts as before; here she still reads.
    assert start(a, slug="elsewhere", title="Fine here")["status"] == "published"
    assert a.get(f"/api/v1/threads/{thread['id']}").status_code == 200
    page = a.get("/c/youth")
    assert "You are banned from posting and uploading in this community" in page.text
    assert "Repeated insults" in page.text
    standing = a.get("/api/v1/me/sanctions").json()["items"]
    assert [(s["kind"], s["community"]) for s in standing] == [("ban", "youth")]
    assert "Repeated insults" in a.get("/standing").text
    site.drain()
    assert [n.title for n in notifications(site, alice)] == [
        "You are banned from posting in Youth until 2999-12-31 23:59 UTC"
    ]

    lifted = owner.request(
        "DELETE", "/api/v1/communities/youth/bans/alice", json={"reason": "Apologised"}
    )
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert reply(a, thread["id"], "Sorry")["status"] == "published"
    assert (
        f'action="/posts/{thread["first_post_id"]}/recommend"'
        in a.get(f"/threads/{thread['id']}").text
    )
    assert a.post(f"/api/v1/posts/{thread['first_post_id']}/recommend").status_code == 200
    assert [r.action for r in log_rows(site)][-2:] == ["ban.create", "ban.lift"]


def test_a_banned_member_cannot_rejoin_and_bans_end_on_their_date(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    assert (
        owner.post(
            "/api/v1/communities/youth/bans", json={"username": "alice", "reason": "Spam"}
        ).status_code
        == 201
    )  # permanent
    assert a.post("/api/v1/communities/youth/leave").status_code == 204
    assert error_code(a.post("/api/v1/communities/youth/join")) == "banned"

    async def expire():
        async with site.ctx.db.transaction() as session:
            await session.execute(update(Sanction).values(ends_at=utcnow() - timedelta(minutes=1)))

    site.call(expire)
    assert a.post("/api/v1/communities/youth/join").status_code == 200
    assert start(a, title="Back")["status"] == "published"


def test_who_can_be_banned(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    mod = hand_over(site, owner, "youth", site.member("mod"), role="moderator")
    cases = [
        (mod, {"username": "mod", "reason": "x"}, "forbidden"),  # oneself
        (mod, {"username": "root", "reason": "x"}, "forbidden"),  # site staff
        (b, {"username": "alice", "reason": "x"}, "forbidden"),  # not a moderator
        (mod, {"username": "alice"}, "invalid"),  # no reason
        (mod, {"username": "alice", "reason": "x", "until": "2001-01-01"}, "invalid"),  # past
        (mod, {"username": "nobody", "reason": "x"}, "not_found"),
    ]
    for client, body, code in cases:
        assert error_code(client.post("/api/v1/communities/youth/bans", json=body)) == code, body
    assert (
        owner.put("/api/v1/communities/youth/members/bob", json={"role": "moderator"}).status_code
        == 200
    )
    assert (
        error_code(
            mod.post("/api/v1/communities/youth/bans", json={"username": "bob", "reason": "x"})
        )
        == "forbidden"
    )


def test_site_suspension_allows_reading_public_content_only(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    site.community(owner, "council", visibility="closed")
    assert (
        owner.put("/api/v1/communities/council/members/alice", json={"role": "member"}).status_code
        == 200
    )
    secret = start(owner, slug="council", title="Council only")
    public = start(owner, title="Public")
    mod = site.signed_in(site.member("sitemod", role="moderator"))
    member = site.signed_in(site.member("plain"))
    assert (
        error_code(
            member.post(
                "/api/v1/members/alice/suspend", json={"reason": "x", "until": "2999-01-01"}
            )
        )
        == "forbidden"
    )
    assert (
        error_code(mod.post("/api/v1/members/alice/suspend", json={"reason": "No end"}))
        == "invalid"
    )
    answer = mod.post(
        "/api/v1/members/alice/suspend", json={"reason": "Harassment", "until": "2999-01-01"}
    )
    assert answer.status_code == 201, answer.text

    # She still signs in, reads public content, sees why; nothing else.
    again = site.signed_in(alice)
    assert again.get(f"/api/v1/threads/{public['id']}").status_code == 200
    assert again.get(f"/api/v1/threads/{secret['id']}").status_code == 404
    # Posting anywhere says why, not "join first" (she is a member).
    for refused in (
        again.post(f"/api/v1/threads/{public['id']}/posts", json={"body": "x"}),
        again.post("/api/v1/communities/youth/threads", json={"title": "t", "body": "x"}),
    ):
        assert refused.status_code == 403 and error_code(refused) == "suspended", refused.text
        assert "suspended until 2999-01-01" in refused.json()["error"]["message"]
        assert "Harassment" in refused.json()["error"]["message"]
    home = again.get("/").text
    assert "Your account is suspended until 2999-01-01" in home and "Harassment" in home
    # Only site staff lift it.
    lifted = mod.request("DELETE", "/api/v1/members/alice/suspension")
    assert lifted.status_code == 200
    assert reply(again, public["id"], "Back again")["status"] == "published"
    assert [r.action for r in log_rows(site)][-2:] == ["suspension.create", "suspension.lift"]


def test_require_approval_holds_everything_a_member_posts(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    site.community(owner, "elsewhere")
    assert a.post("/api/v1/communities/elsewhere/join").status_code == 200
    thread = start(b, title="Open")
    answer = owner.post(
        "/api/v1/communities/youth/sanctions",
        json={"username": "alice", "kind": "require_approval", "reason": "New and noisy"},
    )
    assert answer.status_code == 201, answer.text
    assert reply(a, thread["id"], "Held now")["status"] == "pending"
    assert start(a, title="Held too")["status"] == "pending"
    assert start(a, slug="elsewhere", title="Not held elsewhere")["status"] == "published"
    assert "A moderator approves your posts here" in a.get("/c/youth").text
    # Site-wide: site moderators mark a member for every community.
    mod = site.signed_in(site.member("sitemod", role="moderator"))
    assert (
        error_code(
            owner.post(
                "/api/v1/communities/youth/sanctions",
                json={"username": "alice", "kind": "suspension", "reason": "x"},
            )
        )
        == "invalid"
    )
    answer = mod.post(
        "/api/v1/members/alice/sanctions", json={"kind": "require_approval", "reason": "Spam wave"}
    )
    assert answer.status_code == 201, answer.text
    assert start(a, slug="elsewhere", title="Held everywhere")["status"] == "pending"
    site_list = mod.get("/api/v1/moderation/sanctions").json()["items"]
    lift = mod.post(
        f"/api/v1/moderation/sanctions/{site_list[0]['id']}/lift", json={"reason": "Calm"}
    )
    assert lift.status_code == 200
    assert start(a, slug="elsewhere", title="Free again")["status"] == "published"


def test_the_community_sanctions_page(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    page = owner.get("/c/youth/sanctions")
    assert page.status_code == 200 and "No sanctions are in force." in page.text
    assert a.get("/c/youth/sanctions").status_code == 403
    token = csrf_from(page.text)
    missing = owner.post(
        "/c/youth/sanctions", data={"csrf_token": token, "username": "alice", "kind": "ban"}
    )
    assert missing.status_code == 422 and "Give a reason" in missing.text
    # Someone this moderator may not sanction (here: themselves): the form comes back.
    refused = owner.post(
        "/c/youth/sanctions",
        data={"csrf_token": token, "username": admin.username, "kind": "ban", "reason": "Long"},
    )
    assert refused.status_code == 403 and 'name="reason"' in refused.text
    assert ">Long</textarea>" in refused.text or 'value="Long"' in refused.text
    done = owner.post(
        "/c/youth/sanctions",
        data={
            "csrf_token": token,
            "username": "alice",
            "kind": "ban",
            "reason": "Spam",
            "until": "",
        },
    )
    assert done.status_code == 200 and "The sanction is in force." in done.text
    assert "permanent" in done.text
    sanction_id = owner.get("/api/v1/communities/youth/sanctions").json()["items"][0]["id"]
    lifted = owner.post(
        f"/moderation/sanctions/{sanction_id}/lift",
        data={"csrf_token": token, "back": "/c/youth/sanctions"},
    )
    assert lifted.status_code == 200 and "The sanction is lifted." in lifted.text


def test_an_invitation_a_sanction_would_void_is_refused_with_the_reason(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "council", visibility="private")
    site.member("carol")
    site.member("dave")
    banned = owner.post(
        "/api/v1/communities/council/bans",
        json={"username": "carol", "reason": "Leaked minutes", "until": "2999-12-31"},
    )
    assert banned.status_code == 201, banned.text
    refused = owner.post("/api/v1/communities/council/invitations", json={"username": "carol"})
    assert refused.status_code == 409 and error_code(refused) == "conflict"
    assert "banned from this community until 2999-12-31" in refused.json()["error"]["message"]
    suspended = owner.post(
        "/api/v1/members/dave/suspend", json={"reason": "Spam", "until": "2999-12-31"}
    )
    assert suspended.status_code == 201, suspended.text
    refused = owner.post("/api/v1/communities/council/invitations", json={"username": "dave"})
    assert refused.status_code == 409 and "suspended until 2999-12-31" in refused.text
    members = owner.get("/api/v1/communities/council/members?status=invited").json()
    assert members["total"] == 0  # nothing was written
    owner.delete("/api/v1/communities/council/bans/carol")
    invited = owner.post("/api/v1/communities/council/invitations", json={"username": "carol"})
    assert invited.status_code == 201, invited.text


def test_sanction_lists_come_in_pages(site, admin, alice, bob):
    owner, _ = board(site, admin, alice, bob)
    names = ["alice", "bob", "carol"]
    site.member("carol")
    for name in names:
        for kind in ("ban", "flag_bar"):
            answer = owner.post(
                "/api/v1/communities/youth/sanctions",
                json={"username": name, "kind": kind, "reason": f"{kind} for {name}"},
            )
            assert answer.status_code == 201, answer.text
        answer = owner.post(
            f"/api/v1/members/{name}/sanctions", json={"kind": "require_approval", "reason": "x"}
        )
        assert answer.status_code == 201, answer.text

    def pages(url, per_page):
        seen, number = [], 1
        while True:
            body = owner.get(url, params={"page": number, "per_page": per_page}).json()
            assert body["page"] == number and body["per_page"] == per_page
            assert len(body["items"]) <= per_page
            seen.append(body)
            if number * per_page >= body["total"]:
                return seen
            number += 1

    community = pages("/api/v1/communities/youth/sanctions", 4)
    assert [b["total"] for b in community] == [6, 6]
    assert [len(b["items"]) for b in community] == [4, 2]
    ids = [i["id"] for b in community for i in b["items"]]
    assert len(set(ids)) == 6 and ids == sorted(ids, reverse=True)
    site_wide = pages("/api/v1/moderation/sanctions", 2)
    assert [len(b["items"]) for b in site_wide] == [2, 1]
    assert {i["username"] for b in site_wide for i in b["items"]} == set(names)
    mine = site.signed_in(alice).get("/api/v1/me/sanctions", params={"per_page": 1, "page": 2})
    body = mine.json()
    assert body["total"] == 3 and body["page"] == 2 and body["per_page"] == 1
    assert len(body["items"]) == 1
