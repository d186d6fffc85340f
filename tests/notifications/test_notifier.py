"""Notifications from the event log: who hears about what, mail, digests, unsubscribe."""

import email
import socket
from dataclasses import replace
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from starlette.testclient import TestClient

from connect.app import create_app
from connect.notifications import reading, service
from connect.notifications.models import Notification, OutgoingMail
from tests.boards.helpers import open_board as board
from tests.boards.helpers import reply, start
from tests.conftest import BASE_URL, Site, csrf_from, fast_passwords


def age_notifications(site, by: timedelta) -> None:
    """Make every notification older by `by`."""

    async def age():
        async with site.ctx.db.transaction() as session:
            for n in (await session.execute(select(Notification))).scalars():
                n.created_at -= by

    site.call(age)


def titles(client) -> list[str]:
    return [n["title"] for n in client.get("/api/v1/notifications").json()["items"]]


def queued_mail(site) -> list[OutgoingMail]:
    async def load():
        async with site.ctx.db.read() as session:
            return list((await session.execute(select(OutgoingMail))).scalars())

    return site.call(load)


def test_reply_mention_and_follow_notifications(site, admin, alice, bob):
    carol = site.member("carol")
    _, (a, b, c) = board(site, admin, alice, bob, carol)
    thread = start(a, title="Subject headings", body="Q?")
    b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={
            "body": "Answer for you, and @carol should see this",
            "reply_to": thread["first_post_id"],
        },
    )
    site.drain()
    assert titles(a) == ["Bob Bibliographer replied to you in “Subject headings”"]
    assert titles(c) == ["Bob Bibliographer mentioned you in “Subject headings”"]
    assert titles(b) == []  # nobody hears about their own post
    assert a.get("/api/v1/notifications").json()["unread"] == 1
    # Running the notifier again changes nothing (it is idempotent).
    site.drain()
    assert len(titles(a)) == 1


def test_quoted_mentions_call_no_one_and_edits_call_new_mentions_once(site, admin, alice, bob):
    carol, dave = site.member("carol"), site.member("dave")
    _, (a, b, c, d) = board(site, admin, alice, bob, carol, dave)
    thread = start(a, title="Loans", body="What does @carol think?")
    site.drain()
    assert titles(c) == ["Alice Archivist mentioned you in “Loans”"]
    # Bob quotes Alice's post: carol is not called again.
    answer = reply(b, thread, "> What does @carol think?\n\nI think so too.")
    site.drain()
    assert len(titles(c)) == 1
    # Bob edits his reply to mention dave: dave hears of it, once.
    edited = b.patch(
        f"/api/v1/posts/{answer['id']}",
        json={"body": "> What does @carol think?\n\nI think so too; @dave knows."},
    )
    assert edited.status_code == 200, edited.text
    site.drain()
    assert titles(d) == ["Bob Bibliographer mentioned you in “Loans”"]
    assert d.get("/api/v1/notifications").json()["items"][0]["url"] == f"/posts/{answer['id']}"
    # Further edits that keep, drop or bring back that mention call no one again.
    for body in ("@dave knows, surely.", "Nobody knows.", "Ask @dave then."):
        assert b.patch(f"/api/v1/posts/{answer['id']}", json={"body": body}).status_code == 200
    site.drain()
    assert len(titles(d)) == 1 and len(titles(c)) == 1
    assert titles(b) == []


