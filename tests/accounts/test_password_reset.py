"""Password reset by email: the .eml outbox, a real SMTP server, one-time links."""

from __future__ import annotations

import dataclasses
import email
import re
import socket
import threading
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from starlette.testclient import TestClient

from connect.accounts.models import PasswordReset
from connect.app import create_app
from connect.db import utcnow
from tests.conftest import BASE_URL, PASSWORD, Site, csrf_from, error_code, fast_passwords

NEW_PASSWORD = "a brand new and unusual passphrase"
LINK_RE = re.compile(re.escape(BASE_URL) + r"/password/reset/([A-Za-z0-9_-]+)")


def outbox(settings) -> list:
    """The messages written under <data dir>/mail/, oldest first, parsed."""
    files = sorted(settings.path("mail").glob("*.eml"))
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def reset_path(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = LINK_RE.search(body)
    assert match, body
    return f"/password/reset/{match.group(1)}"


def sign_in_status(site, password: str) -> int:
    answer = site.anonymous().post(
        "/api/v1/auth/token", json={"login": "alice", "password": password}
    )
    return answer.status_code


def ask_by_form(client, address: str):
    page = client.get("/password/forgot")
    return client.post(
        "/password/forgot", data={"csrf_token": csrf_from(page.text), "email": address}
    )


def test_forgot_form_mails_a_link_that_resets_the_password(site, settings, alice):
    session = site.signed_in(alice)
    assert session.get("/api/v1/me").status_code == 200
    visitor = site.anonymous()

    answer = ask_by_form(visitor, "Alice@Example.org")
    assert answer.status_code == 200
    assert "we have sent it a link" in answer.text

    [message] = outbox(settings)
    assert message["To"] == "alice@example.org"
    assert "password" in message["Subject"].lower()
    path = reset_path(message)

    form = visitor.get(path)
    assert form.status_code == 200
    answer = visitor.post(
        path,
        data={"csrf_token": csrf_from(form.text), "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"

    assert sign_in_status(site, PASSWORD) == 401
    assert sign_in_status(site, NEW_PASSWORD) == 200
    # Every session that existed is signed out.
    assert session.get("/api/v1/me").status_code == 401
    # The link works once.
    assert visitor.get(path).status_code == 404
    answer = visitor.post(path, data={"csrf_token": csrf_from(form.text), "password": "x" * 20})
    assert answer.status_code == 404
    assert sign_in_status(site, NEW_PASSWORD) == 200


def test_forgot_api_mails_a_link_and_the_api_resets(site, settings, alice):
    client = site.anonymous()
    answer = client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    assert answer.status_code == 202
    [message] = outbox(settings)
    token = reset_path(message).rsplit("/", 1)[1]

    answer = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    assert sign_in_status(site, NEW_PASSWORD) == 200
    assert sign_in_status(site, PASSWORD) == 401

    again = client.post("/api/v1/auth/password/reset", json={"token": token, "password": PASSWORD})
    assert again.status_code == 404
    assert error_code(again) == "not_found"


def test_unknown_address_gets_the_same_answer_and_no_mail(site, settings, alice):
    client = site.anonymous()
    known = client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    unknown = client.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()

    known_page = ask_by_form(client, "alice@example.org")
    unknown_page = ask_by_form(client, "nobody@example.org")
    assert known_page.status_code == unknown_page.status_code == 200
    assert known_page.text == unknown_page.text

    assert [m["To"] for m in outbox(settings)] == ["alice@example.org"] * 2


def test_expired_link_is_refused(site, settings, alice):
    client = site.anonymous()
    client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    path = reset_path(outbox(settings)[0])

    async def expire():
        async with site.ctx.db.transaction() as session:
            await session.execute(
                update(PasswordReset).values(expires_at=utcnow() - timedelta(minutes=1))
            )

    site.call(expire)
    assert client.get(path).status_code == 404
    token = path.rsplit("/", 1)[1]
    answer = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert answer.status_code == 404
    assert sign_in_status(site, PASSWORD) == 200


def test_a_password_change_voids_the_links_asked_for_before(site, settings, alice):
    client = site.anonymous()
    for _ in range(2):
        client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    first, second = (reset_path(m) for m in outbox(settings))
    assert client.get(first).status_code == client.get(second).status_code == 200

    signed_in = site.signed_in(alice)
    page = signed_in.get("/settings/password")
    changed = signed_in.post(
        "/settings/password",
        data={
            "csrf_token": csrf_from(page.text),
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 200 and "Your password is changed" in changed.text

    # Whoever reads the old mail cannot set the password back: neither link works.
    assert client.get(first).status_code == 404
    token = second.rsplit("/", 1)[1]
    answer = client.post("/api/v1/auth/password/reset", json={"token": token, "password": PASSWORD})
    assert answer.status_code == 404 and error_code(answer) == "not_found"
    assert sign_in_status(site, NEW_PASSWORD) == 200
    # A link asked for after the change works.
    client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    assert client.get(reset_path(outbox(settings)[-1])).status_code == 200


def test_deleting_the_account_voids_its_reset_links(site, settings, alice):
    client = site.anonymous()
    client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    path = reset_path(outbox(settings)[0])
    deleted = site.bearer(alice).request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert deleted.status_code == 204
    assert client.get(path).status_code == 404


def test_weak_new_password_reshows_the_form(site, settings, alice):
    client = site.anonymous()
    client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
    path = reset_path(outbox(settings)[0])
    token = csrf_from(client.get(path).text)

    for weak in ("short", "password123", "alice@example.org"):
        answer = client.post(path, data={"csrf_token": token, "password": weak})
        assert answer.status_code == 422
        assert 'aria-invalid="true"' in answer.text
        assert 'name="password"' in answer.text
    assert "common" in client.post(path, data={"csrf_token": token, "password": "password123"}).text
    answer = client.post(
        "/api/v1/auth/password/reset",
        json={"token": path.rsplit("/", 1)[1], "password": "short"},
    )
    assert answer.status_code == 422
    assert "password" in answer.json()["error"]["fields"]
    # The link is still good for a proper password.
    assert sign_in_status(site, PASSWORD) == 200
    answer = client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD})
    assert answer.status_code == 200  # redirected to the sign-in page
    assert sign_in_status(site, NEW_PASSWORD) == 200


# A real SMTP server ------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_reset_mail_goes_through_a_real_smtp_server(settings, smtp_server):
    inbox, port = smtp_server
    smtp_settings = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")
    app = create_app(smtp_settings)
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url=BASE_URL) as client:
        site = Site(app, client)
        site.member("alice")
        answer = client.post("/api/v1/auth/password/forgot", json={"email": "alice@example.org"})
        assert answer.status_code == 202
        assert inbox.arrived.wait(10)
        [envelope] = inbox.envelopes
        assert envelope.rcpt_tos == ["alice@example.org"]
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        assert message["To"] == "alice@example.org"
        path = reset_path(message)
        assert not list(settings.path("mail").glob("*.eml"))  # sent, not written

        form = client.get(path)
        answer = client.post(
            path, data={"csrf_token": csrf_from(form.text), "password": NEW_PASSWORD}
        )
        assert answer.status_code == 200
        assert sign_in_status(site, NEW_PASSWORD) == 200
