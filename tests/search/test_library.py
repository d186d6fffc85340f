"""Library documents are found by title, tags, file names and the text inside their files."""

import pytest

from tests.conftest import DOCUMENTS  # noqa: E402
from tests.library.helpers import extract_job
from tests.search.helpers import community, ids, search

MANUAL = DOCUMENTS / "manual.pdf"
SENTENCE = "they form a reference cycle with the stack frame"


def upload(client, slug, files, **fields):
    answer = client.post(
        f"/api/v1/communities/{slug}/library/entries",
        data={k: str(v) for k, v in fields.items()},
        files=[("file", (name, data, "application/octet-stream")) for name, data in files],
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.skipif(not MANUAL.exists(), reason="the shared documents folder is missing")
def test_text_inside_a_pdf_is_found_with_its_file_name(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "pythonistas", alice)
    entry = upload(
        a,
        "pythonistas",
        [("language-manual.pdf", MANUAL.read_bytes())],
        title="Language reference",
        description="The compound statements chapter",
        tags="python, reference",
    )
    site.drain()
    extract_job(site)  # a busy machine may leave the PDF to the extraction job
    site.drain()
    anyone = site.anonymous()
    found = search(anyone, f'"{SENTENCE}"')
    assert ids(found) == {entry["id"]}
    (item,) = found["items"]
    assert item["type"] == "entry"
    assert item["url"] == f"/c/pythonistas/library/{entry['id']}"
    assert item["file"] == "language-manual.pdf"
    assert "<mark>reference</mark> <mark>cycle</mark>" in item["snippet"]
    assert ids(search(anyone, "tag:python")) == {entry["id"]}
    assert ids(search(anyone, "manual type:entry")) == {entry["id"]}  # the file's name
    page = anyone.get("/search", params={"q": SENTENCE})
    assert "language-manual.pdf" in page.text


def test_entries_follow_edits_deletion_and_their_community(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "council", alice, visibility="closed")
    entry = upload(
        a, "council", [("minutes.txt", b"Budget minutes: the quinoa fund")], title="Minutes"
    )
    site.drain()
    assert search(site.anonymous(), "quinoa")["total"] == 0  # closed community
    assert ids(search(a, "quinoa")) == {entry["id"]}
    assert (
        a.patch(f"/api/v1/library/entries/{entry['id']}", json={"title": "Old minutes"}).status_code
        == 200
    )
    site.drain()
    assert search(a, "old minutes")["items"][0]["title"] == "Old minutes"
    assert a.delete(f"/api/v1/library/entries/{entry['id']}").status_code == 204
    site.drain()
    assert search(a, "quinoa")["total"] == 0
