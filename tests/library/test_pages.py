"""The library's pages: browsing, the upload form, the entry page, discussing, editing."""

import re

from tests.conftest import csrf_from
from tests.library.helpers import DOCUMENTS, count, multipart_body, open_library, upload


def send_form(client, url, fields, files=()):
    parts = [(f'form-data; name="{k}"'.encode(), v.encode()) for k, v in fields]
    parts += [(f'form-data; name="file"; filename="{n}"'.encode(), d) for n, d in files]
    body, content_type = multipart_body(parts)
    return client.post(url, content=body, headers={"Content-Type": content_type})


def test_upload_form_entry_page_and_new_version(site, admin, alice, bob):
    _, (a, b) = open_library(site, admin, alice, bob)
    form = a.get("/c/cataloging/library/new")
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.text
    token = csrf_from(form.text)
    # The token comes before the files in the form, as the server requires.
    assert form.text.index('name="csrf_token"') < form.text.index('name="file"')
    pdf = (DOCUMENTS / "manual.pdf").read_bytes()
    answer = send_form(
        a,
        "/c/cataloging/library/new",
        [
            ("csrf_token", token),
            ("title", "Python manual"),
            ("description", "The *compound* statements."),
            ("tags", "python, reference"),
            ("folder_id", ""),
        ],
        [("manual.pdf", pdf)],
    )
    assert answer.status_code == 200 and "Your document is in the library." in answer.text
    entry_url = str(answer.url)
    assert re.search(r"/c/cataloging/library/\d+$", entry_url)
    page = answer.text
    assert "<h1>Python manual</h1>" in page and "<em>compound</em>" in page
    assert "PDF document" in page and "Versions of manual.pdf" in page
    assert "/library/files/1/download" in page
    site.drain()
    page = b.get(entry_url).text
    assert "Text preview" in page and "Compound statements contain" in page
    assert "New version of" not in page  # bob may not upload versions

    token = csrf_from(a.get(entry_url).text)
    version = send_form(
        a,
        entry_url + "/files/1/versions",
        [("csrf_token", token)],
        [("manual-2nd.pdf", pdf + b"\n% second edition\n")],
    )
    assert version.status_code == 200
    assert "Version 2 of manual-2nd.pdf is now current." in version.text
    assert re.search(r"<td>2 <span class=\"badge\">current</span></td>", version.text)
    refused = send_form(
        a, entry_url + "/files/1/versions", [("csrf_token", token)], [("x.pdf", b"MZ\x90\x00")]
    )
    assert "not accepted" in refused.text  # shown on the entry page, nothing changed
    assert a.get("/api/v1/library/entries/1").json()["files"][0]["version"] == 2


