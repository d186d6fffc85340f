"""Folders, entries, files and versions: the library's structure through the JSON API."""

from sqlalchemy import select

from connect.events import Event
from tests.conftest import error_code
from tests.library.helpers import count, open_library, stored, upload

PDF = b"%PDF-1.4\n% a tiny stand-in\n"


def folder(client, name, parent_id=None, slug="cataloging"):
    answer = client.post(
        f"/api/v1/communities/{slug}/library/folders", json={"name": name, "parent_id": parent_id}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def events_of(site, type_: str) -> list[Event]:
    async def run():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(Event).where(Event.type == type_).order_by(Event.id)
            )
            return list(rows.scalars())

    return site.call(run)


def test_nested_folders_and_the_folder_and_list_views(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    policies = folder(a, "Policies")
    archive = folder(a, "2024", parent_id=policies["id"])
    assert archive["parent_id"] == policies["id"]
    top = upload(a, "cataloging", [("top.txt", b"at the top\n")], title="Top")
    inner = upload(
        a, "cataloging", [("old.txt", b"old policy\n")], title="Old", folder_id=archive["id"]
    )
    assert top.status_code == inner.status_code == 201
    assert inner.json()["folder_id"] == archive["id"]

    root = a.get("/api/v1/communities/cataloging/library").json()
    assert [f["name"] for f in root["folders"]] == ["Policies"]
    assert [e["title"] for e in root["items"]] == ["Top"] and root["total"] == 1
    assert root["folder"] is None and root["path"] == []

    inside = a.get(f"/api/v1/communities/cataloging/library?folder={archive['id']}").json()
    assert [e["title"] for e in inside["items"]] == ["Old"]
    assert [f["name"] for f in inside["path"]] == ["Policies", "2024"]

    everything = a.get("/api/v1/communities/cataloging/library?view=all").json()
    assert {e["title"] for e in everything["items"]} == {"Top", "Old"}
    assert everything["folders"] == []

    # Names are unique among siblings (any case); folders nest a bounded depth.
    again = a.post(
        "/api/v1/communities/cataloging/library/folders",
        json={"name": "policies", "parent_id": None},
    )
    assert again.status_code == 422 and "name" in again.json()["error"]["fields"]
    parent = archive["id"]
    for depth in range(6):
        parent = folder(a, f"level {depth}", parent_id=parent)["id"]
    too_deep = a.post(
        "/api/v1/communities/cataloging/library/folders", json={"name": "x", "parent_id": parent}
    )
    assert too_deep.status_code == 422


def test_folders_belong_to_their_community(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    site.community(owner, "other")
    theirs = folder(owner, "Theirs", slug="other")
    answer = upload(a, "cataloging", [("a.txt", b"x\n")], folder_id=theirs["id"])
    assert answer.status_code == 422 and error_code(answer) == "invalid"
    assert a.get(f"/api/v1/communities/cataloging/library?folder={theirs['id']}").status_code == 404
    assert count(site) == 0
    assert stored(site) == (set(), [])  # the refused upload left nothing behind


def test_entry_fields_edit_and_delete(site, admin, alice, bob):
    owner, (a, b) = open_library(site, admin, alice, bob)
    box = folder(a, "Box")
    answer = upload(
        a,
        "cataloging",
        [("minutes.pdf", PDF)],
        title="  Board   minutes ",
        description="Read **this** first",
        tags="Governance, minutes, governance",
    )
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["title"] == "Board minutes"
    assert entry["tags"] == ["governance", "minutes"]
    assert "<strong>this</strong>" in entry["html"]
    assert entry["status"] == "published" and entry["author"]["username"] == "alice"
    (file,) = entry["files"]
    assert file["filename"] == "minutes.pdf" and file["content_type"] == "application/pdf"
    assert file["version"] == 1 and file["size"] == len(PDF)
    assert file["download_url"] == f"/api/v1/library/files/{file['id']}/download"

    url = f"/api/v1/library/entries/{entry['id']}"
    assert b.patch(url, json={"title": "Mine now"}).status_code == 403
    assert a.patch(url, json={"owner": "bob"}).status_code == 422
    changed = a.patch(url, json={"title": "Minutes", "tags": ["a"], "folder_id": box["id"]})
    assert changed.status_code == 200
    assert changed.json()["folder_id"] == box["id"] and changed.json()["tags"] == ["a"]
    assert owner.patch(url, json={"description": "moderated"}).status_code == 200
    assert a.get(url).json()["description"] == "moderated"

    assert b.delete(url).status_code == 403
    assert a.delete(url).status_code == 204
    assert a.get(url).status_code == 404
    assert count(site) == 0
    (deleted,) = events_of(site, "entry.deleted")
    assert deleted.subject_id == entry["id"] and deleted.audience == "public"
    assert [e.audience for e in events_of(site, "entry.updated")] == ["public", "public"]


def test_title_defaults_to_the_file_name_and_files_keep_their_order(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    answer = upload(a, "cataloging", [("agenda.txt", b"agenda\n"), ("budget.csv", b"a,b\n1,2\n")])
    assert answer.status_code == 201
    entry = answer.json()
    assert entry["title"] == "agenda"
    assert [f["filename"] for f in entry["files"]] == ["agenda.txt", "budget.csv"]
    assert entry["files"][1]["content_type"] == "text/csv; charset=utf-8"
    assert upload(a, "cataloging", []).status_code in (400, 422)


def test_new_versions_become_current_and_old_ones_stay(site, admin, alice, bob):
    owner, (a, b) = open_library(site, admin, alice, bob)
    entry = upload(a, "cataloging", [("plan.txt", b"first draft\n")]).json()
    file_id = entry["files"][0]["id"]
    versions_url = f"/api/v1/library/entries/{entry['id']}/files/{file_id}/versions"

    refused = b.post(versions_url, files=[("file", ("plan.txt", b"hijack\n"))])
    assert refused.status_code == 403
    second = a.post(versions_url, files=[("file", ("plan-v2.txt", b"second draft\n"))])
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2 and second.json()["filename"] == "plan-v2.txt"
    third = owner.post(versions_url, files=[("file", ("plan-v3.txt", b"third draft\n"))])
    assert third.status_code == 201

    current = a.get(f"/api/v1/library/entries/{entry['id']}").json()["files"][0]
    assert current["version"] == 3
    history = current["versions"]
    assert [v["version"] for v in history] == [3, 2, 1]
    assert [v["uploaded_by"]["username"] for v in history] == ["root", "alice", "alice"]
    assert all(v["created_at"] for v in history)

    download = f"/api/v1/library/files/{file_id}/download"
    assert b.get(download).content == b"third draft\n"
    assert b.get(download + "?version=1").content == b"first draft\n"
    assert b.get(download + "?version=2").content == b"second draft\n"
    assert b.get(download + "?version=4").status_code == 404
    # A file of another entry cannot be versioned through this one.
    other = upload(a, "cataloging", [("other.txt", b"other\n")]).json()
    crossed = a.post(
        f"/api/v1/library/entries/{other['id']}/files/{file_id}/versions",
        files=[("file", ("x.txt", b"x\n"))],
    )
    assert crossed.status_code == 404
    changes = [e.data.get("version") for e in events_of(site, "entry.updated")]
    assert changes == [2, 3]


def test_download_counts_sorting_and_paging(site, admin, alice, bob):
    _, (a, b) = open_library(site, admin, alice, bob)
    ids = {}
    for title in ("Charlie", "alpha", "Bravo"):
        entry = upload(a, "cataloging", [(f"{title}.txt", f"{title}\n".encode())], title=title)
        ids[title] = entry.json()
    for title, times in (("Charlie", 1), ("alpha", 3), ("Bravo", 2)):
        file_id = ids[title]["files"][0]["id"]
        for _ in range(times):
            assert b.get(f"/api/v1/library/files/{file_id}/download").status_code == 200
    # HEAD and partial requests past the first byte are not downloads.
    file_id = ids["Charlie"]["files"][0]["id"]
    assert b.head(f"/api/v1/library/files/{file_id}/download").status_code == 200
    assert (
        b.get(
            f"/api/v1/library/files/{file_id}/download", headers={"Range": "bytes=2-"}
        ).status_code
        == 206
    )

    def titles(query):
        return [
            e["title"]
            for e in b.get(f"/api/v1/communities/cataloging/library?{query}").json()["items"]
        ]

    assert titles("sort=title") == ["alpha", "Bravo", "Charlie"]
    assert titles("sort=title&order=desc") == ["Charlie", "Bravo", "alpha"]
    assert titles("sort=downloads") == ["alpha", "Bravo", "Charlie"]
    assert titles("sort=date") == ["Bravo", "alpha", "Charlie"]
    entry = b.get(f"/api/v1/library/entries/{ids['alpha']['id']}").json()
    assert entry["download_count"] == 3 and entry["files"][0]["download_count"] == 3
    assert entry["files"][0]["versions"][0]["download_count"] == 3

    first = b.get("/api/v1/communities/cataloging/library?sort=title&per_page=2").json()
    second = b.get("/api/v1/communities/cataloging/library?sort=title&per_page=2&page=2").json()
    assert first["total"] == second["total"] == 3
    assert [e["title"] for e in first["items"] + second["items"]] == ["alpha", "Bravo", "Charlie"]
    assert b.get("/api/v1/communities/cataloging/library?sort=size").status_code == 422


def test_the_same_bytes_are_stored_once(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    first = upload(a, "cataloging", [("a.pdf", PDF)]).json()
    second = upload(a, "cataloging", [("b.pdf", PDF)]).json()
    assert first["files"][0]["sha256"] == second["files"][0]["sha256"]
    blobs, tmp = stored(site)
    assert blobs == {first["files"][0]["sha256"]} and tmp == []


def test_entry_events_carry_the_communitys_audience(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    site.community(owner, "council", visibility="closed")
    upload(a, "cataloging", [("open.txt", b"open\n")])
    upload(owner, "council", [("closed.txt", b"closed\n")])
    created = events_of(site, "entry.created")
    assert [(e.audience, e.community_id is not None) for e in created] == [
        ("public", True),
        ("members", True),
    ]
    assert created[0].data["entry"]["files"][0]["filename"] == "open.txt"
    assert created[0].data["versions"]


def test_a_deleted_or_rejected_entrys_ids_and_links_are_never_given_to_another(
    site, admin, alice, bob
):
    owner, (a, b) = open_library(site, admin, alice, bob)
    site.community(owner, "held", moderation="all")
    assert b.post("/api/v1/communities/held/join").status_code == 200

    def gone_then_replaced(entry, remove):
        url = f"/api/v1/library/entries/{entry['id']}"
        (file,) = entry["files"]
        remove(url)
        newer = upload(b, "cataloging", [("theirs.txt", b"someone else's words\n")]).json()
        assert newer["id"] > entry["id"] and newer["files"][0]["id"] > file["id"]
        for client in (a, b, owner):
            assert client.get(url).status_code == 404
            assert client.get(file["download_url"]).status_code == 404
            assert client.get(f"/library/files/{file['id']}/download").status_code == 404

    mine = upload(a, "cataloging", [("mine.txt", b"my words\n")]).json()
    gone_then_replaced(mine, lambda url: a.delete(url).raise_for_status())

    held = upload(b, "held", [("held.txt", b"held words\n")]).json()
    assert held["status"] == "pending"
    rejected = owner.post(
        f"/api/v1/moderation/items/entry/{held['id']}/reject", json={"reason": "Off topic"}
    )
    assert rejected.status_code == 200, rejected.text
    gone_then_replaced(held, lambda url: None)


def test_a_folder_name_sent_as_a_number_is_asked_for_as_text(site, admin, alice):
    owner, (a,) = open_library(site, admin, alice)
    for name in (2024, ["Box"], {"x": 1}):
        answer = a.post("/api/v1/communities/cataloging/library/folders", json={"name": name})
        assert answer.status_code == 422 and error_code(answer) == "invalid"
        error = answer.json()["error"]
        assert error["message"] == "A folder's name is text."
        assert error["fields"] == {"name": "Enter the name as text."}
    missing = a.post("/api/v1/communities/cataloging/library/folders", json={"name": " "})
    assert missing.json()["error"]["message"] == "Name the folder."