def test_a_block_either_way_silences_replies_and_mentions(site, admin, alice, bob):
    carol = site.member("carol")
    _, (a, b, c) = board(site, admin, alice, bob, carol)
    thread = start(a, title="Loans", body="Q?")
    a.put("/api/v1/me/blocks/bob")
    c.put("/api/v1/me/blocks/bob")  # carol blocks bob; bob cannot reach her either
    b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "For you, and @carol", "reply_to": thread["first_post_id"]},
    )
    start(b, title="Mentioning @alice and @carol", body="Hello @alice and @carol")
    site.drain()
    assert titles(a) == [] and titles(c) == []
    assert not [m for m in queued_mail(site) if m.to in (alice.email, carol.email)]
    # The other way round: bob blocked by nobody now, but he blocks alice.
    a.delete("/api/v1/me/blocks/bob")
    b.put("/api/v1/me/blocks/alice")
    b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Again for @alice"})
    site.drain()
    assert titles(a) == []
    b.delete("/api/v1/me/blocks/alice")
    b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Unblocked: hi @alice"})
    site.drain()
    assert titles(a) == ["Bob Bibliographer mentioned you in “Loans”"]


def test_a_removed_reply_leaves_the_notification_with_its_place_not_its_text(
    site, admin, alice, bob
):
    _, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Budget", body="Q?")
    regret = b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "Something I regret saying", "reply_to": thread["first_post_id"]},
    ).json()
    site.drain()
    (notice,) = a.get("/api/v1/notifications").json()["items"]
    assert notice["excerpt"] == "Something I regret saying"
    assert b.delete(f"/api/v1/posts/{regret['id']}").status_code == 204
    site.drain()
    (notice,) = a.get("/api/v1/notifications").json()["items"]
    assert notice["excerpt"] == ""
    assert "Something I regret" not in a.get("/notifications").text
    # Its address leads to where it was: the thread, at the "removed" placeholder.
    where = a.get(notice["url"], follow_redirects=False)
    assert where.status_code == 303, where.text
    assert where.headers["location"] == f"/threads/{thread['id']}#post-{regret['id']}"
    assert "This post was removed." in a.get(where.headers["location"]).text
    # Not for anyone who cannot read the thread.
    owner = site.bearer(admin)
    site.community(owner, "council", visibility="private")
    private = owner.post(
        "/api/v1/communities/council/threads", json={"title": "Closed doors", "body": "Q?"}
    ).json()
    gone = owner.post(f"/api/v1/threads/{private['id']}/posts", json={"body": "x"}).json()
    assert owner.delete(f"/api/v1/posts/{gone['id']}").status_code == 204
    assert b.get(f"/posts/{gone['id']}", follow_redirects=False).status_code == 404
    assert site.anonymous().get(f"/posts/{gone['id']}", follow_redirects=False).status_code == 404


def test_mentions_never_reach_members_who_cannot_read(site, admin, alice, bob):
    owner, (a,) = board(site, admin, alice, slug="council", visibility="closed")
    site.signed_in(bob)  # bob exists but is not a member
    a.post(
        "/api/v1/communities/council/threads",
        json={"title": "Budget", "body": "Secret plans, hi @bob"},
    )
    site.drain()
    assert titles(site.signed_in(bob)) == []


def test_held_posts_notify_nobody(site, admin, alice, bob):
    _, (a, b) = board(site, admin, alice, bob, slug="youth", moderation="all")
    a.post("/api/v1/communities/youth/threads", json={"title": "Held", "body": "hi @bob"})
    site.drain()
    assert titles(b) == []


def test_header_count_and_notifications_page(site, admin, alice, bob):
    _, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Weeding", body="Q")
    reply(b, thread, "A")
    site.drain()
    page = a.get("/")
    assert '<span class="count">1</span>' in page.text
    listing = a.get("/notifications")
    assert "Bob Bibliographer replied in “Weeding”" in listing.text
    read = a.post("/api/v1/notifications/read", json={"all": True}).json()
    assert read == {"marked": 1, "unread": 0}
    assert '<span class="count">' not in a.get("/").text


