"""Contact requests per day (CONNECT_CONTACT_REQUESTS_PER_DAY) and CONNECT_RATE_LIMITS=off."""

from dataclasses import replace

import pytest

from tests.conftest import csrf_from
from tests.network.conftest import refused, usernames


@pytest.fixture
def settings(settings):
    return replace(settings, contact_requests_per_day=2)


def incoming(site, member) -> list[str]:
    return usernames(site.bearer(member).get("/api/v1/me/contacts?status=incoming"))


def test_requests_per_day_are_limited(site, alice, bob, carol, admin):
    dave, erin = site.member("dave"), site.member("erin")
    a = site.bearer(alice)
    assert a.post("/api/v1/members/bob/contact").status_code == 201
    assert a.post("/api/v1/members/carol/contact").status_code == 201
    # Cancelling does not give the request back.
    assert a.delete("/api/v1/me/contacts/carol").status_code == 204
    answer = a.post("/api/v1/members/dave/contact")
    refused(answer, 429, "rate_limited")
    assert 0 < int(answer.headers["Retry-After"]) <= 86_401
    assert incoming(site, dave) == []
    # Accepting someone's request is not a request; site staff are not limited.
    site.bearer(erin).post("/api/v1/members/alice/contact")
    assert a.post("/api/v1/members/erin/contact").json() == {"status": "accepted"}
    staff = site.bearer(admin)
    for target in ("alice", "bob", "carol"):
        assert staff.post(f"/api/v1/members/{target}/contact").status_code == 201


def test_the_page_says_why_and_when(site, alice, bob, carol):
    dave = site.member("dave")
    a = site.signed_in(alice)
    for target in ("bob", "carol"):
        assert a.post(f"/api/v1/members/{target}/contact").status_code == 201
    token = csrf_from(a.get("/members/dave").text)
    answer = a.post("/network/contacts/dave/request", data={"csrf_token": token, "note": ""})
    assert answer.status_code == 429
    assert "Retry-After" in answer.headers
    assert "contact requests today" in answer.text
    assert incoming(site, dave) == []


def test_limits_off_for_imports(app, site, alice):
    app.state.ctx.settings = replace(app.state.ctx.settings, rate_limits=False)
    a = site.bearer(alice)
    for name in ("bob", "carol", "dave"):
        site.member(name)
        assert a.post(f"/api/v1/members/{name}/contact").status_code == 201
