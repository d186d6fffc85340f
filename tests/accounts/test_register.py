"""Registering accounts through the API and the form."""

from sqlalchemy import func, select

from connect.accounts.models import User
from tests.conftest import PASSWORD, csrf_from, error_code


def count_users(site) -> int:
    async def count():
        async with site.ctx.db.read() as session:
            return (await session.execute(select(func.count(User.id)))).scalar()

    return site.call(count)


def test_register_returns_member_and_hashes_password(site, client):
    answer = client.post(
        "/api/v1/auth/register",
        json={
            "username": "carol",
            "email": "Carol@Example.org",
            "password": PASSWORD,
            "display_name": "Carol Cataloger",
        },
    )
    assert answer.status_code == 201
    member = answer.json()
    assert member["username"] == "carol"
    assert member["display_name"] == "Carol Cataloger"
    assert "password" not in str(member).lower()

    async def stored():
        async with site.ctx.db.read() as session:
            return (
                await session.execute(select(User).where(User.username == "carol"))
            ).scalar_one()

    user = site.call(stored)
    assert user.email == "carol@example.org"
    assert user.password_hash.startswith("$argon2id$")


def test_bad_registrations_are_refused_and_change_nothing(site, client, alice):
    before = count_users(site)
    cases = [
        ({"username": "x", "email": "x@example.org", "password": PASSWORD}, "username"),
        ({"username": "Bad Name!", "email": "x@example.org", "password": PASSWORD}, "username"),
        ({"username": "a" * 41, "email": "x@example.org", "password": PASSWORD}, "username"),
        ({"username": "valid", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "valid", "email": "x@example.org", "password": "short"}, "password"),
        ({"username": "valid", "email": "x@example.org", "password": "password123"}, "password"),
        ({"username": "valid", "email": "x@example.org", "password": "baseball1"}, "password"),
        (
            {
                "username": "valid",
                "email": "x@example.org",
                "password": PASSWORD,
                "display_name": "d" * 101,
            },
            "display_name",
        ),
        ({"username": 5, "email": None, "password": []}, "username"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/auth/register", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert error_code(answer) == "invalid"
        assert field in answer.json()["error"]["fields"], (body, answer.json())
    assert count_users(site) == before


def test_duplicate_username_or_email_is_a_conflict(site, client, alice):
    before = count_users(site)
    for body in (
        {"username": "alice", "email": "new@example.org", "password": PASSWORD},
        {"username": "newbie", "email": "ALICE@example.org", "password": PASSWORD},
    ):
        answer = client.post("/api/v1/auth/register", json=body)
        assert answer.status_code == 409
        assert error_code(answer) == "conflict"
    assert count_users(site) == before


def test_malformed_json_gets_400(client):
    for body, headers in (
        (b"{not json", {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"username=x", {"content-type": "application/x-www-form-urlencoded"}),
    ):
        answer = client.post("/api/v1/auth/register", content=body, headers=headers)
        assert answer.status_code == 400
        assert error_code(answer) in ("invalid_json", "bad_request")


def test_register_form_keeps_input_on_error_and_signs_in_on_success(client, alice):
    page = client.get("/register")
    token = csrf_from(page.text)
    answer = client.post(
        "/register",
        data={
            "csrf_token": token,
            "username": "alice",
            "email": "someone@example.org",
            "display_name": "Someone Kept",
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 409
    assert "That username is taken." in answer.text
    assert 'value="someone@example.org"' in answer.text
    assert 'value="Someone Kept"' in answer.text

    answer = client.post(
        "/register",
        data={
            "csrf_token": token,
            "username": "someone",
            "email": "someone@example.org",
            "display_name": "Someone Kept",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "connect_session" in answer.cookies
    me = client.get("/api/v1/me")
    assert me.json()["username"] == "someone"
