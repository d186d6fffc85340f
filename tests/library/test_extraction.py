"""Text extraction: real documents, damaged and hostile files, limits, and the job."""

import io
import time
import zipfile

import pytest
from sqlalchemy import select

from connect.events import Event
from connect.library import reading
from connect.library.extract import ExtractionFailed, Limits, extract
from connect.library.models import FileText
from tests.library.helpers import (
    DOCUMENTS,
    collapse,
    expected,
    extract_job,
    open_library,
    upload,
)

MB = 1024 * 1024


def texts(site) -> dict[int, FileText]:
    async def run():
        async with site.ctx.db.read() as session:
            return {t.version_id: t for t in (await session.execute(select(FileText))).scalars()}

    return site.call(run)


def version_id(entry: dict) -> int:
    return entry["files"][0]["versions"][0]["id"]


def text_events(site) -> list[Event]:
    async def run():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(Event).where(Event.type == "entry.text_extracted").order_by(Event.id)
            )
            return list(rows.scalars())

    return site.call(run)


def test_known_sentences_are_found_in_every_shared_document(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    files = expected()
    entries = {}
    for name in files:
        answer = upload(a, "cataloging", [(name, (DOCUMENTS / name).read_bytes())])
        assert answer.status_code == 201, (name, answer.text)
        entries[name] = answer.json()
    site.drain()
    found = texts(site)
    for name, info in files.items():
        text = found[version_id(entries[name])]
        assert text.status == "ok", (name, text.detail)
        body = collapse(text.text)
        for known in info["strings"]:
            assert collapse(known["text"]) in body, (name, known["text"])
        # No sentence leaks into another document's text.
        for other, other_info in files.items():
            if other != name:
                for known in other_info["strings"]:
                    if len(known["text"]) > 30:
                        assert collapse(known["text"]) not in body, (name, other)
    for title in expected()["slides.pptx"]["slide_titles"]:
        assert title in found[version_id(entries["slides.pptx"])].text

    events = text_events(site)
    assert len(events) == len(files)
    assert {e.data["status"] for e in events} == {"ok"}
    assert all(e.audience == "public" and e.data["current"] for e in events)

    # The API reports it, the entry page previews it, and search can read it.
    pdf = entries["manual.pdf"]
    assert a.get(f"/api/v1/library/entries/{pdf['id']}").json()["files"][0]["text_status"] == "ok"
    page = a.get(f"/c/cataloging/library/{entries['notes.txt']['id']}").text
    assert "Why use man-db instead of man?" in page

    async def entry_text():
        async with site.ctx.db.read() as session:
            return await reading.entry_text(session, pdf["id"])

    assert "Compound statements contain" in site.call(entry_text)


def test_a_damaged_pdf_is_marked_failed_and_still_downloads(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    damaged = (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nendobj\n" + bytes(range(256)) * 40
    )
    entry = upload(a, "cataloging", [("damaged.pdf", damaged)]).json()
    site.drain()
    text = texts(site)[version_id(entry)]
    assert text.status == "failed" and text.detail
    file = entry["files"][0]
    assert a.get(file["download_url"]).content == damaged
    page = a.get(f"/c/cataloging/library/{entry['id']}").text
    assert "could not be read" in page and "You can still download it" in page
    (event,) = text_events(site)
    assert event.data["status"] == "failed"


def zip_bomb(kind: str = "docx", unpacked_mb: int = 200) -> bytes:
    inner = {"docx": "word/document.xml", "pptx": "ppt/slides/slide1.xml", "odt": "content.xml"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        if kind == "odt":
            archive.writestr(
                "mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED
            )
        else:
            archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(inner[kind], "w") as member:
            member.write(b"<w:document>")
            zeros = b"\0" * MB
            for _ in range(unpacked_mb):
                member.write(zeros)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["docx", "pptx", "odt"])
def test_a_zip_bomb_is_marked_failed_quickly(site, admin, alice, kind):
    _, (a,) = open_library(site, admin, alice)
    bomb = zip_bomb(kind)
    assert len(bomb) < 400_000  # 200 MB unpacked
    answer = upload(a, "cataloging", [(f"bomb.{kind}", bomb)])
    assert answer.status_code == 201 and answer.json()["files"][0]["kind"] == kind
    # CPU time of this process (extraction runs in its threads): inflating the 200 MB
    # would take seconds of it; wall time would only measure how busy the machine is.
    started = time.process_time()
    site.drain()
    assert time.process_time() - started < 2
    text = texts(site)[version_id(answer.json())]
    assert text.status == "failed"
    assert "zip bomb" in text.detail or "too large" in text.detail


def test_archive_guards_count_entries_and_bound_the_output(tmp_path):
    many = tmp_path / "many.pptx"
    with zipfile.ZipFile(many, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for n in range(200):
            archive.writestr(f"ppt/slides/slide{n}.xml", "<p:sld/>")
    with pytest.raises(ExtractionFailed, match="entries"):
        extract(many, "pptx", limits=Limits(zip_entries=100))
    manual = DOCUMENTS / "manual.pdf"
    capped = extract(manual, "pdf", limits=Limits(max_chars=500))
    assert capped.truncated and len(capped.text) <= 500
    with pytest.raises(ExtractionFailed, match="longer than"):
        extract(manual, "pdf", limits=Limits(seconds=0))
    pages = extract(manual, "pdf", limits=Limits(max_pages=1))
    assert pages.truncated and "Compound statements contain" in collapse(pages.text)
    assert "Exceptions are cleared because" not in collapse(pages.text)  # that is page 3


def test_images_and_archives_have_no_text(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    png = upload(a, "cataloging", [("pixel.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)]).json()
    site.drain()
    assert texts(site)[version_id(png)].status == "unsupported"
    page = a.get(f"/c/cataloging/library/{png['id']}").text
    assert "no text to preview" in page


def test_large_files_are_left_to_the_extraction_job(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    big = ("A line of the large report about cataloguing.\n" * 40_000).encode()
    assert len(big) > MB
    entry = upload(a, "cataloging", [("large.txt", big)]).json()
    site.drain()  # the consumer marks it, without reading it inside its transaction
    assert texts(site)[version_id(entry)].status == "pending"
    assert text_events(site) == []
    assert extract_job(site) == 1
    text = texts(site)[version_id(entry)]
    assert text.status == "ok" and "large report about cataloguing" in text.text
    assert text.attempts == 1
    assert [e.data["status"] for e in text_events(site)] == ["ok"]
    assert extract_job(site) == 0  # nothing left


def test_each_new_version_is_extracted(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    entry = upload(a, "cataloging", [("memo.txt", b"the first memo\n")]).json()
    file_id = entry["files"][0]["id"]
    a.post(
        f"/api/v1/library/entries/{entry['id']}/files/{file_id}/versions",
        files=[("file", ("memo.txt", b"the second memo\n"))],
    )
    site.drain()
    statuses = a.get(f"/api/v1/library/entries/{entry['id']}").json()["files"][0]["versions"]
    assert [v["text_status"] for v in statuses] == ["ok", "ok"]
    events = text_events(site)
    assert [(e.data["version"], e.data["current"]) for e in events] == [(1, False), (2, True)]

    async def entry_text():
        async with site.ctx.db.read() as session:
            return await reading.entry_text(session, entry["id"])

    assert site.call(entry_text).strip() == "the second memo"


def test_a_held_entrys_text_event_goes_to_its_author_and_moderators(site, admin, alice):
    _, (a,) = open_library(site, admin, alice, slug="youth", moderation="all")
    entry = upload(a, "youth", [("held.txt", b"held words\n")]).json()
    assert entry["status"] == "pending"
    site.drain()
    (event,) = text_events(site)
    assert event.audience == "author" and event.actor_id == alice.id
