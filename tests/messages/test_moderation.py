"""Site moderators read a private conversation only once a participant reported it; every
such read is in the moderation log, and closing the report makes it private again."""

from tests.conftest import csrf_from, error_code
from tests.messages.helpers import audit_rows, read, report, start, write


def test_moderators_get_404_until_a_participant_reports(site, admin, alice, bob):
    mod_member = site.member("watcher", role="moderator")
    a, b = site.signed_in(alice), site.signed_in(bob)
    mod, root = site.signed_in(mod_member), site.signed_in(admin)
    cid = start(a, "bob", "Something rude")["id"]
    for staff in (mod, root):
        assert error_code(staff.get(f"/api/v1/conversations/{cid}")) == "not_found"
        assert staff.get(f"/messages/{cid}").status_code == 404
        assert staff.get("/api/v1/moderation/conversations").json()["total"] == 0
    assert audit_rows(site) == []

    report(b, cid, reason="Rude words")
    listed = mod.get("/api/v1/moderation/conversations").json()
    assert listed["total"] == 1
    assert listed["items"][0] | {"reported_at": None} == {
        "id": cid,
        "subject": "Something rude",
        "reported_at": None,
        "reported_by": "bob",
        "reason": "Rude words",
        "url": f"/messages/{cid}",
    }
    page = mod.get("/moderation/messages")
    assert page.status_code == 200 and "Rude words" in page.text
    assert f'href="/messages/{cid}"' in page.text

    # Each read, over the API or the page, is one row in the log.
    opened = read(mod, cid)
    assert [m["body"] for m in opened["messages"]] == ["Something rude"]
    shown = mod.get(f"/messages/{cid}")
    assert shown.status_code == 200
    assert "You are reading this private conversation as a site moderator" in shown.text
    assert 'action="/messages/' not in shown.text  # no reply, leave or report forms
    reads = audit_rows(site, "conversation.read")
    assert len(reads) == 2
    assert {r.actor_name for r in reads} == {"watcher"}
    assert reads[0].target_kind == "conversation" and reads[0].target_id == cid
    assert reads[0].target_name == "bob" and reads[0].reason == "Rude words"
    log = root.get("/api/v1/moderation/log", params={"action": "conversation.read"}).json()
    assert log["total"] == 2

    # Moderators read; they do not write, leave or report in someone else's conversation.
    assert (
        mod.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": "Moderator here"}
        ).status_code
        == 404
    )
    assert mod.delete(f"/api/v1/conversations/{cid}").status_code == 404
    assert mod.get(f"/messages/{cid}/messages/1").status_code == 404
    # Participants notice no difference, and reading their own conversation is not logged.
    write(a, cid, "Sorry")
    read(a, cid)
    assert len(audit_rows(site, "conversation.read")) == 2


def test_members_and_community_moderators_never_read_reported_conversations(
    site, admin, alice, bob
):
    owner = site.signed_in(admin)
    site.community(owner, "youth")
    carol = site.member("carol")
    c = site.signed_in(carol)
    assert (
        owner.put("/api/v1/communities/youth/members/carol", json={"role": "owner"}).status_code
        == 200
    )
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "Private")["id"]
    report(b, cid)
    assert c.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert c.get(f"/messages/{cid}").status_code == 404
    assert error_code(c.get("/api/v1/moderation/conversations")) == "forbidden"
    assert c.get("/moderation/messages").status_code == 403
    assert "Reported conversations" not in c.get("/moderation").text
    assert audit_rows(site, "conversation.read") == []


def test_closing_a_report_makes_the_conversation_private_again(site, admin, alice, bob):
    a, b, root = site.signed_in(alice), site.signed_in(bob), site.signed_in(admin)
    cid = start(a, "bob", "Spam spam spam")["id"]
    assert root.post(f"/api/v1/moderation/conversations/{cid}/close", json={}).status_code == 404
    report(b, cid, reason="Spam")
    page = root.get(f"/messages/{cid}")
    closed = root.post(
        f"/moderation/messages/{cid}/close",
        data={"csrf_token": csrf_from(page.text), "reason": "Warned alice"},
        follow_redirects=False,
    )
    assert closed.status_code == 303 and closed.headers["location"] == "/moderation/messages"
    (entry,) = audit_rows(site, "conversation.close_report")
    assert entry.reason == "Warned alice" and entry.before == {"report_reason": "Spam"}
    assert root.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert root.get("/api/v1/moderation/conversations").json()["total"] == 0
    assert read(b, cid)["conversation"]["reported"] is False
    # A new report opens it again (and the API closes it too).
    report(b, cid, reason="Again")
    read(root, cid)
    answer = root.post(f"/api/v1/moderation/conversations/{cid}/close", json={"reason": "ok"})
    assert answer.status_code == 200 and answer.json() == {
        "conversation_id": cid,
        "reported": False,
    }
    assert len(audit_rows(site, "conversation.close_report")) == 2
