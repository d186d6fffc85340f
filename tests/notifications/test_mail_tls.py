"""Mail to servers that offer STARTTLS: `smtp://` upgrades the connection whenever the
server offers it; the certificate is checked before a password goes to it (a submission
server on port 587, as docs/deploy.md shows), not for a relay taking mail without one."""

from __future__ import annotations

import asyncio
import email
import ssl
import subprocess
from dataclasses import replace
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connect.notifications.mail import Mailer
from tests.notifications.test_notifier import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.secure: list[bool] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.secure.append(session.ssl is not None)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate):
    """An SMTP server that takes no mail (and no password) before STARTTLS: (inbox, port)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def send(settings, url: str) -> None:
    mailer = Mailer(replace(settings, smtp_url=url))
    asyncio.run(mailer.send("ann@example.org", "Minutes", "The minutes."))


def test_a_password_goes_only_to_a_server_whose_certificate_checks_out(
    settings, tls_server, certificate, monkeypatch
):
    inbox, port = tls_server
    url = f"smtp://mailer:s3cret@127.0.0.1:{port}"
    # Its certificate is nobody's we trust: neither the password nor the mail goes.
    with pytest.raises(Exception, match="(?i)certificate"):
        send(settings, url)
    assert inbox.logins == [] and inbox.messages == []

    # Trusted (as a real server's is by the system's authorities): upgraded, signed in, sent.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    send(settings, url)
    assert inbox.logins == ["mailer"]
    assert [m["Subject"] for m in inbox.messages] == ["Minutes"] and inbox.secure == [True]


def test_a_relay_taking_mail_without_a_password_gets_it_encrypted(settings, tls_server):
    inbox, port = tls_server
    send(settings, f"smtp://127.0.0.1:{port}")  # a self-signed certificate, as relays have
    assert [m["Subject"] for m in inbox.messages] == ["Minutes"] and inbox.secure == [True]
