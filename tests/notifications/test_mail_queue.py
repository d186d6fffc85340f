"""The outgoing mail queue against a real SMTP server (aiosmtpd) that refuses some mail: a
permanent refusal fails a message at once, a deferral is retried until the give-up time."""

import email
import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from connect.app import create_app
from connect.db import utcnow
from connect.notifications import service
from connect.notifications.mail import queue_mail
from connect.notifications.models import OutgoingMail
from tests.conftest import BASE_URL, Site, fast_passwords
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
