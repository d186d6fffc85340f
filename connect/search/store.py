"""The index folder: generations (index-<n>) behind a `current` pointer file, each with its
metadata (schema version, event cursor) beside the Whoosh files, health checks, and the
searchers that threads read through.

Swapping the pointer (write, fsync, rename) is how `connect reindex` replaces a whole index
atomically; the cursor in the same folder moves with the index it describes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index

from connect.search.schema import SCHEMA_VERSION, make_schema

log = logging.getLogger("connect.search")
POINTER = "current"
META = "connect.json"
GENERATION_RE = re.compile(r"index-(\d+)")
# How often a searcher checks for commits made by another process (the `connect worker`).
RECHECK_SECONDS = 0.1
# A searcher that failed to open is tried once more after this long (see _open_searcher).
OPEN_RETRY_SECONDS = 0.05


class IndexUnavailable(Exception):
    """The index cannot answer: missing, corrupt, of another schema version, or being rebuilt."""


@dataclass
class Meta:
    schema_version: int
    cursor: int
    writer: str | None = None  # the process (lease holder) that wrote last, when known


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._local = threading.local()
        # Bumped by the indexer after each commit in this process: searchers refresh at once.
        self._version = 0
        self.rebuilding = False

    # Layout ----------------------------------------------------------------------------------

    def current_name(self) -> str | None:
        try:
            name = (self.root / POINTER).read_text().strip()
        except OSError:
            return None
        return name if GENERATION_RE.fullmatch(name) else None

    def current_path(self) -> Path | None:
        name = self.current_name()
        return self.root / name if name else None

    def generations(self) -> list[str]:
        if not self.root.exists():
            return []
        found = [p.name for p in self.root.iterdir() if GENERATION_RE.fullmatch(p.name)]
        return sorted(found, key=lambda n: int(n.split("-")[1]))

    def new_generation(self) -> Path:
        """An empty index in a new folder, not yet current."""
        self.root.mkdir(parents=True, exist_ok=True)
        names = [*self.generations(), self.current_name() or "index-0"]
        number = max(int(n.split("-")[1]) for n in names) + 1
        path = self.root / f"index-{number}"
        while path.exists():  # a folder left half-made by a crash
            number += 1
            path = self.root / f"index-{number}"
        path.mkdir()
        whoosh_index.create_in(str(path), make_schema())
        self.write_meta(path, 0)
        return path

    def swap(self, path: Path) -> None:
        """Make `path` the current index; keep the one before it (open searchers), drop older."""
        previous = self.current_name()
        write_atomic(self.root / POINTER, path.name.encode())
        self._version += 1
        keep = {path.name, previous}
        for name in self.generations():
            if name not in keep and int(name.split("-")[1]) < int(path.name.split("-")[1]):
                shutil.rmtree(self.root / name, ignore_errors=True)

    @staticmethod
    def read_meta(path: Path) -> Meta:
        data = json.loads((path / META).read_text())
        return Meta(int(data["schema_version"]), int(data["cursor"]), data.get("writer"))

    @staticmethod
    def write_meta(path: Path, cursor: int, *, writer: str | None = None) -> None:
        data = {"schema_version": SCHEMA_VERSION, "cursor": cursor}
        if writer:
            data["writer"] = writer
        write_atomic(path / META, json.dumps(data).encode())

    # Health ----------------------------------------------------------------------------------

    def problem(self) -> str | None:
        """Why the current index cannot be used, or None when it can."""
        path = self.current_path()
        if path is None or not path.is_dir():
            return "there is no search index yet"
        try:
            meta = self.read_meta(path)
        except (OSError, ValueError, KeyError, TypeError):
            return "the search index has no readable metadata"
        if meta.schema_version != SCHEMA_VERSION:
            return f"the search index has schema {meta.schema_version}, not {SCHEMA_VERSION}"
        try:
            if not whoosh_index.exists_in(str(path)):
                return "the search index's table of contents is missing"
            ix = whoosh_index.open_dir(str(path))
            if set(ix.schema.names()) != set(make_schema().names()):
                return "the search index's fields differ from the schema"
            with ix.searcher() as searcher:
                searcher.doc_count()
                for reader, _ in searcher.ixreader.leaf_readers():
                    # Touch each segment's term and stored-field files.
                    next(iter(reader.lexicon("type")), None)
                    if reader.doc_count_all():
                        reader.stored_fields(0)
        except Exception as exc:  # any failure to read it means: rebuild
            return f"the search index cannot be read ({exc.__class__.__name__}: {exc})"
        return None

    def open_index(self, path: Path | None = None):
        path = path or self.current_path()
        if path is None:
            raise IndexUnavailable("there is no search index yet")
        try:
            return whoosh_index.open_dir(str(path))
        except Exception as exc:
            raise IndexUnavailable(f"the search index cannot be opened ({exc})") from exc

    # Searching -------------------------------------------------------------------------------

    def changed(self) -> None:
        """Called after a commit in this process, so that searchers refresh at once."""
        self._version += 1

    @property
    def version(self) -> int:
        """Bumped by each commit and swap made through this store."""
        return self._version

    def follow(self, version: int) -> None:
        """In a search process: take the server's version, so that its commits and swaps
        refresh this process's searcher at once too."""
        self._version = version

    def searcher(self):
        """This thread's searcher on the current index, refreshed after commits and swaps."""
        local = self._local
        now = time.monotonic()
        searcher = getattr(local, "searcher", None)
        if (
            searcher is not None
            and local.version == self._version
            and now - local.checked < RECHECK_SECONDS
        ):
            return searcher
        version = self._version
        name = self.current_name()
        if name is None:
            self.drop_searcher()
            raise IndexUnavailable("there is no search index yet")
        try:
            if searcher is not None and local.name == name and searcher.up_to_date():
                local.checked, local.version = now, version
                return searcher
            # A new searcher, not Searcher.refresh(): that one reuses readers whose segment
            # has new deletions since, and brings back segments that were merged away.
            self.drop_searcher()
            path = self.root / name
            if self.read_meta(path).schema_version != SCHEMA_VERSION:
                raise IndexUnavailable("the search index was built with another schema")
            searcher = self._open_searcher(path)
        except IndexUnavailable:
            self.drop_searcher()
            raise
        except Exception as exc:
            self.drop_searcher()
            raise IndexUnavailable(f"the search index cannot be read ({exc})") from exc
        local.searcher, local.name, local.version, local.checked = searcher, name, version, now
        return searcher

    def _open_searcher(self, path):
        """Open a searcher; once more if the first try fails. A commit that merges segments
        deletes the old ones' files after writing the new table of contents, so a reader
        that read the old one just before may find its files gone: the retry reads the new
        one. A second failure is a real one."""
        try:
            return self.open_index(path).searcher()
        except Exception:  # noqa: BLE001  (whatever the first try hit, the second decides)
            time.sleep(OPEN_RETRY_SECONDS)
            return self.open_index(path).searcher()

    def drop_searcher(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        self._local.searcher = None
        if searcher is not None:
            try:
                searcher.close()
            except Exception:  # closing a reader of a deleted or broken index
                log.debug("could not close a searcher", exc_info=True)
