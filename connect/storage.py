"""Content-addressed blob store: files named by their sha256 under the data folder.

A blob is written to a temporary file, verified, fsynced and only then renamed
into place, so a crash never leaves a half-written blob under a real name.
Blobs that no row names any more are removed by `connect gc` (collect_garbage).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connect.errors import TooLarge

SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def _new_tmp(self) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{secrets.token_hex(12)}.part"

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        """Commits share the lock; garbage collection takes it alone (across processes)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def _commit(self, tmp: Path, digest: str) -> None:
        final = self.path(digest)
        with self._locked(fcntl.LOCK_SH):
            if final.exists():
                tmp.unlink()  # the same bytes are already stored once
                # Fresh again: garbage collection spares blobs younger than its grace period.
                os.utime(final)
                return
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def writer(self, *, max_bytes: int) -> BlobWriter:
        """A blob to write piece by piece (an upload being received); see BlobWriter."""
        return BlobWriter(self, max_bytes=max_bytes)

    def commit(self, pending: PendingBlob) -> Blob:
        """Move a finished, verified temporary blob into place (idempotent)."""
        if not pending.committed:
            self._commit(pending.tmp, pending.sha256)
            pending.committed = True
        return Blob(pending.sha256, pending.size)

    def discard(self, pending: PendingBlob) -> None:
        """Forget a temporary blob that will not be kept; a committed one stays."""
        if not pending.committed:
            pending.tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> Blob:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            with self._locked(fcntl.LOCK_SH), contextlib.suppress(FileNotFoundError):
                os.utime(self.path(digest))  # fresh again, as in _commit: its row is to come
                return Blob(digest, len(data))
        tmp = self._new_tmp()
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        self._commit(tmp, digest)
        return Blob(digest, len(data))

    async def put_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Blob:
        """Store a stream; over max_bytes it stops reading and raises TooLarge, leaving nothing."""
        import asyncio

        tmp = self._new_tmp()
        hasher = hashlib.sha256()
        size = 0
        out = open(tmp, "wb")  # noqa: SIM115, ASYNC230 - closed below; opening is instant
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
                hasher.update(chunk)
                await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(_flush_and_sync, out)
            out.close()
            digest = hasher.hexdigest()
            await asyncio.to_thread(self._commit, tmp, digest)
            return Blob(digest, size)
        except BaseException:
            out.close()
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def remove_if_older(self, sha256: str, *, min_age: float) -> bool:
        """Delete one blob that no row names any more, unless it is younger than min_age
        seconds (an upload of the same bytes may be committing). Whether it went."""
        path = self.path(sha256)
        with self._locked(fcntl.LOCK_EX), contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime <= time.time() - min_age:
                path.unlink()
                return True
        return False

    def all_digests(self) -> set[str]:
        return {
            p.name for p in self.root.glob("??/??/*") if p.is_file() and SHA256_RE.fullmatch(p.name)
        }

    def tmp_files(self) -> list[Path]:
        return sorted(self.tmp.glob("*.part")) if self.tmp.is_dir() else []

    def remove_unreferenced(self, referenced: set[str], *, min_age: float) -> GarbageReport:
        """Delete blobs not in `referenced` and stale temporary files, older than min_age seconds.

        The grace period spares a blob that an upload has just put in place (or found
        already there) but whose row has not committed yet.
        """
        report = GarbageReport()
        cutoff = time.time() - min_age
        with self._locked(fcntl.LOCK_EX):
            for path in self.root.glob("??/??/*"):
                if not SHA256_RE.fullmatch(path.name) or path.name in referenced:
                    report.kept += 1
                    continue
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    if stat.st_mtime > cutoff:
                        report.kept += 1
                        continue
                    path.unlink()
                    report.removed.append(path.name)
                    report.bytes_freed += stat.st_size
            for part in self.tmp_files():
                with contextlib.suppress(FileNotFoundError):
                    if part.stat().st_mtime <= cutoff:
                        part.unlink()
                        report.stale_tmp += 1
            for folder in sorted(self.root.glob("??/??"), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only succeeds when empty
                    folder.parent.rmdir()
        return report


def _flush_and_sync(out) -> None:
    out.flush()
    os.fsync(out.fileno())


@dataclass
class PendingBlob:
    """A complete, verified blob still in the temporary folder, not yet under its name."""

    tmp: Path
    sha256: str
    size: int
    committed: bool = False


class BlobWriter:
    """Receives a blob piece by piece: bytes go to a temporary file and into the hash.

    `write` refuses to pass max_bytes (TooLarge), `finish` flushes, fsyncs and checks
    the size on disk, returning a PendingBlob for Storage.commit or Storage.discard;
    `abort` removes the temporary file. Its methods block: call them from a thread.
    """

    def __init__(self, storage: Storage, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.tmp = storage._new_tmp()
        self._out = open(self.tmp, "wb")  # noqa: SIM115 - closed by finish/abort
        self._hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.max_bytes:
            raise TooLarge(f"The file is larger than {self.max_bytes // (1024 * 1024)} MB.")
        self._hasher.update(data)
        self._out.write(data)
        self.size += len(data)

    def finish(self) -> PendingBlob:
        try:
            _flush_and_sync(self._out)
            on_disk = os.fstat(self._out.fileno()).st_size
        finally:
            self._out.close()
        if on_disk != self.size:
            self.tmp.unlink(missing_ok=True)
            raise OSError(f"blob size on disk {on_disk} != {self.size} bytes received")
        return PendingBlob(self.tmp, self._hasher.hexdigest(), self.size)

    def abort(self) -> None:
        self._out.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class GarbageReport:
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept: int = 0
    stale_tmp: int = 0


# Every column that names a blob: a blob none of them names is garbage.
BLOB_REFERENCES = (
    "connect.members.models:Profile.avatar_sha256",
    "connect.library.models:FileVersion.sha256",
)


def _reference_columns() -> Iterator:
    for reference in BLOB_REFERENCES:
        module, _, attribute = reference.partition(":")
        model_name, _, column_name = attribute.partition(".")
        yield getattr(getattr(importlib.import_module(module), model_name), column_name)


async def referenced_digests(session) -> set[str]:
    from sqlalchemy import select

    found: set[str] = set()
    for column in _reference_columns():
        rows = await session.execute(select(column).where(column.is_not(None)).distinct())
        found.update(rows.scalars())
    return found


# A blob dropped by one row (a deleted account's avatar) goes at once, unless it is younger
# than this: an upload of the same bytes moves its blob into place just before its rows
# commit, so a minute is far more than it needs.
FORGET_MIN_AGE = 60.0


async def forget(db, storage: Storage, sha256: str, *, min_age: float = FORGET_MIN_AGE) -> bool:
    """Remove one blob now if no row names it any more; whether it went (collect_garbage
    removes what this spares)."""
    import asyncio

    from sqlalchemy import select

    async with db.read() as session:
        for column in _reference_columns():
            if (await session.execute(select(column).where(column == sha256).limit(1))).first():
                return False
    return await asyncio.to_thread(storage.remove_if_older, sha256, min_age=min_age)


async def collect_garbage(db, storage: Storage, *, min_age: float = 3600) -> GarbageReport:
    """Remove blobs that no row references (and temporary files left by crashes)."""
    import asyncio

    async with db.read() as session:
        referenced = await referenced_digests(session)
    return await asyncio.to_thread(storage.remove_unreferenced, referenced, min_age=min_age)
