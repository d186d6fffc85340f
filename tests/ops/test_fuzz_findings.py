"""What the fuzzer found, pinned: numbers too large for an id column are a 4xx, not a 500."""

from __future__ import annotations

from tests.conftest import error_code

HUGE = 10**30


def test_huge_ids_in_paths_are_not_found(site, admin):
    client = site.bearer(admin)
    for path in (
        f"/api/v1/threads/{HUGE}",
        f"/api/v1/posts/{HUGE}",
        f"/api/v1/library/files/{HUGE}/download",
        "/api/v1/threads/2147483648",  # one past what an integer column holds
    ):
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert error_code(answer) == "not_found"
    assert client.patch(f"/api/v1/threads/{HUGE}", json={"title": "x"}).status_code == 404
    assert client.post(f"/api/v1/threads/{HUGE}/posts", json={"body": "x"}).status_code == 404
    # The largest id that fits is simply not there.
    assert client.get("/api/v1/threads/2147483647").status_code == 404


def test_huge_numbers_in_json_bodies_are_bad_input(site, admin):
    client = site.bearer(admin)
    site.community(client, "cataloging")
    for path, body in (
        ("/api/v1/notifications/read", {"ids": [HUGE]}),
        ("/api/v1/communities/cataloging/library/folders", {"name": "A", "parent_id": HUGE}),
        ("/api/v1/communities/cataloging/threads", {"title": "t", "body": "b", "x": -HUGE}),
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 400, (path, answer.text)
        assert error_code(answer) == "number_too_large"
    fits = client.post("/api/v1/notifications/read", json={"ids": [2**31 - 1]})
    assert fits.status_code == 200, fits.text


def test_an_unknown_preference_is_invalid_input(site, admin):
    client = site.bearer(admin)
    answer = client.patch("/api/v1/me/preferences", json={"colour": "blue"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["fields"] == {"colour": "Not a preference."}
