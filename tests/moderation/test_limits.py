"""Posting limits and spam checks: 429 with Retry-After, first-week rules, links, repeats."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from connect.accounts.models import User
from connect.app import create_app
from connect.db import utcnow
from tests.conftest import BASE_URL, Site, csrf_from, error_code, fast_passwords
from tests.moderation.helpers import board, log_rows, queue, reply, start


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=True)


def age(site, member, days: int) -> None:
    """Make a member's account older (out of their first week)."""

    async def run():
        async with site.ctx.db.transaction() as session:
            await session.execute(
                update(User)
                .where(User.id == member.id)
                .values(created_at=utcnow() - timedelta(days=days))
            )

    site.call(run)


def test_new_members_hit_the_per_minute_limit_with_retry_after(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    thread = start(owner, title="Open")
    for i in range(5):
        reply(a, thread["id"], f"Message {i}")
    limited = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "One too many"})
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert "first week" in limited.json()["error"]["message"]
    assert "kept" not in limited.json()["error"]["message"]
    # Moderators and site staff are never limited.
    for i in range(12):
        reply(owner, thread["id"], f"Staff message {i}")


def test_older_members_get_the_looser_limit(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    age(site, alice, 30)
    thread = start(owner, title="Open")
    for i in range(10):
        reply(a, thread["id"], f"Message {i}")
    assert a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "More"}).status_code == 429


def test_the_form_keeps_the_text_on_429(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    thread = start(owner, title="Open")
    for i in range(5):
        reply(a, thread["id"], f"Message {i}")
    token = csrf_from(a.get(f"/threads/{thread['id']}").text)
    answer = a.post(
        f"/threads/{thread['id']}/reply", data={"csrf_token": token, "body": "My careful words"}
    )
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    assert "My careful words</textarea>" in answer.text
    assert "faster than this site allows" in answer.text
    new = a.post(
        "/c/youth/threads/new",
        data={"csrf_token": token, "title": "Kept title", "body": "Kept body"},
    )
    assert new.status_code == 429 and new.headers["Retry-After"]
    assert 'value="Kept title"' in new.text and "Kept body</textarea>" in new.text


def test_community_limits_count_in_that_community(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    age(site, alice, 30)
    answer = owner.patch(
        "/api/v1/communities/youth", json={"settings": {"limits": {"posts_per_minute": 1}}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["limits"] == {"posts_per_minute": 1}
    site.community(owner, "elsewhere")
    assert a.post("/api/v1/communities/elsewhere/join").status_code == 200
    start(a, slug="elsewhere", title="Elsewhere")
    first = start(a, title="One")
    assert a.post(f"/api/v1/threads/{first['id']}/posts", json={"body": "Two"}).status_code == 429
    start(a, slug="elsewhere", title="Still fine elsewhere")


def test_changing_one_community_limit_keeps_the_others(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    age(site, alice, 30)

    def patch(settings):
        answer = owner.patch("/api/v1/communities/youth", json={"settings": settings})
        assert answer.status_code == 200, answer.text
        return answer.json()["settings"]

    assert patch({"limits": {"posts_per_day": 1}, "flag_threshold": 2})["limits"] == {
        "posts_per_day": 1
    }
    kept = patch({"limits": {"uploads_per_day": 7}})
    assert kept["limits"] == {"posts_per_day": 1, "uploads_per_day": 7}
    assert kept["flag_threshold"] == 2
    start(a, title="One")
    assert (
        error_code(a.post("/api/v1/communities/youth/threads", json={"title": "Two", "body": "x"}))
        == "rate_limited"
    )
    # A null clears that limit only: the site's own applies again.
    assert patch({"limits": {"posts_per_day": None}})["limits"] == {"uploads_per_day": 7}
    start(a, title="Two")


def test_site_limits_are_set_by_admins_and_logged(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    assert (
        a.put("/api/v1/moderation/limits", json={"limits": {"posts_per_day": 3}}).status_code == 403
    )
    bad = owner.put("/api/v1/moderation/limits", json={"limits": {"posts_per_day": -1}})
    assert bad.status_code == 422
    answer = owner.put(
        "/api/v1/moderation/limits", json={"limits": {"new_member_posts_per_day": 2}}
    )
    assert answer.status_code == 200 and answer.json()["limits"]["new_member_posts_per_day"] == 2
    row = log_rows(site)[-1]
    assert row.action == "site.limits"
    assert row.before == {"new_member_posts_per_day": 50} and row.after == {
        "new_member_posts_per_day": 2
    }
    thread = start(a, title="One")
    reply(a, thread["id"], "Two")
    assert (
        a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Three"}).status_code == 429
    )
    assert owner.get("/moderation/limits").status_code == 200
    assert a.get("/moderation/limits").status_code == 403


def test_limits_that_are_not_whole_numbers_are_refused(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "youth")
    for value in (1.5, "1.5", 0.25):
        bad = owner.put("/api/v1/moderation/limits", json={"limits": {"posts_per_day": value}})
        assert bad.status_code == 422, (value, bad.text)
        assert "whole number" in bad.json()["error"]["fields"]["posts_per_day"]
        bad = owner.patch(
            "/api/v1/communities/youth", json={"settings": {"limits": {"posts_per_day": value}}}
        )
        assert bad.status_code == 422, (value, bad.text)
    assert owner.get("/api/v1/moderation/limits").json()["limits"]["posts_per_day"] == 500
    assert owner.get("/api/v1/communities/youth").json()["settings"]["limits"] == {}
    ok = owner.put("/api/v1/moderation/limits", json={"limits": {"posts_per_day": 3.0}})
    assert ok.status_code == 200 and ok.json()["limits"]["posts_per_day"] == 3


def test_new_members_posts_with_many_links_are_held(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    age(site, bob, 30)
    links = "See https://a.example https://b.example and www.c.example"
    held = start(a, title="Links", body=links)
    assert held["status"] == "pending"
    assert (
        start(a, title="Two links", body="https://a.example https://b.example")["status"]
        == "published"
    )
    assert start(b, title="Old hand", body=links)["status"] == "published"
    assert queue(owner)["items"][0]["id"] == held["id"]


def test_the_same_text_in_another_thread_is_held(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    age(site, alice, 30)
    spam = "Cheap flights to everywhere, write to me for the details today"
    one = start(owner, title="One")
    two = start(owner, title="Two")
    assert reply(a, one["id"], spam)["status"] == "published"
    assert reply(a, two["id"], spam)["status"] == "pending"
    assert reply(a, one["id"], "Thanks!")["status"] == "published"
    assert reply(a, two["id"], "Thanks!")["status"] == "published"  # short: may repeat


def test_rate_limits_off_lets_imports_through(site, admin, alice, settings):
    app = create_app(replace(settings, rate_limits=False))
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url=BASE_URL) as client:
        other = Site(app, client)
        owner, (a,) = board(other, admin, alice)
        thread = start(owner, title="Open")
        for i in range(12):
            reply(a, thread["id"], f"Imported {i}")
