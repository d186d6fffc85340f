"""Fixtures for message tests: a site whose mail goes to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
from dataclasses import replace
from email import policy

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from connect.app import create_app
from connect.notifications import service as notifications
from tests.conftest import BASE_URL, Site, fast_passwords
from tests.notifications.test_notifier import Inbox, free_port


class Mailbox:
    """What the SMTP server received, by recipient, as parsed messages."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(envelope.content, policy=policy.default)
            for envelope in self.inbox.messages
            if address in envelope.rcpt_tos
        ]

    def text_to(self, address: str) -> str:
        """Every header and body sent to the address, as one text to search."""
        return "\n".join(str(m) + "\n" + m.get_content() for m in self.to(address))


def deliver(site: Site, *, digests: bool = False) -> None:
    """Run the notifier, then send what it queued (and the digests, forced, if asked)."""
    site.drain()
    if digests:
        site.call(notifications.send_digests, site.ctx, force=True)
    site.call(notifications.send_due_mail, site.ctx)


@pytest.fixture
def mail_site(settings):
    """A site sending its mail by SMTP to a server in this process; (site, mailbox)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app(replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"))
    app.state.ctx.passwords = fast_passwords()
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            yield Site(app, client), Mailbox(inbox)
    finally:
        controller.stop()
