"""Words are found however they are written: with dots (versions, host names), inside
Markdown marks, or with accents. The index and the query cut text into words the same way."""

import json

import pytest

from connect.search.store import META
from tests.conftest import DOCUMENTS
from tests.library.helpers import expected, extract_job
from tests.search.helpers import community, ids, reply, search, thread

NOTES = DOCUMENTS / "notes.txt"


def upload(client, slug, files, **fields):
    answer = client.post(
        f"/api/v1/communities/{slug}/library/entries",
        data={k: str(v) for k, v in fields.items()},
        files=[("file", (name, data, "text/plain")) for name, data in files],
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def indexed(site) -> None:
    site.drain()
    extract_job(site)
    site.drain()


def test_dotted_words_are_found_whole_and_by_their_parts(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "releases", alice)
    entry = upload(
        a,
        "releases",
        [("release.txt", b"The release 4.2.9 is on files.example.org from today.")],
        title="Release notes",
    )
    indexed(site)
    anyone = site.anonymous()
    for q in ("4.2.9", "files.example.org", "example", "example.org", '"release 4.2.9"'):
        assert ids(search(anyone, q)) == {entry["id"]}, q
    assert search(anyone, "4.2.8")["total"] == 0
    assert search(anyone, "9.2.4")["total"] == 0  # the parts in their order
    (item,) = search(anyone, "files.example.org")["items"]
    assert "<mark>files</mark>.<mark>example</mark>.<mark>org</mark>" in item["snippet"]


@pytest.mark.skipif(not NOTES.exists(), reason="the shared documents folder is missing")
def test_a_host_name_inside_a_real_document_is_found(site, admin, alice):
    (sentence,) = [
        s["text"] for s in expected()["notes.txt"]["strings"] if "primates." in s["text"]
    ]
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "manpages", alice)
    entry = upload(a, "manpages", [("notes.txt", NOTES.read_bytes())], title="Packaging notes")
    indexed(site)
    anyone = site.anonymous()
    assert "primates.ximian.com" in sentence
    for q in ("primates", "ximian", "primates.ximian.com", f'"{sentence}"'):
        assert ids(search(anyone, q)) == {entry["id"]}, q


def test_words_inside_markdown_marks_in_a_library_description(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "marks", alice)
    entry = upload(
        a,
        "marks",
        [("plain.txt", b"nothing special")],
        title="Marked up",
        description="A description with **strongdesc** and _emdesc_ marks",
    )
    indexed(site)
    anyone = site.anonymous()
    assert ids(search(anyone, "strongdesc")) == {entry["id"]}
    assert ids(search(anyone, "emdesc")) == {entry["id"]}
    (item,) = search(anyone, "strongdesc")["items"]
    assert "**" not in item["snippet"]  # the description as readers see it


def test_accents_are_folded_on_both_sides(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "careers", alice)
    t = thread(a, "careers", "Your résumé", "Bring a crème brûlée to the interview")
    entry = upload(a, "careers", [("cv.txt", b"curriculum")], title="Template", tags="état, Zoë")
    indexed(site)
    anyone = site.anonymous()
    for q in ("resume", "résumé", "RÉSUMÉ", "creme", "brulee", '"creme brulee"', "resum*"):
        assert ids(search(anyone, q)) == {t["id"]}, q
    for q in ("tag:etat", "tag:état", "tag:ÉTAT", "tag:zoe", "etat", "zoe"):
        assert ids(search(anyone, q)) == {entry["id"]}, q
    (item,) = search(anyone, "resume")["items"]
    assert item["title_html"] == "Your <mark>résumé</mark>"
    long = reply(a, t["id"], "Filler words here. " * 300 + "Bring some élan to it.")
    site.drain()
    (item,) = search(anyone, "elan")["items"]
    assert item["id"] == long["id"] and "<mark>élan</mark>" in item["snippet"]


def test_an_index_of_the_previous_format_is_rebuilt_from_the_database(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "careers", alice)
    t = thread(a, "careers", "Your résumé", "Version 4.2.9 of the template")
    site.drain()
    store = site.ctx.search.store
    old = store.current_path()
    meta = json.loads((old / META).read_text())
    (old / META).write_text(json.dumps({**meta, "schema_version": 1}))  # before accents
    store.drop_searcher()
    site.ctx.search.engine._local.__dict__.clear()
    assert "schema 1" in site.call(site.ctx.search.startup_check)
    site.call(site.ctx.search.indexer.catch_up)
    assert store.current_path() != old
    assert ids(search(site.anonymous(), "resume 4.2.9")) == {t["id"]}
