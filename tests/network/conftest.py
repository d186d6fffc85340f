"""Fixtures and helpers for the network tests: a third member, communities, contacts."""

from __future__ import annotations

import pytest

from tests.conftest import error_code


@pytest.fixture
def carol(site):
    return site.member("carol", display_name="Carol Curator")


@pytest.fixture
def root(site, admin):
    """The site admin's bearer client: creates communities and adds members."""
    return site.bearer(admin)


def community_with(site, root, slug: str, *members, **settings) -> dict:
    """A community (open unless told) whose members are `members`, added by the admin."""
    created = site.community(root, slug, **settings)
    for m in members:
        answer = root.put(
            f"/api/v1/communities/{slug}/members/{m.username}", json={"role": "member"}
        )
        assert answer.status_code == 200, answer.text
    return created


def connect(site, a, b) -> None:
    """Make members a and b contacts (a asks, b accepts)."""
    asker, answerer = site.bearer(a), site.bearer(b)
    assert asker.post(f"/api/v1/members/{b.username}/contact").status_code == 201
    answer = answerer.put(f"/api/v1/me/contacts/{a.username}", json={"status": "accepted"})
    assert answer.status_code == 200, answer.text


def usernames(answer, key: str = "member") -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item[key]["username"] for item in answer.json()["items"]]


def refused(answer, status: int, code: str | None = None) -> None:
    """An error in api.md's shape, with this status (and code)."""
    assert answer.status_code == status, answer.text
    got = error_code(answer)
    if code is not None:
        assert got == code, answer.text
