"""The outgoing mail queue against a real SMTP server (aiosmtpd) that refuses some mail: a
permanent refusal fails a message at once, a deferral is retried until the give-up time,
and administrators see the queue and send a failed message again."""

import email
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from connect.accounts.models import User
from connect.app import create_app
from connect.db import utcnow
from connect.notifications import service
from connect.notifications.mail import queue_mail
from connect.notifications.models import OutgoingMail
from tests.conftest import BASE_URL, Site, csrf_from, error_code, fast_passwords
from tests.notifications.test_notifier import free_port, queued_mail

BODY = "The minutes of the meeting, with a secret: walrus."


class MailServer:
    """An SMTP server whose answers a test sets: `refuse[address]` is the answer to RCPT TO
    for that address, `refuse_data[address]` the answer to its DATA; others are accepted."""

    def __init__(self) -> None:
        self.refuse: dict[str, str] = {}
        self.refuse_data: dict[str, str] = {}
        self.asked: list[str] = []  # every RCPT TO, refused or not
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.asked.append(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address in self.refuse_data:
                return self.refuse_data[address]
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@contextmanager
def smtp_site(settings, server: MailServer, **changes):
    """A site sending by SMTP to `server`, run in this process."""
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app(replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", **changes))
    app.state.ctx.passwords = fast_passwords()
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            yield Site(app, client)
    finally:
        controller.stop()


@pytest.fixture
def mail_site(settings):
    """(site, server)"""
    server = MailServer()
    with smtp_site(settings, server) as site:
        yield site, server


def queue(site, to: str, subject: str = "Minutes of the board meeting") -> int:
    async def add():
        async with site.ctx.db.transaction() as session:
            mail = queue_mail(session, to=to, subject=subject, body=BODY)
            await session.flush()
            return mail.id

    return site.call(add)


def send(site) -> int:
    return site.call(service.send_due_mail, site.ctx)


def the_mail(site, mail_id: int) -> OutgoingMail:
    (mail,) = [m for m in queued_mail(site) if m.id == mail_id]
    return mail


def change(site, mail_id: int, **values) -> None:
    async def write():
        async with site.ctx.db.transaction() as session:
            row = await session.get(OutgoingMail, mail_id)
            for name, value in values.items():
                setattr(row, name, value)

    site.call(write)


def make_due(site, mail_id: int) -> None:
    change(site, mail_id, next_attempt_at=utcnow() - timedelta(seconds=1))


def test_a_refused_mailbox_fails_at_once_and_is_never_tried_again(mail_site, caplog):
    site, server = mail_site
    server.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: mailbox unknown"
    server.refuse_data["spam-trap@example.org"] = "554 5.7.1 Message rejected as spam"
    gone, trap = queue(site, "gone@example.org"), queue(site, "spam-trap@example.org")
    with caplog.at_level(logging.WARNING, logger="connect.mail"):
        assert send(site) == 0
    for mail_id, code in ((gone, "550 5.1.1"), (trap, "554 5.7.1")):
        mail = the_mail(site, mail_id)
        assert mail.failed_at is not None and mail.sent_at is None and mail.attempts == 1
        assert mail.last_error.startswith(code) and "walrus" not in mail.last_error
        logged = [r.getMessage() for r in caplog.records if f"id={mail_id} " in r.getMessage()]
        assert len(logged) == 1 and logged[0].startswith("mail failed") and code in logged[0]
    # Due again or not, a failed message is never picked up again.
    server.refuse.clear()
    server.refuse_data.clear()
    make_due(site, gone)
    make_due(site, trap)
    asked = len(server.asked)
    assert send(site) == 0
    assert len(server.asked) == asked and server.messages == []


def test_a_deferred_message_is_retried_then_given_up_after_the_set_time(mail_site, caplog):
    site, server = mail_site
    server.refuse["busy@example.org"] = "451 4.3.0 Mailbox busy, try again later"
    mail_id = queue(site, "busy@example.org")
    assert send(site) == 0
    mail = the_mail(site, mail_id)
    assert mail.failed_at is None and mail.attempts == 1
    assert mail.last_error == "451 4.3.0 Mailbox busy, try again later"
    assert utcnow() + timedelta(seconds=20) < mail.next_attempt_at < utcnow() + timedelta(minutes=1)
    # Retried, with backoff, while the give-up time (72 hours by default) is ahead...
    queued_at = utcnow() - timedelta(hours=71, minutes=59)
    change(site, mail_id, created_at=queued_at, attempts=12)
    make_due(site, mail_id)
    assert send(site) == 0
    mail = the_mail(site, mail_id)
    assert mail.failed_at is None and mail.attempts == 13
    # ...the last try at the give-up time, not one backoff step (up to 6 hours) beyond it.
    assert mail.next_attempt_at <= queued_at + timedelta(hours=72)
    # Past it, the next deferral fails the message, saying why.
    change(site, mail_id, created_at=utcnow() - timedelta(hours=72, seconds=1))
    make_due(site, mail_id)
    with caplog.at_level(logging.WARNING, logger="connect.mail"):
        assert send(site) == 0
    mail = the_mail(site, mail_id)
    assert mail.failed_at is not None and mail.attempts == 14
    assert mail.last_error == "Gave up after 72 hours: 451 4.3.0 Mailbox busy, try again later"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail failed")]
    server.refuse.clear()
    make_due(site, mail_id)
    assert send(site) == 0 and server.messages == []


def test_the_give_up_time_is_a_setting(settings):
    server = MailServer()
    server.refuse["busy@example.org"] = "421 4.7.0 Try again later"
    with smtp_site(settings, server, mail_give_up_after=2) as site:
        mail_id = queue(site, "busy@example.org")
        change(site, mail_id, created_at=utcnow() - timedelta(hours=2, seconds=1))
        assert send(site) == 0
        mail = the_mail(site, mail_id)
        assert mail.failed_at is not None
        assert mail.last_error.startswith("Gave up after 2 hours: 421 4.7.0")


def test_an_administrator_sees_the_queue_and_sends_a_failed_message_again(mail_site):
    site, server = mail_site
    admin = site.member("root", role="admin")
    server.refuse["alice@example.org"] = "550 5.1.1 <alice@example.org>: mailbox unknown"
    failed = queue(site, "alice@example.org", subject="Your contact request")
    assert send(site) == 0
    waiting = queue(site, "bob@example.org", subject="Weekly digest")
    change(site, waiting, created_at=utcnow() - timedelta(hours=3, minutes=5))
    root = site.signed_in(admin)
    page = root.get("/moderation/mail")
    assert page.status_code == 200
    assert 'href="/moderation/mail" aria-current="page"' in page.text
    assert '<dd id="mail-waiting">1 message</dd>' in page.text
    assert "3 hours ago" in page.text
    assert '<dd id="mail-failed">1 message</dd>' in page.text
    assert "alice@example.org" in page.text and "Your contact request" in page.text
    assert "550 5.1.1 &lt;alice@example.org&gt;: mailbox unknown" in page.text
    assert "walrus" not in page.text
    api = root.get("/api/v1/moderation/mail").json()
    assert api["waiting"] == 1 and api["failed_last_7_days"] == 1 and api["total"] == 1
    (item,) = api["items"]
    assert item["id"] == failed and item["to"] == "alice@example.org"
    assert item["last_error"].startswith("550 5.1.1") and "body" not in item
    # The mailbox exists again: the administrator presses Retry.
    server.refuse.clear()
    done = root.post(f"/moderation/mail/{failed}/retry", data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "is queued again" in done.text
    assert '<dd id="mail-waiting">2 messages</dd>' in done.text
    assert "No message has failed." in done.text
    assert send(site) == 2
    (received,) = [m for m in server.messages if m["To"] == "alice@example.org"]
    assert received["Subject"] == "Your contact request" and "walrus" in received.get_content()
    assert the_mail(site, failed).sent_at is not None
    # In the moderation log; and a message that has not failed is not sent again.
    (row,) = root.get("/api/v1/moderation/log?action=mail.retry").json()["items"]
    assert row["actor"] == "root" and row["target"] == {
        "kind": "mail",
        "id": failed,
        "username": None,
    }
    again = root.post(f"/moderation/mail/{failed}/retry", data={"csrf_token": csrf_from(page.text)})
    assert "This message has not failed: it was sent." in again.text
    conflict = root.post(f"/api/v1/moderation/mail/{failed}/retry")
    assert conflict.status_code == 409 and error_code(conflict) == "conflict"
    assert root.post("/api/v1/moderation/mail/999999/retry").status_code == 404


def test_notices_and_mail_to_a_changed_address_are_not_sent_again(mail_site):
    site, server = mail_site
    admin = site.member("root", role="admin")
    alice = site.member("alice")
    server.refuse["alice@example.org"] = "550 5.1.1 <alice@example.org>: mailbox unknown"

    async def add_notice():
        async with site.ctx.db.transaction() as session:
            user = await session.get(User, alice.id)
            mail = service.queue_notification_mail(
                session, site.ctx, user, subject="Bob replied", body=BODY, scope="all"
            )
            await session.flush()
            return mail.id

    notice = site.call(add_notice)
    account_mail = queue(site, "alice@example.org", subject="Confirm your address")
    change(site, account_mail, user_id=alice.id)
    assert send(site) == 0
    server.refuse.clear()
    root = site.signed_in(admin)

    # A notice may speak of a discussion she can no longer read: no Retry for it.
    page = root.get("/moderation/mail")
    assert page.text.count("A notice: not sent again") == 1
    assert f'action="/moderation/mail/{notice}/retry"' not in page.text
    items = {m["id"]: m for m in root.get("/api/v1/moderation/mail").json()["items"]}
    assert items[notice]["notice"] is True and items[account_mail]["notice"] is False
    refused = root.post(f"/api/v1/moderation/mail/{notice}/retry")
    assert refused.status_code == 409 and "not sent again" in refused.json()["error"]["message"]

    # She changed her address meanwhile: the old one gets nothing more.
    async def new_address():
        async with site.ctx.db.transaction() as session:
            (await session.get(User, alice.id)).email = "alice@new.example.org"

    site.call(new_address)
    refused = root.post(f"/api/v1/moderation/mail/{account_mail}/retry")
    assert refused.status_code == 409 and "address has changed" in refused.text
    assert send(site) == 0 and server.messages == []
    assert the_mail(site, account_mail).failed_at is not None


def test_the_retry_form_needs_its_csrf_token(mail_site):
    site, server = mail_site
    admin = site.member("root", role="admin")
    server.refuse["alice@example.org"] = "550 5.1.1 mailbox unknown"
    failed = queue(site, "alice@example.org")
    send(site)
    root = site.signed_in(admin)
    refused = root.post(f"/moderation/mail/{failed}/retry", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert the_mail(site, failed).failed_at is not None


def test_only_administrators_see_and_retry_the_mail_queue(mail_site):
    site, server = mail_site
    admin = site.member("root", role="admin")
    moderator = site.member("mod", role="moderator")
    member = site.member("alice")
    server.refuse["carol@example.org"] = "550 5.1.1 mailbox unknown"
    failed = queue(site, "carol@example.org")
    send(site)
    anonymous = site.anonymous()
    away = anonymous.get("/moderation/mail", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login")
    assert anonymous.get("/api/v1/moderation/mail").status_code == 401
    assert "/moderation/mail" not in site.signed_in(moderator).get("/moderation").text
    for who in (moderator, member):
        client = site.signed_in(who)
        assert client.get("/moderation/mail").status_code == 403
        listed = client.get("/api/v1/moderation/mail")
        assert listed.status_code == 403 and error_code(listed) == "forbidden"
        retried = client.post(f"/api/v1/moderation/mail/{failed}/retry")
        assert retried.status_code == 403
        page = client.get("/settings/notifications")
        form = client.post(
            f"/moderation/mail/{failed}/retry", data={"csrf_token": csrf_from(page.text)}
        )
        assert form.status_code == 403
    assert the_mail(site, failed).failed_at is not None
    assert "/moderation/mail" in site.signed_in(admin).get("/moderation").text