def test_real_time_mail_has_one_click_unsubscribe(site, admin, alice, bob, settings):
    _, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Authority files", body="Q")
    reply(b, thread, "An answer")
    site.drain()
    assert site.call(service.send_due_mail, site.ctx) == 1
    files = sorted((settings.data_dir / "mail").glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "alice@example.org"
    assert "Authority files" in message["Subject"]
    assert "An answer" in message.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip().strip("<>")
    path = link.removeprefix(BASE_URL)
    # One click, no sign-in: the follow ends.
    anonymous = site.anonymous()
    assert anonymous.get(path).status_code == 200
    assert anonymous.post(path).status_code == 200
    assert a.get(f"/threads/{thread['id']}").text.count('value="none" selected') == 1
    # Posting there again does not follow the thread again, and its replies stay quiet.
    reply(a, thread, "Thanks, all")
    reply(b, thread, "You are welcome")
    site.drain()
    assert a.get(f"/threads/{thread['id']}").text.count('value="none" selected') == 1
    site.call(service.send_due_mail, site.ctx)  # Bob, who follows, hears of Alice's post
    recipients = [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"]
        for f in sorted((settings.data_dir / "mail").glob("*.eml"))
    ]
    assert recipients == ["alice@example.org", "bob@example.org"]
    # A forged link is refused.
    assert anonymous.post(path[:-3] + "abc").status_code == 404


def test_in_app_mode_sends_no_mail_and_digest_collects(site, admin, alice, bob):
    _, (a, b) = board(site, admin, alice, bob)
    assert (
        a.patch("/api/v1/me/preferences", json={"subscription_mode": "digest"}).status_code == 200
    )
    assert b.patch("/api/v1/me/preferences", json={"email_replies": "loud"}).status_code == 422
    thread = start(a, title="Digest me", body="Q")
    reply(b, thread, "first answer")
    reply(b, thread, "second answer")
    site.drain()
    assert queued_mail(site) == []
    # The first digest waits a day, like every later one.
    assert site.call(service.send_digests, site.ctx) == 0
    age_notifications(site, timedelta(hours=25))
    assert site.call(service.send_digests, site.ctx) == 1
    mails = queued_mail(site)
    assert len(mails) == 1 and "2 updates" in mails[0].subject
    assert "first answer" in mails[0].body and "second answer" in mails[0].body
    assert "the discussions you follow" in mails[0].body
    # Not again within a day of the last one, however old what waits is.
    reply(b, thread, "third answer")
    site.drain()
    age_notifications(site, timedelta(hours=25))
    assert site.call(service.send_digests, site.ctx) == 0


def test_first_digest_waits_a_day_and_names_what_it_holds(site, alice, bob):
    from tests.messages.helpers import start as start_conversation

    a = site.signed_in(alice)
    assert a.patch("/api/v1/me/preferences", json={"email_messages": "digest"}).status_code == 200
    start_conversation(site.signed_in(bob), "alice", "Lunch on Friday?")
    site.drain()
    assert site.call(service.send_digests, site.ctx) == 0
    age_notifications(site, timedelta(hours=23))
    assert site.call(service.send_digests, site.ctx) == 0
    age_notifications(site, timedelta(hours=2))
    assert site.call(service.send_digests, site.ctx) == 1
    [mail] = queued_mail(site)
    assert "Lunch on Friday?" in mail.body
    assert "private messages you were sent" in mail.body
    assert "discussions" not in mail.body


def test_the_digests_own_link_stops_digests(site, admin, alice, bob, settings):
    """A digest gathers replies, messages and follows in digest mode: its one-click link
    stops all of them, says so first, and what waited for the next digest stays in the app."""
    _, (a, b) = board(site, admin, alice, bob)
    preferences = {"subscription_mode": "digest", "email_replies": "digest"}
    assert a.patch("/api/v1/me/preferences", json=preferences).status_code == 200
    thread = start(a, title="Digest me", body="Q")
    reply(b, thread, "first answer")
    site.drain()
    age_notifications(site, timedelta(days=1))
    assert site.call(service.send_digests, site.ctx) == 1
    assert site.call(service.send_due_mail, site.ctx) == 1
    (sent,) = sorted((settings.data_dir / "mail").glob("*.eml"))
    raw = sent.read_bytes().decode()
    # The header as mail clients need it: the address itself, not encoded words.
    (header,) = [line for line in raw.splitlines() if line.startswith("List-Unsubscribe:")]
    assert header.startswith(f"List-Unsubscribe: <{BASE_URL}/unsubscribe/") and "?=" not in header
    path = header.split("<", 1)[1].rstrip(">").removeprefix(BASE_URL)
    anonymous = site.anonymous()
    assert "We will send no more digest emails" in anonymous.get(path).text
    reply(b, thread, "second answer")
    site.drain()
    assert "You are unsubscribed" in anonymous.post(path).text
    reply(b, thread, "third answer")
    site.drain()
    assert site.call(service.send_digests, site.ctx, force=True) == 0
    assert a.get("/api/v1/me/preferences").json()["email_replies"] == "in_app"
    assert a.get("/api/v1/notifications").json()["unread"] == 3  # still in the app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_site(settings):
    port = free_port()
    app = create_app(replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"))
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url=BASE_URL) as client:
        yield Site(app, client), port


def test_failed_smtp_send_is_kept_and_retried(smtp_site):
    site, port = smtp_site
    admin = site.member("root", role="admin")
    alice, bob = site.member("alice"), site.member("bob")
    _, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Retry me", body="Q")
    reply(b, thread, "delivered later")
    site.drain()
    # No SMTP server yet: the send fails, the message stays queued.
    assert site.call(service.send_due_mail, site.ctx) == 0
    (mail,) = queued_mail(site)
    assert mail.sent_at is None and mail.attempts == 1 and mail.last_error

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:

        async def make_due():
            async with site.ctx.db.transaction() as session:
                row = await session.get(OutgoingMail, mail.id)
                row.next_attempt_at = row.created_at

        site.call(make_due)
        assert site.call(service.send_due_mail, site.ctx) == 1
    finally:
        controller.stop()
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["alice@example.org"]
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    assert "delivered later" in received.get_content()
    assert queued_mail(site)[0].sent_at is not None


def test_a_line_break_in_a_subject_cannot_stop_or_split_the_mail(site):
    message = site.ctx.mailer.compose(
        "alice@example.org", "Mal\r\nBcc: victim@example.org", "Hello"
    )
    assert message["Subject"] == "Mal Bcc: victim@example.org"
    assert message["Bcc"] is None


def test_a_notice_about_a_thread_out_of_reach_keeps_its_place_not_its_words(
    site, admin, alice, bob
):
    owner, (a,) = board(site, admin, alice)
    b = site.signed_in(bob)  # not a member: he reads the open community as anyone may
    b.patch("/api/v1/me/preferences", json={"email_replies": "digest"})
    thread = start(a, title="Salary survey", body="Hello @bob, the numbers are in")
    site.drain()
    (notice,) = b.get("/api/v1/notifications").json()["items"]
    assert "Salary survey" in notice["title"] and notice["url"] == f"/threads/{thread['id']}"
    owner.patch("/api/v1/communities/cataloging", json={"visibility": "private"})
    (notice,) = b.get("/api/v1/notifications").json()["items"]
    assert notice["title"] == reading.WITHHELD
    assert notice["excerpt"] == "" and notice["url"] == "/notifications"
    page = b.get("/notifications").text
    assert "Salary survey" not in page and "the numbers are in" not in page
    opened = b.post(
        f"/notifications/{notice['id']}/open",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert opened.headers["location"].startswith("/notifications")
    # Nor does the digest carry it.
    site.call(service.send_digests, site.ctx, force=True)
    assert not [m for m in queued_mail(site) if "Salary survey" in m.body]
    # Readable again, it is whole again: nothing was lost.
    owner.patch("/api/v1/communities/cataloging", json={"visibility": "open"})
    (notice,) = b.get("/api/v1/notifications").json()["items"]
    assert "Salary survey" in notice["title"] and "the numbers are in" in notice["excerpt"]
