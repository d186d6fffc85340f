"""Uploads per day: library entries and new versions count, past the limit 429 changes nothing."""

from dataclasses import replace

import pytest

from tests.conftest import csrf_from, error_code
from tests.library.helpers import count, open_library, stored, upload, versions


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=True)


def set_uploads_limit(owner, per_day: int) -> None:
    answer = owner.put(
        "/api/v1/moderation/limits",
        json={"limits": {"new_member_uploads_per_day": per_day, "uploads_per_day": per_day}},
    )
    assert answer.status_code == 200, answer.text


def test_entries_and_versions_past_the_daily_limit_get_429_and_store_nothing(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    set_uploads_limit(owner, 3)
    first = upload(a, "cataloging", [("a.txt", b"first\n"), ("b.txt", b"second\n")])
    assert first.status_code == 201, first.text
    entry = first.json()
    file_id = entry["files"][0]["id"]
    newer = a.post(
        f"/api/v1/library/entries/{entry['id']}/files/{file_id}/versions",
        files=[("file", ("a.txt", b"first, revised\n", "text/plain"))],
    )
    assert newer.status_code == 201, newer.text
    entries, rows, (blobs, _) = count(site), versions(site), stored(site)

    refused = upload(a, "cataloging", [("c.txt", b"third\n")])
    assert refused.status_code == 429
    assert error_code(refused) == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
    again = a.post(
        f"/api/v1/library/entries/{entry['id']}/files/{file_id}/versions",
        files=[("file", ("a.txt", b"first, revised twice\n", "text/plain"))],
    )
    assert again.status_code == 429
    assert (count(site), versions(site), stored(site)[0]) == (entries, rows, blobs)

    # The community's moderators are not limited.
    assert upload(owner, "cataloging", [("d.txt", b"staff\n")]).status_code == 201


def test_the_upload_form_keeps_the_text_on_429(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    set_uploads_limit(owner, 1)
    assert upload(a, "cataloging", [("a.txt", b"first\n")]).status_code == 201
    form = a.get("/c/cataloging/library/new")
    answer = a.post(
        "/c/cataloging/library/new",
        data={"csrf_token": csrf_from(form.text), "title": "Kept title", "description": "Kept"},
        files=[("file", ("b.txt", b"second\n", "text/plain"))],
    )
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    assert 'value="Kept title"' in answer.text
    assert "uploads a day" in answer.text
    assert count(site) == 1
