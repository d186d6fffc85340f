"""Conversations over the JSON API: start, list, read, reply, leave, report, search, limits."""

from dataclasses import replace

import pytest

from tests.conftest import csrf_from, error_code
from tests.messages.helpers import (
    counts,
    inbox,
    leave,
    read,
    report,
    start,
    write,
)


def test_start_list_read_and_reply(site, alice, bob):
    a, b = site.signed_in(alice), site.bearer(bob)
    created = start(a, "bob", "**Hello** Bob, about the catalog", subject="Cataloging")
    assert created["subject"] == "Cataloging"
    assert [p["username"] for p in created["participants"]] == ["alice", "bob"]
    assert (
        created["message"]["html"].strip() == "<p><strong>Hello</strong> Bob, about the catalog</p>"
    )
    assert created["message"]["author"]["username"] == "alice"
    cid = created["id"]

    # Bob sees it unread in his list; Alice, who wrote it, does not.
    listed = inbox(b)
    assert listed["total"] == 1 and listed["page"] == 1 and listed["per_page"] == 30
    assert listed["items"][0]["id"] == cid and listed["items"][0]["unread"] == 1
    assert listed["unread"] == 1
    assert inbox(a)["items"][0]["unread"] == 0

    # Reading marks it read.
    opened = read(b, cid)
    assert opened["conversation"]["id"] == cid
    assert [m["body"] for m in opened["messages"]] == ["**Hello** Bob, about the catalog"]
    assert opened["total"] == 1
    assert inbox(b)["items"][0]["unread"] == 0

    reply = write(b, cid, "Thanks, _Alice_")
    assert reply["html"].strip() == "<p>Thanks, <em>Alice</em></p>"
    assert inbox(a)["items"][0]["unread"] == 1
    assert inbox(b)["items"][0]["unread"] == 0  # one's own message is never unread
    bodies = [m["body"] for m in read(a, cid)["messages"]]
    assert bodies == ["**Hello** Bob, about the catalog", "Thanks, _Alice_"]


def test_default_subject_comes_from_the_first_message(site, alice, bob):
    a = site.signed_in(alice)
    created = start(a, ["bob"], "Could you send me the slides from Tuesday's meeting, please?")
    assert created["subject"].startswith("Could you send me the slides")
    assert len(created["subject"]) <= 80


