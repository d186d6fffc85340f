"""`connect backup` and `connect restore`: one archive with a consistent database snapshot,
the uploaded files and the secret key, taken while the site runs.

The archive (tar.gz) holds manifest.json, database/connect.db (SQLite, via the online backup
API) or database/connect.dump (PostgreSQL, pg_dump --format=custom), files/<blobs> and
secret_key. Consistency: the storage's shared lock is held from before the database snapshot
until the blobs are copied, so `connect gc` cannot remove a blob the snapshot still names;
blobs are content-addressed and never change, so copying them while uploads go on is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from connect import __version__
from connect.db import make_engine, utcnow
from connect.settings import Settings
from connect.storage import SHA256_RE, Storage

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/connect.db"
PG_MEMBER = "database/connect.dump"
# Columns that name blobs (as connect.storage.BLOB_REFERENCES), as table and column names.
BLOB_COLUMNS = (("profiles", "avatar_sha256"), ("file_versions", "sha256"))


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class Manifest:
    format: int
    created_at: str
    connect_version: str
    database: str  # "sqlite" or "postgresql"
    revision: str | None
    tables: dict[str, int]
    blobs: dict[str, int]  # sha256 -> size
    secret_key: bool
    referenced_blobs: list[str] = field(default_factory=list)


# Backup -------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"cannot back up an in-memory SQLite database ({url})")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it."""
    parsed = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL client (Debian: postgresql-client)"
        )
    return found


def _sqlite_facts(conn: sqlite3.Connection) -> tuple[dict[str, int], set[str], str | None]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}
    referenced: set[str] = set()
    for table, column in BLOB_COLUMNS:
        if table in counts:
            rows = conn.execute(
                f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
            )
            referenced.update(r[0] for r in rows)
    revision = None
    if "alembic_version" in counts:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return counts, referenced, revision


def _snapshot_sqlite(url: str, target: Path) -> tuple[dict[str, int], set[str], str | None]:
    source = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # one step: a consistent snapshot, even with writers in WAL mode
            return _sqlite_facts(copy)
        finally:
            copy.close()
    finally:
        source.close()


