"""Held entries: under posting moderation, new entries wait for a moderator like posts."""

from tests.conftest import csrf_from
from tests.library.helpers import open_library, upload


def test_held_entries_show_only_to_their_author_and_moderators(site, admin, alice, bob):
    owner, (a, b) = open_library(site, admin, alice, bob, slug="youth", moderation="new_members")
    entry = upload(a, "youth", [("draft.txt", b"held words\n")], title="Draft").json()
    assert entry["status"] == "pending"
    url = f"/api/v1/library/entries/{entry['id']}"
    file_url = entry["files"][0]["download_url"]

    for client in (b, site.anonymous()):
        assert client.get(url).status_code == 404
        assert client.get(file_url).status_code == 404
        assert client.get(f"/c/youth/library/{entry['id']}").status_code == 404
        assert client.get("/api/v1/communities/youth/library").json()["total"] == 0
        assert "Draft" not in client.get("/c/youth/library").text
    assert a.get(url).json()["status"] == "pending"
    assert a.get(file_url).status_code == 200
    assert "awaiting approval" in a.get("/c/youth/library").text
    assert owner.get("/api/v1/communities/youth/library").json()["total"] == 1
    # Nobody may start a discussion of it yet, nor may others approve it.
    page = a.get(f"/c/youth/library/{entry['id']}")
    assert "Discuss this document" not in page.text
    token = csrf_from(page.text)
    approve = f"/c/youth/library/{entry['id']}/approve"
    assert a.post(approve, data={"csrf_token": token}).status_code == 403

    moderator_page = owner.get(f"/c/youth/library/{entry['id']}").text
    assert "Approve and publish" in moderator_page
    done = owner.post(approve, data={"csrf_token": csrf_from(moderator_page)})
    assert done.status_code == 200 and "The document is published." in done.text
    assert b.get(url).json()["status"] == "published"
    assert b.get(file_url).status_code == 200

    # Once published there, the member's next entries are not held.
    assert upload(a, "youth", [("next.txt", b"next\n")]).json()["status"] == "published"
    # Moderators are never held; under "all", everyone else is.
    site.community(owner, "strict", moderation="all")
    assert b.post("/api/v1/communities/strict/join").status_code == 200
    assert upload(owner, "strict", [("m.txt", b"m\n")]).json()["status"] == "published"
    assert upload(b, "strict", [("b.txt", b"b\n")]).json()["status"] == "pending"