def test_group_conversation_and_leaving(site, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    a, b, c = site.signed_in(alice), site.signed_in(bob), site.signed_in(carol)
    cid = start(a, ["bob", "carol"], "Plans for the meetup")["id"]
    write(c, cid, "Count me in")
    leave(c, cid)
    # Carol is gone: the conversation is no longer hers to read or write in.
    assert error_code(c.get(f"/api/v1/conversations/{cid}")) == "not_found"
    assert c.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert write(c, cid, "Back again?", status=404)["error"]["code"] == "not_found"
    assert inbox(c)["total"] == 0
    leave(c, cid, status=404)
    # The others see that she left, and write on without her.
    people = {p["username"]: p["left_at"] for p in read(a, cid)["conversation"]["participants"]}
    assert people["carol"] is not None and people["alice"] is None and people["bob"] is None
    assert "Carol Curator left the conversation." in a.get(f"/messages/{cid}").text
    write(b, cid, "Just us now")
    assert inbox(c)["total"] == 0
    # When everyone else has left, writing is refused (409) instead of talking to nobody.
    leave(b, cid)
    assert error_code(a.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Hi?"})) == (
        "conflict"
    )


def test_messages_are_paged_in_order(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "message 0")["id"]
    for i in range(1, 5):
        write(a if i % 2 else b, cid, f"message {i}")
    first = read(b, cid, page=1, per_page=2)
    assert [m["body"] for m in first["messages"]] == ["message 0", "message 1"]
    assert first["total"] == 5 and first["per_page"] == 2
    last = read(b, cid, page=3, per_page=2)
    assert [m["body"] for m in last["messages"]] == ["message 4"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"to": ["bob"]}, "invalid", "body"),
        ({"to": ["bob"], "body": "   "}, "invalid", "body"),
        ({"to": ["bob"], "body": 12}, "invalid", "body"),
        ({"to": ["bob"], "body": "x" * 65_537}, "invalid", "body"),
        ({"body": "Hi"}, "invalid", "to"),
        ({"to": [], "body": "Hi"}, "invalid", "to"),
        ({"to": [1, 2], "body": "Hi"}, "invalid", "to"),
        ({"to": {"name": "bob"}, "body": "Hi"}, "invalid", "to"),
        ({"to": ["nobody-here"], "body": "Hi"}, "invalid", "to"),
        ({"to": ["bob", "ghost"], "body": "Hi"}, "invalid", "to"),
        ({"to": ["alice"], "body": "Hi"}, "invalid", "to"),
        ({"to": [f"m{i}" for i in range(21)], "body": "Hi"}, "invalid", "to"),
        ({"to": ["bob"], "body": "Hi", "subject": "s" * 201}, "invalid", "subject"),
        ({"to": ["bob"], "body": "Hi", "subject": ["x"]}, "invalid", "subject"),
        ({"to": ["bob"], "body": "Hi", "reply_to_post": 999}, "invalid", "reply_to_post"),
        ({"to": ["bob"], "body": "Hi", "reply_to_post": "1"}, "invalid", "reply_to_post"),
        ({"to": ["bob"], "body": "Hi", "reply_to_post": True}, "invalid", "reply_to_post"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(site, alice, bob, body, code, field):
    a = site.signed_in(alice)
    before = counts(site)
    answer = a.post("/api/v1/conversations", json=body)
    assert answer.status_code == 422, answer.text
    assert error_code(answer) == code
    assert field in answer.json()["error"]["fields"]
    assert counts(site) == before


def test_bad_requests_and_strangers(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    carol = site.signed_in(site.member("carol"))
    anonymous = site.anonymous()
    cid = start(a, "bob", "Private words")["id"]
    before = counts(site)
    assert a.post("/api/v1/conversations", content=b"not json").status_code == 400
    assert (
        a.post(
            "/api/v1/conversations", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert error_code(a.post("/api/v1/conversations", json=["bob"])) == "invalid_json"
    assert error_code(anonymous.get("/api/v1/conversations")) == "not_signed_in"
    assert anonymous.get(f"/api/v1/conversations/{cid}").status_code == 401
    assert (
        anonymous.post("/api/v1/conversations", json={"to": ["bob"], "body": "x"}).status_code
        == 401
    )
    # A cookie write without the CSRF token is refused.
    del a.headers["X-CSRF-Token"]
    assert error_code(a.post("/api/v1/conversations", json={"to": ["bob"], "body": "x"})) == (
        "csrf_failed"
    )
    # A stranger learns nothing: 404 for reading, writing, leaving and reporting alike.
    for answer in (
        carol.get(f"/api/v1/conversations/{cid}"),
        carol.post(f"/api/v1/conversations/{cid}/messages", json={"body": "Me too"}),
        carol.delete(f"/api/v1/conversations/{cid}"),
        carol.post(f"/api/v1/conversations/{cid}/report", json={"reason": "x"}),
        carol.get("/api/v1/conversations/999999"),
        carol.get("/api/v1/conversations/99999999999"),
    ):
        assert answer.status_code == 404, answer.text
        assert error_code(answer) == "not_found"
    assert error_code(b.post(f"/api/v1/conversations/{cid}/messages", json={"body": ""})) == (
        "invalid"
    )
    assert error_code(b.post(f"/api/v1/conversations/{cid}/report", json={})) == "invalid"
    assert counts(site) == before


def test_recipients_who_do_not_accept_messages_get_403(site, alice, bob):
    from tests.messages.helpers import block, set_policy

    a = site.signed_in(alice)
    carol = site.member("carol")
    set_policy(site, carol, "contacts")
    before = counts(site)
    answer = a.post("/api/v1/conversations", json={"to": ["bob", "carol"], "body": "Hi both"})
    assert answer.status_code == 403
    assert error_code(answer) == "not_accepting_messages"
    assert "carol" in answer.json()["error"]["message"].lower()
    block(site, bob, alice)
    answer = a.post("/api/v1/conversations", json={"to": ["bob"], "body": "Hi"})
    assert answer.status_code == 403 and error_code(answer) == "not_accepting_messages"
    assert counts(site) == before


def test_messaging_someone_you_blocked_says_so(site, alice, bob):
    from tests.messages.helpers import block

    block(site, alice, bob)
    a = site.signed_in(alice)
    answer = a.post("/api/v1/conversations", json={"to": ["bob"], "body": "Hi"})
    assert answer.status_code == 403 and error_code(answer) == "blocking"
    message = answer.json()["error"]["message"]
    assert message.startswith("You blocked this member") and "does not accept" not in message
    form = a.get("/messages/new")
    page = a.post(
        "/messages/new",
        data={"csrf_token": csrf_from(form.text), "to": "bob", "body": "Hi there"},
    )
    assert page.status_code == 403 and "You blocked this member" in page.text
    assert "Hi there" in page.text  # the text is kept


def test_search_finds_only_the_callers_conversations(site, alice, bob):
    carol = site.member("carol")
    a, b, c = site.signed_in(alice), site.signed_in(bob), site.signed_in(carol)
    one = start(a, "bob", "About the Dewey decimal classification", subject="Shelving")["id"]
    two = start(a, "carol", "Dewey again, but for carol")["id"]
    write(b, one, "Maybe Library of Congress instead? 100%_sure")
    assert [i["id"] for i in inbox(a, q="dewey")["items"]] == [one, two]  # latest activity first
    assert [i["id"] for i in inbox(b, q="dewey")["items"]] == [one]
    assert [i["id"] for i in inbox(c, q="DEWEY")["items"]] == [two]
    assert [i["id"] for i in inbox(b, q="congress shelving")["items"]] == [one]
    assert inbox(b, q="congress carol")["total"] == 0  # every word must match
    assert inbox(c, q="congress")["total"] == 0
    assert [i["id"] for i in inbox(b, q="100%_")["items"]] == [one]  # % and _ taken literally
    assert inbox(b, q="1000_")["total"] == 0
    leave(b, one)
    assert inbox(b, q="dewey")["total"] == 0


def test_search_matches_capitals_beyond_ascii(site, alice, bob):
    a = site.signed_in(alice)
    trip = start(a, "bob", "Our trip to Österreich next spring", subject="ÉCOLE visit")["id"]
    street = start(a, "bob", "Meet on the Hauptstraße")["id"]
    for q in ("österreich", "Österreich", "ÖSTERREICH", "école", "ÉCOLE", "École"):
        assert [i["id"] for i in inbox(a, q=q)["items"]] == [trip], q
    for q in ("HAUPTSTRASSE", "hauptstraße"):
        assert [i["id"] for i in inbox(a, q=q)["items"]] == [street], q
    assert inbox(a, q="ecole")["total"] == 0  # accents still count


def test_private_messages_never_reach_the_search_index(site, alice, bob, admin):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "The zyxwvut password is in the drawer", subject="qwertzuiop plans")["id"]
    write(b, cid, "Thanks for the zyxwvut tip")
    site.drain()  # the indexer has seen every event
    for client in (a, b, site.signed_in(admin), site.anonymous()):
        for word in ("zyxwvut", "qwertzuiop"):
            found = client.get("/api/v1/search", params={"q": word})
            assert found.status_code == 200, found.text
            assert found.json()["total"] == 0, (word, found.json())
    # ...while the participants find it among their own messages.
    assert inbox(a, q="zyxwvut")["total"] == 1


def test_reporting_is_for_participants(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    cid = start(a, "bob", "Buy cheap pills")["id"]
    answer = report(b, cid, reason="Spam")
    assert answer["conversation_id"] == cid and answer["reported_at"]
    assert read(b, cid)["conversation"]["reported"] is True
    long_reason = b.post(f"/api/v1/conversations/{cid}/report", json={"reason": "x" * 501})
    assert long_reason.status_code == 422 and error_code(long_reason) == "invalid"


def test_former_participants_may_still_report(site, alice, bob, admin):
    site.member("carol")
    dave = site.member("dave")
    a, b, d = site.signed_in(alice), site.signed_in(bob), site.signed_in(dave)
    cid = start(a, ["bob", "carol"], "You will regret this", subject="Threats")["id"]
    leave(b, cid)
    read(b, cid, status=404)  # leaving still means no more reading

    answer = report(b, cid, reason="Threats, then I left")
    assert answer["conversation_id"] == cid
    moderator = site.signed_in(admin)
    listed = moderator.get("/api/v1/moderation/conversations").json()["items"]
    assert [(c["reported_by"], c["reason"]) for c in listed] == [("bob", "Threats, then I left")]

    # The form works for them too, and sends them back to their list.
    form = b.get(f"/messages/{cid}/report")
    assert form.status_code == 200 and "you left it" in form.text
    answer = b.post(
        f"/messages/{cid}/report",
        data={"csrf_token": csrf_from(form.text), "reason": "Again"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/messages"

    # Never having been in it is still 404, like a conversation that does not exist.
    report(d, cid, status=404)
    assert d.get(f"/messages/{cid}/report").status_code == 404
    report(b, cid + 1000, status=404)


@pytest.fixture
def limited(settings):
    return replace(settings, new_conversations_per_day=2)


def test_new_conversations_per_day_are_limited(tmp_path, limited):
    from starlette.testclient import TestClient

    from connect.app import create_app
    from tests.conftest import BASE_URL, Site, fast_passwords

    app = create_app(limited)
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url=BASE_URL) as client:
        site = Site(app, client)
        alice, bob = site.member("alice"), site.member("bob")
        staff = site.member("staff", role="moderator")
        a = site.signed_in(alice)
        cid = start(a, "bob", "one")["id"]
        start(a, "bob", "two")
        before = counts(site)
        answer = a.post("/api/v1/conversations", json={"to": ["bob"], "body": "three"})
        assert answer.status_code == 429
        assert error_code(answer) == "rate_limited"
        assert 0 < int(answer.headers["Retry-After"]) <= 86_400 + 1
        assert "kept" not in answer.json()["error"]["message"]  # an API client keeps its own
        assert counts(site) == before
        # Replies in existing conversations are not new conversations.
        write(a, cid, "still fine")
        # The page form keeps the text and says why.
        form = a.get("/messages/new?to=bob")
        from tests.conftest import csrf_from

        page = a.post(
            "/messages/new",
            data={"csrf_token": csrf_from(form.text), "to": "bob", "body": "kept text"},
        )
        assert page.status_code == 429 and "Retry-After" in page.headers
        assert "kept text" in page.text and "conversations today" in page.text
        # Site staff are not limited.
        s = site.signed_in(staff)
        for i in range(3):
            start(s, "bob", f"staff {i}")
        assert bob  # (bob only receives)
