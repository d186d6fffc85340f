"""`connect gc`: blobs no row refers to are removed, and only those."""

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import inspect

from connect import migrate
from connect.db import make_engine
from connect.storage import collect_garbage
from tests.browser.helpers import write_png
from tests.library.helpers import open_library, stored, upload

ROOT = Path(__file__).resolve().parents[2]


def gc(site, min_age: float = 0):
    return site.call(collect_garbage, site.ctx.db, site.ctx.storage, min_age=min_age)


def test_gc_removes_unreferenced_blobs_only(site, admin, alice, tmp_path):
    _, (a,) = open_library(site, admin, alice)
    kept = upload(a, "cataloging", [("kept.txt", b"kept v1\n")]).json()
    file_id = kept["files"][0]["id"]
    a.post(
        f"/api/v1/library/entries/{kept['id']}/files/{file_id}/versions",
        files=[("file", ("kept.txt", b"kept v2\n"))],
    )
    doomed = upload(a, "cataloging", [("doomed.txt", b"doomed\n")]).json()
    shared = upload(a, "cataloging", [("shared.txt", b"shared bytes\n")]).json()
    twin = upload(a, "cataloging", [("twin.txt", b"shared bytes\n")]).json()
    png = write_png(tmp_path / "me.png")
    assert (
        a.put(
            "/api/v1/members/alice/avatar",
            files={"avatar": ("me.png", png.read_bytes(), "image/png")},
        ).status_code
        == 200
    )
    blobs_before, _ = stored(site)
    assert len(blobs_before) == 5  # two versions, doomed, shared (once), the avatar

    for entry in (doomed, twin):
        assert a.delete(f"/api/v1/library/entries/{entry['id']}").status_code == 204
    stale = site.ctx.storage.tmp / "abandoned.part"
    stale.write_bytes(b"half an upload")
    old = time.time() - 7200
    os.utime(stale, (old, old))

    # Young blobs are spared by default (an upload may be about to commit its row);
    # a temporary file abandoned two hours ago is not.
    spared = gc(site, min_age=3600)
    assert spared.removed == [] and spared.stale_tmp == 1
    report = gc(site)
    doomed_sha = doomed["files"][0]["sha256"]
    assert report.removed == [doomed_sha] and report.bytes_freed == len(b"doomed\n")
    blobs_after, tmp = stored(site)
    assert blobs_after == blobs_before - {doomed_sha} and tmp == []
    # What is still referenced still downloads: every version, the twin's bytes, the avatar.
    for version in (1, 2):
        assert (
            a.get(f"/api/v1/library/files/{file_id}/download?version={version}").status_code == 200
        )
    assert a.get(shared["files"][0]["download_url"]).content == b"shared bytes\n"
    assert site.anonymous().get("/members/alice/avatar").status_code == 200
    assert gc(site).removed == []


def test_an_upload_of_bytes_already_stored_refreshes_them(site, admin, alice):
    """gc spares young blobs; finding old bytes again makes them young, so a collection
    running while the new row commits cannot take them."""
    _, (a,) = open_library(site, admin, alice)
    first = upload(a, "cataloging", [("a.txt", b"same\n")]).json()
    path = site.ctx.storage.path(first["files"][0]["sha256"])
    old = time.time() - 7200
    os.utime(path, (old, old))
    a.delete(f"/api/v1/library/entries/{first['id']}")
    upload(a, "cataloging", [("b.txt", b"same\n")])
    assert path.stat().st_mtime > old + 3600
    assert gc(site, min_age=3600).removed == []


def test_the_gc_command(tmp_path):
    """End to end through `connect gc` (needs the library tables in the migrations)."""
    data_dir = tmp_path / "var"
    url = f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"
    data_dir.mkdir()
    migrate.upgrade(url)
    import asyncio

    async def tables():
        engine = make_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        return names

    if "library_file_versions" not in asyncio.run(tables()):
        import pytest

        pytest.skip("the library tables have no migration yet")
    orphan = data_dir / "files" / "ab" / "cd" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"nobody's")
    env = {**os.environ, "CONNECT_DATA_DIR": str(data_dir)}
    env.pop("CONNECT_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "connect.cli", "gc", "--min-age", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 unreferenced file(s) removed" in done.stdout
    assert not orphan.exists()
