"""`connect backup` while the site runs, `connect restore` into an empty site: every table's
rows and every file come back exactly, and the search index is rebuilt from the database."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connect import cli
from connect.backup import BackupError, _counts, create_backup, restore_backup
from connect.search.store import IndexStore
from connect.settings import Settings
from connect.storage import Storage
from tests.conftest import BASE_URL
from tests.ops.databases import postgres_database, sqlite_url
from tests.ops.site import ADMIN_PASSWORD, create_admin, make_app, seed

# The tables a concurrent reply touches; every other table must match the original exactly.
WRITTEN_WHILE_BACKING_UP = {
    "posts",
    "threads",
    "events",
    "subscriptions",
    "notifications",
    "outgoing_mail",
    "thread_reads",
    "consumer_cursors",
    "tokens",
}


def site_settings(root: Path, url: str) -> Settings:
    return Settings.from_env(
        {},
        data_dir=root,
        database_url=url,
        base_url=BASE_URL,
        run_workers=False,
        rate_limits=False,
    )


@contextlib.contextmanager
def databases(backend: str, tmp_path: Path):
    """(source url with tables, empty target url) for the backend."""
    if backend == "sqlite":
        yield (
            sqlite_url(tmp_path / "source.db", schema=True),
            sqlite_url(tmp_path / "restored.db", schema=False),
        )
        return
    with (
        postgres_database(schema=True) as source,
        postgres_database(schema=False) as target,
    ):
        yield source, target


def blob_digests(settings: Settings) -> dict[str, str]:
    """name -> sha256 of the content, for every blob in the data folder."""
    storage = Storage(settings.path("files"))
    return {
        digest: hashlib.sha256(storage.path(digest).read_bytes()).hexdigest()
        for digest in storage.all_digests()
    }


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backup_of_a_running_site_restores_exactly(backend, tmp_path):
    with databases(backend, tmp_path) as (source_url, target_url):
        source = site_settings(tmp_path / "site", source_url)
        app = make_app(source)
        admin_id = create_admin(app)
        archive = tmp_path / "backups" / "site.tar.gz"
        with TestClient(app, base_url=BASE_URL) as client:
            seeded = seed(client, admin_id)
            auth = {"Authorization": f"Bearer {seeded.token}"}
            thread = seeded.threads[0]
            stop = threading.Event()
            replies = []

            def keep_writing():
                # Members keep posting while the backup runs: it must not stop the site.
                while not stop.is_set():
                    answer = client.post(
                        f"/api/v1/threads/{thread}/posts", json={"body": "meanwhile"}, headers=auth
                    )
                    replies.append(answer.status_code)

            writer = threading.Thread(target=keep_writing)
            writer.start()
            try:
                manifest = asyncio.run(create_backup(source, archive))
            finally:
                stop.set()
                writer.join()
            assert replies and set(replies) == {201}
            original_counts = asyncio.run(_counts(source_url))
            original_blobs = blob_digests(source)
            original_key = source.load_secret_key()

        assert manifest.tables["users"] == 4 and manifest.tables["communities"] == 3
        assert manifest.blobs and set(manifest.referenced_blobs) <= set(manifest.blobs)

        target = site_settings(tmp_path / "restored", target_url)
        asyncio.run(restore_backup(target, archive))

        restored = asyncio.run(_counts(target_url))
        assert restored == manifest.tables
        for table, count in original_counts.items():
            if table not in WRITTEN_WHILE_BACKING_UP:
                assert restored[table] == count, table
        assert manifest.tables["posts"] <= original_counts["posts"]
        assert blob_digests(target) == original_blobs
        assert all(name == content for name, content in blob_digests(target).items())
        assert target.load_secret_key() == original_key
        assert IndexStore(target.path("index")).problem() is None

        # The restored site serves what the original served, search included.
        again = make_app(target)
        with TestClient(again, base_url=BASE_URL) as client:
            signed_in = client.post(
                "/api/v1/auth/token", json={"login": "root", "password": ADMIN_PASSWORD}
            )
            assert signed_in.status_code == 200
            assert client.get(f"/api/v1/threads/{thread}").status_code == 200
            assert client.get("/members/root/avatar").status_code == 200
            found = client.get("/api/v1/search", params={"q": "minutes"})
            assert found.status_code == 200 and found.json()["total"] >= 1

        # A second restore into the same place is refused, and says why.
        with pytest.raises(BackupError, match="not empty"):
            asyncio.run(restore_backup(target, archive))


def test_restore_refuses_a_database_that_has_tables(tmp_path):
    source = site_settings(tmp_path / "site", sqlite_url(tmp_path / "a.db", schema=True))
    archive = tmp_path / "a.tar.gz"
    asyncio.run(create_backup(source, archive))
    target = site_settings(tmp_path / "empty", sqlite_url(tmp_path / "b.db", schema=True))
    with pytest.raises(BackupError, match="already has"):
        asyncio.run(restore_backup(target, archive))
    assert not (tmp_path / "empty" / "secret_key").exists()


def test_the_cli_backs_up_and_restores(tmp_path, monkeypatch, capsys):
    url = sqlite_url(tmp_path / "cli.db", schema=True)
    monkeypatch.setenv("CONNECT_DATA_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("CONNECT_DATABASE_URL", url)
    assert cli.main(["backup", str(tmp_path / "cli.tar.gz")]) == 0
    assert "Backup written" in capsys.readouterr().out
    assert cli.main(["restore", str(tmp_path / "cli.tar.gz")]) == 1
    assert "not empty" in capsys.readouterr().err
    monkeypatch.setenv("CONNECT_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("CONNECT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    assert cli.main(["restore", str(tmp_path / "cli.tar.gz")]) == 0
    assert "Restored" in capsys.readouterr().out


def test_the_archive_is_for_its_owner_only_and_bad_paths_are_clear(tmp_path, monkeypatch, capsys):
    source = site_settings(tmp_path / "site", sqlite_url(tmp_path / "a.db", schema=True))
    archive = tmp_path / "a.tar.gz"
    asyncio.run(create_backup(source, archive))
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the key and password hashes
    with pytest.raises(BackupError, match="is a folder"):
        asyncio.run(create_backup(source, tmp_path))
    monkeypatch.setenv("CONNECT_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("CONNECT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("not an archive")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    for bad in (not_a_backup, truncated):
        assert cli.main(["restore", str(bad)]) == 1
        assert "not a readable Connect backup" in capsys.readouterr().err
        # Nothing was left behind: the restore can simply be run again.
        left = [p for p in (tmp_path / "fresh").rglob("*") if p.is_file()]
        assert left == [], left
    assert cli.main(["restore", str(archive)]) == 0
