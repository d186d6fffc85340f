"""A library in an archived community: downloads as before, no uploads, versions or edits."""

from __future__ import annotations

from connect.library.models import Entry, FileVersion, Folder
from tests.conftest import csrf_from, error_code
from tests.library.helpers import count, open_library, upload

ARCHIVED = "This community is archived: it can be read but takes no new posts."


def archived_library(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    created = upload(a, "cataloging", [("minutes.txt", b"Minutes of the quokka meeting\n")])
    assert created.status_code == 201, created.text
    site.drain()  # its text read and indexed; the entry as readers see it, before the archive
    entry = site.anonymous().get(f"/api/v1/library/entries/{created.json()['id']}").json()
    assert owner.post("/api/v1/communities/cataloging/archive").status_code == 200
    return owner, a, entry


def refused(answer):
    assert answer.status_code == 409, answer.text
    assert error_code(answer) == "archived"
    assert answer.json()["error"]["message"] == ARCHIVED


def test_uploads_versions_edits_and_folders_are_refused(site, admin, alice):
    owner, a, entry = archived_library(site, admin, alice)
    counts = (count(site, Entry), count(site, FileVersion), count(site, Folder))
    file_id = entry["files"][0]["id"]
    versions = f"/api/v1/library/entries/{entry['id']}/files/{file_id}/versions"
    for client in (a, owner):
        refused(upload(client, "cataloging", [("more.txt", b"more\n")]))
        refused(client.post(versions, files=[("file", ("minutes-v2.txt", b"second\n"))]))
        refused(client.patch(f"/api/v1/library/entries/{entry['id']}", json={"title": "New"}))
        refused(
            client.post("/api/v1/communities/cataloging/library/folders", json={"name": "2027"})
        )
    refused(a.delete(f"/api/v1/library/entries/{entry['id']}"))  # authors keep it
    assert (count(site, Entry), count(site, FileVersion), count(site, Folder)) == counts
    # Reading, downloading and searching work as before.
    anyone = site.anonymous()
    assert anyone.get(f"/api/v1/library/entries/{entry['id']}").json() == entry
    download = anyone.get(entry["files"][0]["download_url"])
    assert download.status_code == 200 and download.content == b"Minutes of the quokka meeting\n"
    site.drain()
    hits = anyone.get("/api/v1/search", params={"q": "quokka"}).json()
    assert [i["id"] for i in hits["items"]] == [entry["id"]]


def test_moderators_still_remove_documents(site, admin, alice):
    owner, a, entry = archived_library(site, admin, alice)
    assert owner.delete(f"/api/v1/library/entries/{entry['id']}").status_code == 204
    assert site.anonymous().get(f"/api/v1/library/entries/{entry['id']}").status_code == 404


def test_library_pages_show_the_reason_instead_of_upload_forms(site, admin, alice):
    owner, a, entry = archived_library(site, admin, alice)
    member = site.signed_in(alice)
    library = member.get("/c/cataloging/library")
    assert library.status_code == 200 and ARCHIVED in library.text
    assert "Add a document" not in library.text and 'name="name"' not in library.text
    page = member.get(f"/c/cataloging/library/{entry['id']}").text
    assert ARCHIVED in page
    assert "Upload new version" not in page and "Edit details" not in page
    assert "Remove document" not in page
    assert (
        "Remove document" in site.signed_in(admin).get(f"/c/cataloging/library/{entry['id']}").text
    )
    new = member.get("/c/cataloging/library/new")
    assert new.status_code == 409 and ARCHIVED in new.text and 'type="file"' not in new.text
    # A form left open before the archive: refused, its text kept, no entry written.
    token = csrf_from(library.text)
    entries = count(site, Entry)
    sent = member.post(
        "/c/cataloging/library/new",
        data={"csrf_token": token, "title": "Late report", "description": "Final numbers"},
        files=[("file", ("late.txt", b"late\n", "text/plain"))],
    )
    assert sent.status_code == 409 and ARCHIVED in sent.text
    assert "Late report" in sent.text and "Final numbers" in sent.text
    assert count(site, Entry) == entries
    version = member.post(
        f"/c/cataloging/library/{entry['id']}/files/{entry['files'][0]['id']}/versions",
        data={"csrf_token": token},
        files=[("file", ("minutes-v2.txt", b"second\n", "text/plain"))],
    )
    assert version.status_code == 200 and ARCHIVED in version.text
    assert count(site, FileVersion) == 1


def test_unarchiving_restores_uploads(site, admin, alice):
    owner, a, entry = archived_library(site, admin, alice)
    assert owner.delete("/api/v1/communities/cataloging/archive").status_code == 200
    assert upload(a, "cataloging", [("more.txt", b"more\n")]).status_code == 201
    assert "Add a document" in site.signed_in(alice).get("/c/cataloging/library").text
