"""Helpers for library tests: a community with members, uploads, the documents folder."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from connect.library.models import Entry, FileVersion
from tests.conftest import DOCUMENTS  # noqa: E402

EXPECTED = DOCUMENTS / "expected.json"


def expected() -> dict:
    return json.loads(EXPECTED.read_text())["files"]


def collapse(text: str) -> str:
    return " ".join(text.split())


def open_library(site, admin, *members, slug="cataloging", **settings):
    """A community owned by admin that the members have joined; their signed-in clients."""
    owner = site.signed_in(admin)
    site.community(owner, slug, **settings)
    clients = []
    for m in members:
        c = site.signed_in(m)
        assert c.post(f"/api/v1/communities/{slug}/join").status_code == 200
        clients.append(c)
    return owner, clients


def upload(client, slug, files, **fields):
    """POST a new entry; files are (filename, bytes) pairs."""
    return client.post(
        f"/api/v1/communities/{slug}/library/entries",
        data={k: str(v) for k, v in fields.items()},
        files=[("file", (name, data, "application/octet-stream")) for name, data in files],
    )


def multipart_body(parts: list[tuple[bytes, bytes]], boundary: bytes = b"b0undary7") -> tuple:
    """A hand-made multipart body: parts are (Content-Disposition value, content)."""
    body = b""
    for disposition, content in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        body += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def count(site, model=Entry) -> int:
    async def run():
        async with site.ctx.db.read() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar()

    return site.call(run)


def versions(site) -> int:
    return count(site, FileVersion)


def stored(site) -> tuple[set[str], list[Path]]:
    """(blobs in place, files left in the temporary folder)."""
    storage = site.ctx.storage
    return storage.all_digests(), storage.tmp_files()


def extract_job(site):
    """Run the extraction job once (what the workers do every few seconds)."""
    job = next(j for j in site.ctx.workers.jobs if j.name == "extract")
    return site.call(job.run)
