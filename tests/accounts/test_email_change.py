"""Changing one's email address: password first, a link to the new address, a notice to
the old one; nothing changes until the link is opened."""

from __future__ import annotations

import re

from tests.accounts.test_password_reset import outbox
from tests.conftest import BASE_URL, PASSWORD, csrf_from, error_code

LINK_RE = re.compile(re.escape(BASE_URL) + r"(/settings/email/confirm/[A-Za-z0-9._-]+)")


def sign_in_status(site, login: str) -> int:
    answer = site.anonymous().post(
        "/api/v1/auth/token", json={"login": login, "password": PASSWORD}
    )
    return answer.status_code


def ask(client, address: str, password: str = PASSWORD):
    page = client.get("/settings/email")
    return client.post(
        "/settings/email",
        data={"csrf_token": csrf_from(page.text), "email": address, "password": password},
    )


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_address_changes_once_the_link_sent_to_it_is_opened(site, settings, alice):
    me = site.signed_in(alice)
    asked = ask(me, "Alice.New@Example.org")
    assert asked.status_code == 200 and "We sent a link to" in asked.text
    to_new, to_old = outbox(settings)
    assert to_new["To"] == "alice.new@example.org" and to_old["To"] == "alice@example.org"
    assert "alice.new@example.org" in body(to_old)  # the owner hears of it either way
    path = LINK_RE.search(body(to_new)).group(1)
    # Nothing has changed yet.
    assert sign_in_status(site, "alice@example.org") == 200
    assert sign_in_status(site, "alice.new@example.org") == 401
    visitor = site.anonymous()  # the link may open in a browser that is not signed in
    page = visitor.get(path)
    assert page.status_code == 200 and "alice.new@example.org" in page.text
    done = visitor.post(path, data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert sign_in_status(site, "alice.new@example.org") == 200
    assert sign_in_status(site, "alice@example.org") == 401
    assert me.get("/api/v1/me").json()["email"] == "alice.new@example.org"
    assert visitor.get(path).status_code == 404  # used


def test_refusals_keep_the_typed_address_and_send_nothing(site, settings, alice, bob):
    me = site.signed_in(alice)
    wrong = ask(me, "alice2@example.org", password="not the password")
    assert wrong.status_code == 403 and 'value="alice2@example.org"' in wrong.text
    assert ask(me, "not an address").status_code == 422
    taken = ask(me, "bob@example.org")
    assert taken.status_code == 409 and "Used by another account" in taken.text
    assert ask(me, "alice@example.org").status_code == 422
    assert outbox(settings) == []
    assert (
        site.anonymous().post("/api/v1/me/email", json={"email": "x@example.org"}).status_code
        == 401
    )


def test_the_api_asks_and_a_password_change_voids_the_link(site, settings, alice):
    client = site.bearer(alice)
    asked = client.post("/api/v1/me/email", json={"email": "a3@example.org", "password": PASSWORD})
    assert asked.status_code == 202 and asked.json()["pending_email"] == "a3@example.org"
    refused = client.post("/api/v1/me/email", json={"email": "a4@example.org", "password": "no"})
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    (to_new, _) = outbox(settings)
    path = LINK_RE.search(body(to_new)).group(1)
    me = site.signed_in(alice)
    page = me.get("/settings/password")
    changed = me.post(
        "/settings/password",
        data={
            "csrf_token": csrf_from(page.text),
            "current_password": PASSWORD,
            "password": "another long and unusual passphrase",
        },
    )
    assert changed.status_code == 200, changed.text
    assert site.anonymous().get(path).status_code == 404
    assert site.anonymous().get(path[:-3] + "abc").status_code == 404  # tampered


def test_password_guesses_here_count_with_the_sign_in_throttle(site, settings, alice):
    me = site.signed_in(alice)
    statuses = [ask(me, "alice9@example.org", f"guess {n}").status_code for n in range(15)]
    assert statuses[0] == 403 and 429 in statuses
    limited = ask(me, "alice9@example.org")  # even the right password waits now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert 'value="alice9@example.org"' in limited.text
    assert outbox(settings) == []