async def _snapshot_postgres(url: str, target: Path) -> tuple[dict[str, int], set[str], str | None]:
    """pg_dump of an exported snapshot; counts and blob names read in that same snapshot."""
    pg_dump = _tool("pg_dump")
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            await conn.begin()
            snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar()
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                    )
                )
            ).scalars()
            names = sorted(tables)
            counts = {}
            for name in names:
                counts[name] = (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar()
            referenced: set[str] = set()
            for table, column in BLOB_COLUMNS:
                if table in counts:
                    distinct = f'SELECT DISTINCT "{column}" FROM "{table}"'
                    rows = await conn.execute(text(f'{distinct} WHERE "{column}" IS NOT NULL'))
                    referenced.update(rows.scalars())
            revision = None
            if "alembic_version" in counts:
                revision = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar()
            uri, env = _libpq(url)
            process = await asyncio.create_subprocess_exec(
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                f"--dbname={uri}",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await process.communicate()
            await conn.rollback()
    finally:
        await engine.dispose()
    if process.returncode != 0:
        raise BackupError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
    return counts, referenced, revision


async def create_backup(
    settings: Settings, destination: Path, *, report: Callable[[str], None] = lambda _: None
) -> Manifest:
    """Write one archive of the site to `destination` (replaced only when complete)."""
    destination = Path(destination)
    if destination.is_dir():
        example = destination / "connect-backup.tar.gz"
        raise BackupError(f"{destination} is a folder: name the archive, e.g. {example}")
    storage = Storage(settings.path("files"))
    is_postgres = make_url(settings.database_url).get_backend_name() == "postgresql"
    with tempfile.TemporaryDirectory(prefix="connect-backup-") as work:
        dump = Path(work) / ("connect.dump" if is_postgres else "connect.db")
        # Held from before the snapshot until the blobs are archived: `connect gc` waits.
        with storage._locked(fcntl.LOCK_SH):
            report("snapshotting the database")
            if is_postgres:
                counts, referenced, revision = await _snapshot_postgres(settings.database_url, dump)
            else:
                counts, referenced, revision = await asyncio.to_thread(
                    _snapshot_sqlite, settings.database_url, dump
                )
            report(f"archiving uploaded files into {destination}")
            manifest = await asyncio.to_thread(
                _write_archive, settings, storage, destination, dump, counts, referenced, revision
            )
    return manifest


def _write_archive(
    settings: Settings,
    storage: Storage,
    destination: Path,
    dump: Path,
    counts: dict[str, int],
    referenced: set[str],
    revision: str | None,
) -> Manifest:
    blobs = {}
    for path in sorted(storage.root.glob("??/??/*")):
        if path.is_file() and SHA256_RE.fullmatch(path.name):
            blobs[path.name] = path.stat().st_size
    missing = sorted(referenced - set(blobs))
    if missing:
        raise BackupError(
            f"{len(missing)} file(s) named by the database are missing from "
            f"{storage.root} (first: {missing[0]}); the backup would not restore them"
        )
    key = settings.load_secret_key().encode()
    manifest = Manifest(
        format=FORMAT,
        created_at=utcnow().isoformat(),
        connect_version=__version__,
        database="postgresql" if dump.suffix == ".dump" else "sqlite",
        revision=revision,
        tables=counts,
        blobs=blobs,
        secret_key=True,
        referenced_blobs=sorted(referenced),
    )
    partial = destination.with_name(destination.name + ".partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Readable by its owner only: it holds the secret key and every password hash.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot write {destination}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as archive:
                _add_bytes(archive, MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
                _add_bytes(archive, "secret_key", key, mode=0o600)
                member = PG_MEMBER if manifest.database == "postgresql" else SQLITE_MEMBER
                archive.add(dump, arcname=member)
                for digest in blobs:
                    archive.add(storage.path(digest), arcname=f"files/{digest}")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644) -> None:
    import io
    import time

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    archive.addfile(info, io.BytesIO(data))


# Restore ------------------------------------------------------------------------------------


def _data_dir_problem(settings: Settings) -> str | None:
    root = settings.data_dir
    if not root.exists():
        return None
    found = [p for p in root.rglob("*") if not p.is_dir()]
    if found:
        return (
            f"the data folder {root} is not empty ({len(found)} file(s), e.g. "
            f"{found[0].relative_to(root)}); restore into an empty folder"
        )
    return None


async def _database_problem(url: str) -> str | None:
    if make_url(url).get_backend_name() != "postgresql":
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return None
        with contextlib.closing(sqlite3.connect(path)) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        return f"the database {path} already has {tables} table(s)" if tables else None
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = current_schema()"
                    )
                )
            ).scalar()
    except Exception as exc:
        raise BackupError(f"cannot connect to the target database: {exc}") from exc
    finally:
        await engine.dispose()
    if tables:
        return f"the target database already has {tables} table(s); restore into an empty one"
    return None


def _read_manifest(archive: tarfile.TarFile) -> Manifest:
    try:
        member = archive.extractfile(MANIFEST)
        data = json.loads(member.read()) if member else None
    except (KeyError, ValueError) as exc:
        raise BackupError(f"this is not a Connect backup ({exc})") from None
    if not data or data.get("format") != FORMAT:
        raise BackupError("this backup has an unknown format; use the Connect that wrote it")
    return Manifest(**data)


