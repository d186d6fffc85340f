"""Password and sessions settings: a change ends other sessions, guesses are throttled,
expired sessions are not listed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from connect.accounts.models import Token
from connect.db import utcnow
from connect.security import LoginThrottle, token_hash
from tests.conftest import PASSWORD, csrf_from

NEW_PASSWORD = "a brand new and unusual passphrase"


def change(client, current: str, new: str = NEW_PASSWORD):
    token = csrf_from(client.get("/settings/password").text)
    return client.post(
        "/settings/password",
        data={"csrf_token": token, "current_password": current, "password": new},
    )


def test_change_ends_other_sessions_keeps_this_one_and_lists_api_tokens(site, alice):
    here = site.signed_in(alice)
    elsewhere = site.signed_in(alice)
    api_client = site.bearer(alice)

    answer = change(here, PASSWORD)
    assert answer.status_code == 200
    assert "Your password is changed" in answer.text
    assert "other browser sessions (1) are signed out" in answer.text
    assert "API token" in answer.text and 'action="/settings/tokens"' in answer.text

    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert api_client.get("/api/v1/me").status_code == 200

    # The listed token can be revoked from the confirmation.
    [token_id] = [
        t["id"] for t in here.get("/api/v1/auth/tokens").json()["items"] if t["kind"] == "api"
    ]
    answer = here.post(
        "/settings/tokens",
        data={"csrf_token": csrf_from(answer.text), "action": "revoke", "token_id": token_id},
    )
    assert answer.status_code == 200
    assert api_client.get("/api/v1/me").status_code == 401

    signing_in = site.anonymous()
    bad = signing_in.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
    good = signing_in.post("/api/v1/auth/token", json={"login": "alice", "password": NEW_PASSWORD})
    assert (bad.status_code, good.status_code) == (401, 200)


def test_wrong_current_password_guesses_are_throttled(site, alice):
    client = site.signed_in(alice)
    statuses = [change(client, f"wrong guess {n}").status_code for n in range(15)]
    assert statuses[0] == 403
    assert 429 in statuses
    limited = change(client, PASSWORD)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Too many" in limited.text
    # The same count guards signing in from this address.
    answer = site.anonymous().post(
        "/api/v1/auth/token", json={"login": "alice", "password": PASSWORD}
    )
    assert answer.status_code == 429
    # Once the wait is over, the old password is still the one: nothing changed.
    site.ctx.login_throttle = LoginThrottle()
    answer = site.anonymous().post(
        "/api/v1/auth/token", json={"login": "alice", "password": PASSWORD}
    )
    assert answer.status_code == 200


def test_expired_sessions_are_not_listed(site, alice):
    here = site.signed_in(alice)
    old = site.signed_in(alice)
    old_raw = old.cookies.get("connect_session")

    async def expire():
        async with site.ctx.db.transaction() as session:
            await session.execute(
                update(Token)
                .where(Token.token_hash == token_hash(old_raw))
                .values(expires_at=utcnow() - timedelta(days=1))
            )

    site.call(expire)
    assert old.get("/api/v1/me").status_code == 401
    page = here.get("/settings/tokens")
    assert page.text.count("Browser session") == 1 and "(this one)" in page.text
    listed = here.get("/api/v1/auth/tokens").json()["items"]
    assert [t["current"] for t in listed] == [True]
