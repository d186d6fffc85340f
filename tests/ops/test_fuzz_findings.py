"""What the fuzzer found, pinned: numbers too large for an id column are a 4xx, not a 500."""

from __future__ import annotations

from tests.conftest import csrf_from, error_code

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


def test_huge_ids_in_queries_and_forms_are_no_id(site, admin, alice):
    """An id in a query string or a form field past what the column holds is treated as
    no id (or refused as bad input), never sent to the database."""
    owner = site.bearer(admin)
    site.community(owner, "cataloging")
    thread = owner.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Plans", "body": "Ours"}
    ).json()
    page = site.signed_in(admin)
    form = page.get(f"/messages/new?reply_to_post={HUGE}")
    assert form.status_code == 200 and "Reply privately" not in form.text
    assert page.get(f"/threads/{thread['id']}?reply_to={HUGE}").status_code == 200
    token = csrf_from(page.get(f"/threads/{thread['id']}").text)
    marked = page.post(
        f"/threads/{thread['id']}/read", data={"csrf_token": token, "last_post_id": str(HUGE)}
    )
    assert marked.status_code == 422, marked.text
    replied = page.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": token, "body": "Quoting nothing", "reply_to": str(HUGE)},
    )
    assert replied.status_code in (200, 303), replied.text
    listing = owner.get(f"/api/v1/communities/cataloging/library?folder={HUGE}")
    assert listing.status_code == 422 and error_code(listing) == "invalid", listing.text
    download = owner.get(f"/api/v1/library/files/1/download?version={HUGE}")
    assert download.status_code in (404, 422), download.text
    tokens = page.get("/settings/tokens")
    revoked = page.post(
        "/settings/tokens",
        data={"csrf_token": csrf_from(tokens.text), "action": "revoke", "token_id": str(HUGE)},
    )
    assert revoked.status_code == 404, revoked.text