async def restore_backup(
    settings: Settings,
    source: Path,
    *,
    report: Callable[[str], None] = lambda _: None,
    rebuild_search: bool = True,
) -> Manifest:
    """Restore an archive into an empty data folder and an empty database, then verify it."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    problems = [
        p
        for p in (_data_dir_problem(settings), await _database_problem(settings.database_url))
        if p
    ]
    if problems:
        raise BackupError("refusing to restore: " + "; ".join(problems))
    is_postgres = make_url(settings.database_url).get_backend_name() == "postgresql"
    with tempfile.TemporaryDirectory(prefix="connect-restore-") as work:
        manifest, dump = await asyncio.to_thread(_unpack, settings, source, Path(work), is_postgres)
        report("restoring the database")
        if is_postgres:
            await _restore_postgres(settings.database_url, dump)
        else:
            target = _sqlite_path(settings.database_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(shutil.copyfile, dump, target)
    counts = await _counts(settings.database_url)
    wrong = {t: (n, counts.get(t)) for t, n in manifest.tables.items() if counts.get(t) != n}
    if wrong:
        raise BackupError(f"restored row counts differ from the backup: {wrong}")
    await _release_leases(settings.database_url)
    if rebuild_search:
        report("rebuilding the search index from the database")
        await _rebuild_search(settings)
    return manifest


def _unpack(
    settings: Settings, source: Path, work: Path, is_postgres: bool
) -> tuple[Manifest, Path]:
    """Check and unpack the archive into the (empty) data folder; on any failure, leave the
    folder as it was found, so that the restore can simply be run again."""
    written: list[Path] = []
    try:
        with tarfile.open(source, "r:gz") as archive:
            return _unpack_members(settings, archive, work, is_postgres, written)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        _remove(written)
        raise BackupError(f"{source} is not a readable Connect backup ({exc})") from None
    except BaseException:
        _remove(written)
        raise


def _remove(paths: list[Path]) -> None:
    for path in reversed(paths):
        path.unlink(missing_ok=True)


def _unpack_members(
    settings: Settings,
    archive: tarfile.TarFile,
    work: Path,
    is_postgres: bool,
    written: list[Path],
) -> tuple[Manifest, Path]:
    files = settings.path("files")
    manifest = _read_manifest(archive)
    if (manifest.database == "postgresql") != is_postgres:
        raise BackupError(
            f"this backup holds a {manifest.database} database but CONNECT_DATABASE_URL "
            "names another kind; restore into the same kind"
        )
    settings.ensure_data_dir()
    dump_name = PG_MEMBER if manifest.database == "postgresql" else SQLITE_MEMBER
    dump = work / Path(dump_name).name
    seen: set[str] = set()
    for member in archive:
        if not member.isfile():
            continue
        name = member.name
        if name == MANIFEST:
            continue
        reader = archive.extractfile(member)
        if name == "secret_key":
            key_file = settings.path("secret_key")
            written.append(key_file)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(reader, out)
        elif name == dump_name:
            with open(dump, "wb") as out:
                shutil.copyfileobj(reader, out)
        elif name.startswith("files/") and SHA256_RE.fullmatch(name[6:]):
            digest = name[6:]
            final = files / digest[:2] / digest[2:4] / digest
            final.parent.mkdir(parents=True, exist_ok=True)
            written.append(final)
            hasher = hashlib.sha256()
            with open(final, "wb") as out:
                while chunk := reader.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != digest:
                raise BackupError(f"the backup is damaged: file {digest} has other content")
            seen.add(digest)
        else:
            raise BackupError(f"unexpected member {name!r} in the backup")
    if seen != set(manifest.blobs):
        raise BackupError("the backup is damaged: its files differ from its manifest")
    if not dump.exists():
        raise BackupError("the backup is damaged: it holds no database")
    return manifest, dump


async def _restore_postgres(url: str, dump: Path) -> None:
    pg_restore = _tool("pg_restore")
    uri, env = _libpq(url)
    process = await asyncio.create_subprocess_exec(
        pg_restore,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={uri}",
        str(dump),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"pg_restore failed: {err.decode(errors='replace').strip()}")


async def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                query = (
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            else:
                query = (
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            names = list((await conn.execute(text(query))).scalars())
            return {
                n: (await conn.execute(text(f'SELECT count(*) FROM "{n}"'))).scalar() for n in names
            }
    finally:
        await engine.dispose()


async def _release_leases(url: str) -> None:
    """The processes that held the consumers' leases are not this site's: free them at once."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE consumer_cursors SET lease_holder = NULL, lease_expires_at = NULL")
            )
    finally:
        await engine.dispose()


async def _rebuild_search(settings: Settings) -> None:
    from connect.app import create_app
    from connect.db import Database

    context = create_app(settings).state.ctx
    context.db = Database(settings.database_url)
    try:
        await context.search.indexer.rebuild()
    finally:
        await context.search.close()
        await context.db.dispose()
