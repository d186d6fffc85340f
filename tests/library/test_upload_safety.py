"""Upload safety: size limit, types from content, filenames as display text, no leftovers."""

import dataclasses
import io
import re
import zipfile
from urllib.parse import unquote

import pytest

from connect.library.filetypes import sniff
from tests.conftest import BASE_URL, csrf_from, error_code
from tests.library.helpers import (
    DOCUMENTS,
    count,
    multipart_body,
    open_library,
    stored,
    upload,
    versions,
)

MB = 1024 * 1024
SHA256_NAME = re.compile(r"[0-9a-f]{64}")


def limit_mb(site, megabytes: int) -> None:
    site.ctx.settings = dataclasses.replace(site.ctx.settings, max_upload_mb=megabytes)


def nothing_left(site) -> None:
    assert count(site) == 0 and versions(site) == 0
    assert stored(site) == (set(), [])


def zipped(entries: dict[str, bytes], first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if first:
            archive.writestr(first, entries.pop(first), compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_over_the_limit_is_413_and_leaves_nothing(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    limit_mb(site, 1)
    answer = upload(a, "cataloging", [("big.txt", b"a" * (MB + 1))])
    assert answer.status_code == 413 and error_code(answer) == "too_large"
    # Several files share one limit.
    answer = upload(a, "cataloging", [("one.txt", b"a" * (MB // 2 + 10))] * 2)
    assert answer.status_code == 413
    nothing_left(site)
    assert upload(a, "cataloging", [("fits.txt", b"a" * (MB - 1000))]).status_code == 201


def test_a_declared_length_over_the_limit_is_refused_before_reading(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    limit_mb(site, 1)
    body, content_type = multipart_body([(b'form-data; name="file"; filename="x.txt"', b"small")])
    answer = a.post(
        "/api/v1/communities/cataloging/library/entries",
        content=body,
        headers={"Content-Type": content_type, "Content-Length": str(200 * MB)},
    )
    assert answer.status_code == 413
    nothing_left(site)


TEXT = "text/plain; charset=utf-8"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'
OOXML = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}
EPUB = {"mimetype": b"application/epub+zip", "x.xhtml": b"<p/>"}
ODF = {"mimetype": ODS.encode(), "content.xml": b"<x/>"}
BY_CONTENT = [
    ("photo.png", (DOCUMENTS / "manual.pdf").read_bytes(), "pdf", "application/pdf"),
    ("notes.exe", "plain words, naïve café\n".encode(), "txt", TEXT),
    ("latin1.txt", "caf\xe9\n".encode("cp1252"), "txt", "text/plain; charset=windows-1252"),
    ("page.pdf", HTML, "html", TEXT),
    ("pic.svg", SVG, "txt", TEXT),
    ("archive.bin", zipped({"a.txt": b"hello"}), "zip", "application/zip"),
    ("doc.zip", zipped(OOXML), "docx", DOCX),
    ("book.zip", zipped(EPUB, first="mimetype"), "epub", "application/epub+zip"),
    ("sheet", zipped(ODF, first="mimetype"), "ods", ODS),
    ("gif.txt", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "gif", "image/gif"),
    ("w.jpg", b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp", "image/webp"),
]


@pytest.mark.parametrize(("name", "data", "kind", "content_type"), BY_CONTENT)
def test_the_type_comes_from_the_content_not_the_name(
    site, admin, alice, name, data, kind, content_type
):
    _, (a,) = open_library(site, admin, alice)
    answer = upload(a, "cataloging", [(name, data)])
    assert answer.status_code == 201, answer.text
    file = answer.json()["files"][0]
    assert (file["kind"], file["content_type"], file["filename"]) == (kind, content_type, name)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"),
        ("notes.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"),
        ("data.csv", b"a,b\n1,\x002\n"),
        ("broken.docx", b"PK\x03\x04 this is no archive at all"),
        ("image.png", bytes(range(256)) * 4),
        ("utf16.txt", "hello".encode("utf-16")),
    ],
)
def test_types_outside_the_allowlist_are_415_and_leave_nothing(site, admin, alice, name, data):
    _, (a,) = open_library(site, admin, alice)
    answer = upload(a, "cataloging", [("ok.txt", b"fine\n"), (name, data)])
    assert answer.status_code == 415, answer.text
    assert error_code(answer) == "unsupported_type"
    nothing_left(site)  # the acceptable first file went too: no entry was made


def test_an_empty_file_is_refused(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    answer = upload(a, "cataloging", [("empty.txt", b"")])
    assert answer.status_code == 422 and "file" in answer.json()["error"]["fields"]
    nothing_left(site)


def test_every_shared_document_is_recognised():
    kinds = {
        "report.docx": "docx", "report.odt": "odt", "slides.pptx": "pptx", "budget.xlsx": "xlsx",
        "manual.pdf": "pdf", "guide.epub": "epub", "notes.md": "md", "notes.txt": "txt",
        "table.csv": "csv", "page.html": "html",
    }  # fmt: skip
    for name, kind in kinds.items():
        assert sniff(DOCUMENTS / name, name).kind == kind, name


TORTURE = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\System32\\evil.pdf", "evil.pdf"),
    ("/absolute/path/report.pdf", "report.pdf"),
    ("nul\x00byte.pdf", "nul byte.pdf"),
    ("line%0D%0ASet-Cookie: a=b.pdf", "line%0D%0ASet-Cookie: a=b.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("zero\u200bwidth\u2066.pdf", "zerowidth.pdf"),
    ("tab\there.pdf", "tab here.pdf"),
    ("..", "file"),
    ("...pdf", "pdf"),
    ("<b>bold</b>.pdf", "b>.pdf"),  # "/" ends a path, whatever surrounds it
    ("<script>alert(1).pdf", "<script>alert(1).pdf"),
    ('say "hi".pdf', 'say "hi".pdf'),
    ("Ünïcödé 文件 résumé.pdf", "Ünïcödé 文件 résumé.pdf"),
]


def test_filenames_are_only_display_text(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    long_name = "x" * 300 + ".pdf"
    cases = TORTURE + [(long_name, "x" * 251 + ".pdf")]
    parts = [(b'form-data; name="title"', b"Torture")]
    for raw, _ in cases:
        quoted = raw.replace("\\", "\\\\").replace('"', '\\"')
        parts.append((f'form-data; name="file"; filename="{quoted}"'.encode(), b"%PDF-1.4\n"))
    body, content_type = multipart_body(parts)
    answer = a.post(
        "/api/v1/communities/cataloging/library/entries",
        content=body,
        headers={"Content-Type": content_type},
    )
    assert answer.status_code == 201, answer.text
    names = [f["filename"] for f in answer.json()["files"]]
    assert names == [expected for _, expected in cases]
    for name in names:
        assert len(name) <= 255
        assert not set(name) & {"/", "\\", "\x00", "\r", "\n", "\t", "\u202e", "\u2066"}

    # On disk, only server-made names: sha256 digests (and the lock file).
    files_dir = site.ctx.storage.root
    on_disk = [p for p in files_dir.rglob("*") if p.is_file() and p.name != ".lock"]
    assert on_disk and all(SHA256_NAME.fullmatch(p.name) for p in on_disk)
    assert not (site.ctx.settings.data_dir.parent / "etc").exists()

    # Downloads name the file safely: ASCII stand-in plus the exact UTF-8 name.
    for file in answer.json()["files"]:
        got = a.get(file["download_url"])
        disposition = got.headers["content-disposition"]
        assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
        assert disposition.startswith('attachment; filename="')
        assert "set-cookie" not in {k.lower() for k in got.headers}
        encoded = disposition.split("filename*=UTF-8''", 1)[1]
        assert unquote(encoded) == file["filename"]


def test_a_raw_crlf_in_a_filename_cannot_inject_headers(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    body, content_type = multipart_body(
        [(b'form-data; name="file"; filename="a\r\nX-Injected: 1\r\n.pdf"', b"%PDF-1.4\n")]
    )
    answer = a.post(
        "/api/v1/communities/cataloging/library/entries",
        content=body,
        headers={"Content-Type": content_type},
    )
    assert answer.status_code in (201, 400), answer.text
    if answer.status_code == 201:
        (file,) = answer.json()["files"]
        assert "\r" not in file["filename"] and "\n" not in file["filename"]
        assert "x-injected" not in a.get(file["download_url"]).headers


def test_a_body_shorter_than_announced_leaves_no_file_and_no_row(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    body, content_type = multipart_body(
        [(b'form-data; name="file"; filename="cut.txt"', b"a" * 100_000)]
    )
    cut = body[: len(body) // 2]
    answer = a.post(
        "/api/v1/communities/cataloging/library/entries",
        content=cut,
        headers={"Content-Type": content_type, "Content-Length": str(len(body))},
    )
    assert answer.status_code == 400 and error_code(answer) == "incomplete_upload"
    nothing_left(site)


def test_a_client_that_disconnects_mid_upload_leaves_no_file_and_no_row(site, admin, alice):
    """Drive the app at the ASGI level: some body, then the client goes away."""
    _, (a,) = open_library(site, admin, alice)
    token = site.bearer(alice).headers["Authorization"]
    body, content_type = multipart_body(
        [(b'form-data; name="file"; filename="gone.txt"', b"a" * (3 * MB))]
    )
    messages = [
        {"type": "http.request", "body": body[:MB], "more_body": True},
        {"type": "http.request", "body": body[MB : 2 * MB], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/communities/cataloging/library/entries",
        "raw_path": b"/api/v1/communities/cataloging/library/entries",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", BASE_URL.split("//")[1].encode()),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", token.encode()),
        ],
        "state": {},
    }
    site.call(site.app, scope, receive, send)
    assert sent[0]["status"] == 400
    nothing_left(site)


def test_html_forms_must_show_their_csrf_token_before_any_file(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    token = csrf_from(a.get("/c/cataloging/library/new").text)
    file_part = (b'form-data; name="file"; filename="x.txt"', b"hello\n")
    for parts in (
        [file_part],  # no token at all
        [(b'form-data; name="csrf_token"', b"forged"), file_part],
        [file_part, (b'form-data; name="csrf_token"', token.encode())],  # token too late
    ):
        body, content_type = multipart_body(parts)
        answer = a.post(
            "/c/cataloging/library/new", content=body, headers={"Content-Type": content_type}
        )
        assert answer.status_code == 403
        nothing_left(site)
    body, content_type = multipart_body(
        [(b'form-data; name="csrf_token"', token.encode()), file_part]
    )
    answer = a.post(
        "/c/cataloging/library/new",
        content=body,
        headers={"Content-Type": content_type},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and count(site) == 1


def test_only_members_may_upload_and_outsiders_send_nothing(site, admin, alice, bob):
    owner, (a,) = open_library(site, admin, alice)
    outsider = site.signed_in(bob)
    assert upload(outsider, "cataloging", [("x.txt", b"x\n")]).status_code == 403
    assert upload(site.anonymous(), "cataloging", [("x.txt", b"x\n")]).status_code == 401
    site.community(owner, "hidden", visibility="private")
    assert upload(a, "hidden", [("x.txt", b"x\n")]).status_code == 404
    site.community(owner, "council", visibility="closed")  # there, but members only
    assert upload(a, "council", [("x.txt", b"x\n")]).status_code == 403
    not_multipart = a.post(
        "/api/v1/communities/cataloging/library/entries", json={"title": "no file"}
    )
    assert not_multipart.status_code == 400
    nothing_left(site)
