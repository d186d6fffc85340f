"""Signing in and out: sessions, bearer tokens, throttling, same answer for every mistake."""

from connect.security import LoginThrottle
from tests.conftest import PASSWORD, csrf_from, error_code


def test_token_sign_in_and_revoke(site, alice):
    client = site.anonymous()
    answer = client.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
    assert answer.status_code == 200
    token = answer.json()["token"]
    assert answer.json()["member"]["email"] == "alice@example.org"
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "alice"

    listed = client.get("/api/v1/auth/tokens", headers=headers).json()["items"]
    assert [t["kind"] for t in listed] == ["api"]

    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 401
    assert error_code(answer) == "invalid_token"


def test_sign_in_by_email_works(site, alice):
    client = site.anonymous()
    answer = client.post(
        "/api/v1/auth/token", json={"login": "Alice@Example.org", "password": PASSWORD}
    )
    assert answer.status_code == 200


def test_unknown_user_and_wrong_password_get_the_same_answer(site, alice):
    client = site.anonymous()
    wrong = client.post("/api/v1/auth/token", json={"login": "alice", "password": "nope nope"})
    unknown = client.post("/api/v1/auth/token", json={"login": "nobody", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_slowed_with_retry_after(site, alice):
    client = site.anonymous()
    statuses = []
    for _ in range(8):
        answer = client.post("/api/v1/auth/token", json={"login": "alice", "password": "wrong one"})
        statuses.append(answer.status_code)
    assert 429 in statuses
    limited = client.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # Another address is not locked out of the same account.
    other = site.anonymous()
    other.headers["x-test"] = "1"
    # (TestClient always reports the same client address, so check the throttle directly.)
    site.ctx.login_throttle.check("alice", "203.0.113.9")


def test_switching_from_username_to_email_does_not_escape_the_throttle(site, alice):
    client = site.anonymous()
    for _ in range(8):
        client.post("/api/v1/auth/token", json={"login": "alice", "password": "wrong one"})
    by_username = client.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
    assert by_username.status_code == 429
    by_email = client.post(
        "/api/v1/auth/token", json={"login": "Alice@Example.org", "password": PASSWORD}
    )
    assert by_email.status_code == 429
    assert int(by_email.headers["Retry-After"]) >= 1
    # Alternating the two counts every attempt against the one account.
    site.ctx.login_throttle = LoginThrottle()
    statuses = [
        client.post(
            "/api/v1/auth/token", json={"login": login, "password": "wrong one"}
        ).status_code
        for login in ["alice", "alice@example.org"] * 4
    ]
    assert 429 in statuses


def test_session_sign_out_revokes_the_cookie(site, alice):
    client = site.signed_in(alice)
    assert client.get("/api/v1/me").status_code == 200
    raw = client.cookies.get("connect_session")
    assert client.delete("/api/v1/auth/session").status_code == 204
    client.cookies.set("connect_session", raw)
    assert client.get("/api/v1/me").status_code == 401


def test_login_form_shows_error_keeps_login_and_redirects_back(site, alice):
    client = site.anonymous()
    page = client.get("/login?next=/members")
    token = csrf_from(page.text)
    answer = client.post(
        "/login",
        data={"csrf_token": token, "login": "alice", "password": "bad", "next": "/members"},
    )
    assert answer.status_code == 401
    assert "not right" in answer.text
    assert 'value="alice"' in answer.text
    answer = client.post(
        "/login",
        data={"csrf_token": token, "login": "alice", "password": PASSWORD, "next": "/members"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/members"


def test_login_never_redirects_off_site(site, alice):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client = site.anonymous()
        token = csrf_from(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"csrf_token": token, "login": "alice", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/"


def test_session_cookie_flags(site, alice):
    client = site.anonymous()
    answer = client.post("/api/v1/auth/session", json={"login": "alice", "password": PASSWORD})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # base URL is http in tests


def test_secure_cookie_when_base_url_is_https(tmp_path, database_url):
    from starlette.testclient import TestClient

    from connect.app import create_app
    from connect.settings import Settings
    from tests.conftest import Site, fast_passwords

    settings = Settings.from_env(
        {}, data_dir=tmp_path / "s", database_url=database_url, base_url="https://connect.example"
    )
    app = create_app(settings)
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url="https://connect.example") as client:
        Site(app, client).member("alice")
        answer = client.post("/api/v1/auth/session", json={"login": "alice", "password": PASSWORD})
        assert "Secure" in answer.headers["set-cookie"]
        assert "strict-transport-security" in answer.headers
