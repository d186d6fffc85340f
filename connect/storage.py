"""Content-addressed blob store: files named by their sha256 under the data folder.

A blob is written to a temporary file, verified, fsynced and only then renamed
into place, so a crash never leaves a half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
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

    def _commit(self, tmp: Path, digest: str) -> None:
        final = self.path(digest)
        if final.exists():
            tmp.unlink()  # the same bytes are already stored once
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def put_bytes(self, data: bytes) -> Blob:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
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

    def all_digests(self) -> set[str]:
        return {
            p.name for p in self.root.glob("??/??/*") if p.is_file() and SHA256_RE.fullmatch(p.name)
        }


def _flush_and_sync(out) -> None:
    out.flush()
    os.fsync(out.fileno())
