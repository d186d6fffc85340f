"""Flags: once per member, hidden at the threshold or by a moderator, outcomes told, bars."""

from tests.conftest import csrf_from, error_code
from tests.moderation.helpers import (
    approve,
    board,
    flag,
    notifications,
    queue,
    reject,
    reply,
    start,
)


def members(site, *names):
    return [site.member(n) for n in names]


def test_three_members_flags_hide_a_post_until_a_moderator_decides(site, admin, alice):
    ann, ben, cy, dee = members(site, "ann", "ben", "cy", "dee")
    owner, (a, *flaggers) = board(site, admin, alice, ann, ben, cy, dee)
    thread = start(owner, title="Open")
    post = reply(a, thread["id"], "Something rude")
    assert flag(flaggers[0], post["id"], "abuse", "Insulting")["hidden"] is False
    assert (
        error_code(flaggers[0].post(f"/api/v1/posts/{post['id']}/flags", json={"reason": "spam"}))
        == "conflict"
    )
    assert flag(flaggers[1], post["id"], "abuse")["hidden"] is False
    # Still readable to everyone while under two flags; in the queue already.
    assert site.anonymous().get(f"/api/v1/posts/{post['id']}").status_code == 200
    item = queue(owner, kind="flagged")["items"][0]
    assert (item["kind"], item["id"], item["status"]) == ("post", post["id"], "published")
    assert [f["by"] for f in item["flags"]] == ["ann", "ben"]
    assert item["flags"][0]["note"] == "Insulting"
    assert flag(flaggers[2], post["id"], "spam")["hidden"] is True
    for client in (site.anonymous(), flaggers[3]):
        assert client.get(f"/api/v1/posts/{post['id']}").status_code == 404
        assert "Something rude" not in client.get(f"/threads/{thread['id']}").text
    # The author and moderators see it hidden; a fourth flag is refused (already in review).
    assert a.get(f"/api/v1/posts/{post['id']}").status_code == 404  # hidden: moderators only
    assert owner.get(f"/api/v1/posts/{post['id']}").json()["status"] == "hidden"
    assert (
        error_code(flaggers[3].post(f"/api/v1/posts/{post['id']}/flags", json={"reason": "spam"}))
        == "not_found"
    )

    approve(owner, "post", post["id"])  # keep it: restored, flags dismissed
    assert site.anonymous().get(f"/api/v1/posts/{post['id']}").json()["status"] == "published"
    assert queue(owner)["items"] == []
    site.drain()
    for m in (ann, ben, cy):
        assert [n.title for n in notifications(site, m)] == [
            "A moderator reviewed your flag on “Open”"
        ]
    assert [n.title for n in notifications(site, alice)] == ["Your post “Open” was restored"]