def test_upload_form_errors_keep_what_was_typed(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    token = csrf_from(a.get("/c/cataloging/library/new").text)
    refused = send_form(
        a,
        "/c/cataloging/library/new",
        [("csrf_token", token), ("title", "My careful title"), ("tags", "keep, these")],
        [("virus.pdf", b"MZ\x90\x00\x03")],
    )
    assert refused.status_code == 415
    assert 'value="My careful title"' in refused.text and 'value="keep, these"' in refused.text
    assert "not accepted" in refused.text and 'aria-invalid="true"' in refused.text
    missing = send_form(
        a, "/c/cataloging/library/new", [("csrf_token", token), ("title", "No file")]
    )
    assert missing.status_code == 422 and "Choose a file." in missing.text
    assert count(site) == 0


def test_library_page_folders_sorting_and_list_view(site, admin, alice, bob):
    _, (a, b) = open_library(site, admin, alice, bob)
    page = a.get("/c/cataloging/library")
    assert "No documents here yet." in page.text and "Add a document" in page.text
    made = a.post(
        "/c/cataloging/library/folders",
        data={"csrf_token": csrf_from(page.text), "name": "Policies"},
    )
    assert made.status_code == 200 and "Folder “Policies” created." in made.text
    folder_id = int(re.search(r"folder=(\d+)", str(made.url)).group(1))
    upload(a, "cataloging", [("b.txt", b"b\n")], title="Beta", folder_id=folder_id)
    upload(a, "cataloging", [("a.txt", b"a\n")], title="Alpha")
    root = b.get("/c/cataloging/library").text
    assert "Policies" in root and "Alpha" in root and "Beta" not in root
    assert "Add a document" in root  # bob is a member
    inside = b.get(f"/c/cataloging/library?folder={folder_id}").text
    assert "Beta" in inside and "Alpha" not in inside
    everything = b.get("/c/cataloging/library?view=all&sort=title").text
    assert everything.index("Alpha") < everything.index("Beta")
    assert b.get("/c/cataloging/library?folder=999").status_code == 404
    anonymous = site.anonymous().get("/c/cataloging/library").text
    assert "Alpha" in anonymous and "Add a document" not in anonymous


def test_discuss_edit_and_remove(site, admin, alice, bob):
    _, (a, b) = open_library(site, admin, alice, bob)
    entry = upload(a, "cataloging", [("plan.txt", b"plan\n")], title="Strategic plan").json()
    url = f"/c/cataloging/library/{entry['id']}"
    page = b.get(url).text
    assert "Discuss this document" in page and "Edit details" not in page
    discussed = b.post(url + "/discuss", data={"csrf_token": csrf_from(page)})
    assert discussed.status_code == 200 and re.search(r"/threads/\d+$", str(discussed.url))
    assert "<h1>Strategic plan</h1>" in discussed.text and url in discussed.text
    thread_id = a.get(f"/api/v1/library/entries/{entry['id']}").json()["thread_id"]
    assert thread_id and str(discussed.url).endswith(f"/threads/{thread_id}")
    # A second click goes to the same discussion.
    again = a.post(url + "/discuss", data={"csrf_token": csrf_from(a.get(url).text)})
    assert str(again.url).endswith(f"/threads/{thread_id}")
    assert f'href="/threads/{thread_id}"' in a.get(url).text

    edit = a.get(url + "/edit")
    assert edit.status_code == 200 and b.get(url + "/edit").status_code == 403
    saved = a.post(
        url + "/edit",
        data={"csrf_token": csrf_from(edit.text), "title": "Plan 2030", "description": "",
              "tags": "strategy", "folder_id": ""},
    )  # fmt: skip
    assert saved.status_code == 200 and "<h1>Plan 2030</h1>" in saved.text
    bad = a.post(url + "/edit", data={"csrf_token": csrf_from(edit.text), "title": ""})
    assert bad.status_code == 422 and "Enter a title." in bad.text
    removed = a.post(url + "/delete", data={"csrf_token": csrf_from(a.get(url).text)})
    assert removed.status_code == 200 and "is removed from the library" in removed.text
    assert a.get(url).status_code == 404


def test_a_refused_file_keeps_every_typed_field_in_the_order_a_browser_sends_them(
    site, admin, alice
):
    _, (a,) = open_library(site, admin, alice)
    box = a.post("/api/v1/communities/cataloging/library/folders", json={"name": "Minutes"}).json()
    page = a.get("/c/cataloging/library/new").text
    start = page.index('<form method="post" enctype="multipart/form-data"')
    form = page[start : page.index("</form>", start)]
    # A browser sends the form's controls in the order they appear in it.
    order = re.findall(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"', form)
    typed = {
        "csrf_token": csrf_from(page),
        "title": "My careful title",
        "description": "Three paragraphs of context",
        "tags": "keep, these",
        "folder_id": str(box["id"]),
    }
    assert set(order) == {*typed, "file"}
    for refused_file, status in ((b"MZ\x90\x00\x03", 415), (b"", 422)):
        parts = []
        for name in order:
            if name == "file":
                parts.append((b'form-data; name="file"; filename="minutes.pdf"', refused_file))
            else:
                parts.append((f'form-data; name="{name}"'.encode(), typed[name].encode()))
        body, content_type = multipart_body(parts)
        answer = a.post(
            "/c/cataloging/library/new", content=body, headers={"Content-Type": content_type}
        )
        assert answer.status_code == status, answer.text
        assert 'value="My careful title"' in answer.text
        assert "Three paragraphs of context</textarea>" in answer.text
        assert 'value="keep, these"' in answer.text
        assert re.search(rf'<option value="{box["id"]}"[^>]*selected', answer.text)
    assert count(site) == 0


def test_a_refused_new_version_is_shown_as_an_error_not_a_confirmation(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    entry = upload(a, "cataloging", [("notes.txt", b"first\n")]).json()
    entry_url = f"/c/cataloging/library/{entry['id']}"
    token = csrf_from(a.get(entry_url).text)
    versions_url = f"{entry_url}/files/{entry['files'][0]['id']}/versions"
    refused = send_form(a, versions_url, [("csrf_token", token)], [("x.pdf", b"MZ\x90\x00")])
    assert refused.status_code == 200
    alert = re.search(r'<div class="error-summary" role="alert"><p>([^<]*)</p>', refused.text)
    assert alert and "not accepted" in alert.group(1)
    assert '<div class="notice" role="status">' not in refused.text
    accepted = send_form(a, versions_url, [("csrf_token", token)], [("n.txt", b"second\n")])
    assert '<div class="notice" role="status">Version 2 of n.txt is now current.' in accepted.text
    assert 'class="error-summary"' not in accepted.text