def test_a_moderators_flag_hides_at_once_and_removal_upholds_the_flags(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(owner, title="Open")
    post = reply(a, thread["id"], "Spam spam")
    flag(b, post["id"], "spam")
    assert flag(owner, post["id"], "spam")["hidden"] is True
    reject(owner, "post", post["id"], reason="Spam")
    shown = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    assert [p["status"] for p in shown["posts"]] == ["published", "deleted"]
    site.drain()
    assert [n.title for n in notifications(site, bob)] == [
        "Thank you: a moderator acted on your flag on “Open”"
    ]
    assert [n.title for n in notifications(site, alice)] == [
        "Your post “Open” was removed by a moderator"
    ]


def test_the_flag_threshold_is_a_community_setting(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    answer = owner.patch("/api/v1/communities/youth", json={"settings": {"flag_threshold": 1}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["flag_threshold"] == 1
    bad = owner.patch("/api/v1/communities/youth", json={"settings": {"flag_threshold": 0}})
    assert bad.status_code == 422 and "flag_threshold" in bad.json()["error"]["fields"]
    thread = start(a, title="Mine")
    assert flag(b, thread["first_post_id"], "off_topic")["hidden"] is True
    # Hiding a first post hides its thread.
    assert site.anonymous().get(f"/api/v1/threads/{thread['id']}").status_code == 404
    assert thread["id"] not in [
        t["id"] for t in b.get("/api/v1/communities/youth/threads").json()["items"]
    ]
    approve(owner, "thread", thread["id"])  # the thread's first post, kept
    assert site.anonymous().get(f"/api/v1/threads/{thread['id']}").status_code == 200


def test_who_may_flag(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, slug="council", visibility="closed")
    thread = start(a, slug="council", title="Members only")
    outsider = site.signed_in(site.member("outsider"))
    anonymous = site.anonymous()
    post_id = thread["first_post_id"]
    assert (
        anonymous.post(f"/api/v1/posts/{post_id}/flags", json={"reason": "spam"}).status_code == 401
    )
    assert (
        outsider.post(f"/api/v1/posts/{post_id}/flags", json={"reason": "spam"}).status_code == 404
    )
    assert (
        error_code(a.post(f"/api/v1/posts/{post_id}/flags", json={"reason": "spam"})) == "forbidden"
    )
    assert (
        error_code(b.post(f"/api/v1/posts/{post_id}/flags", json={"reason": "rude"})) == "invalid"
    )
    other = b.post(f"/api/v1/posts/{post_id}/flags", json={"reason": "other"})
    assert other.status_code == 422 and "note" in other.json()["error"]["fields"]
    assert flag(b, post_id, "other", "Wrong place")["hidden"] is False


def test_a_member_barred_from_flagging_is_told_why(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Fine post")
    answer = owner.post(
        "/api/v1/communities/youth/sanctions",
        json={
            "username": "bob",
            "kind": "flag_bar",
            "reason": "Flags in bad faith",
            "until": "2999-01-01",
        },
    )
    assert answer.status_code == 201, answer.text
    refused = b.post(f"/api/v1/posts/{thread['first_post_id']}/flags", json={"reason": "spam"})
    assert error_code(refused) == "flag_barred"
    assert "Flags in bad faith" in refused.json()["error"]["message"]
    # The flag form says the same.
    page = b.get(f"/posts/{thread['first_post_id']}/flag")
    assert page.status_code == 403 and "Flags in bad faith" in page.text
    # A member banned from the community is told that, not "you cannot flag this".
    carol = site.member("carol")
    c = site.bearer(carol)
    assert c.post("/api/v1/communities/youth/join").status_code == 200
    banned = owner.post(
        "/api/v1/communities/youth/sanctions",
        json={"username": "carol", "kind": "ban", "reason": "Trolling", "until": "2999-01-01"},
    )
    assert banned.status_code == 201, banned.text
    refused = c.post(f"/api/v1/posts/{thread['first_post_id']}/flags", json={"reason": "spam"})
    assert error_code(refused) == "banned" and "Trolling" in refused.json()["error"]["message"]


def test_the_flag_form(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Open", body="Some _emphatic_ words")
    post_id = thread["first_post_id"]
    assert f"/posts/{post_id}/flag" in b.get(f"/threads/{thread['id']}").text
    form = b.get(f"/posts/{post_id}/flag")
    assert form.status_code == 200 and "Some emphatic words" in form.text  # as read
    token = csrf_from(form.text)
    missing = b.post(f"/posts/{post_id}/flag", data={"csrf_token": token, "reason": "other"})
    assert missing.status_code == 422 and "Say what is wrong" in missing.text
    sent = b.post(
        f"/posts/{post_id}/flag", data={"csrf_token": token, "reason": "spam", "note": "ad"}
    )
    assert sent.status_code == 200 and "the moderators will look at it" in sent.text
    assert queue(owner, kind="flagged")["items"][0]["flags"][0]["reason"] == "spam"


def test_the_flag_form_for_a_library_document(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    entry = a.post(
        "/api/v1/communities/youth/library/entries",
        files={"file": ("notes.txt", b"Plain text notes.", "text/plain")},
        data={"title": "Reading list", "description": "Books for the club"},
    ).json()
    page = f"/c/youth/library/{entry['id']}"
    assert f"/library/entries/{entry['id']}/flag" in b.get(page).text
    assert f"/library/entries/{entry['id']}/flag" not in a.get(page).text  # not one's own
    form = b.get(f"/library/entries/{entry['id']}/flag")
    assert form.status_code == 200 and "Books for the club" in form.text
    token = csrf_from(form.text)
    missing = b.post(
        f"/library/entries/{entry['id']}/flag", data={"csrf_token": token, "reason": "other"}
    )
    assert missing.status_code == 422 and 'name="reason"' in missing.text
    sent = b.post(
        f"/library/entries/{entry['id']}/flag",
        data={"csrf_token": token, "reason": "off_topic", "note": "not ours"},
    )
    assert sent.status_code == 200 and "the moderators will look at it" in sent.text
    assert queue(owner, kind="flagged")["items"][0]["flags"][0]["reason"] == "off_topic"
    # Outsiders find no such page, as for the document itself.
    anonymous = site.anonymous().get(f"/library/entries/{entry['id']}/flag", follow_redirects=False)
    assert anonymous.headers["location"].startswith("/login?next=")
    owner.patch("/api/v1/communities/youth", json={"visibility": "private"})
    stranger = site.signed_in(site.member("carol"))
    assert stranger.get(f"/library/entries/{entry['id']}/flag").status_code == 404


def test_flagging_ones_own_document_says_document(site, admin, alice):
    _, (a,) = board(site, admin, alice)
    entry = a.post(
        "/api/v1/communities/youth/library/entries",
        files={"file": ("notes.txt", b"Plain text notes.", "text/plain")},
    ).json()
    answer = a.post(f"/api/v1/library/entries/{entry['id']}/flags", json={"reason": "spam"})
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == "You cannot flag your own document."
    page = a.get(f"/library/entries/{entry['id']}/flag")
    assert "You cannot flag your own document." in page.text
    assert "your own post" not in page.text
    thread = start(a, title="Mine")
    answer = a.post(f"/api/v1/posts/{thread['first_post_id']}/flags", json={"reason": "spam"})
    assert answer.json()["error"]["message"] == "You cannot flag your own post."


def test_flagging_ones_own_post_is_forbidden(site, admin, alice):
    _, (a,) = board(site, admin, alice)
    thread = start(a, title="Mine")
    answer = a.post(f"/api/v1/posts/{thread['first_post_id']}/flags", json={"reason": "spam"})
    assert answer.status_code == 403
    assert error_code(answer) == "forbidden"
    assert answer.json()["error"]["message"] == "You cannot flag your own post."
    page = a.get(f"/posts/{thread['first_post_id']}/flag")
    assert page.status_code == 403 and "You cannot flag your own post." in page.text
