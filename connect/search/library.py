"""Library entries as the search index sees them: the one place that reads connect.library's
tables, so that a change there touches only this file.

While connect.library cannot be imported, there are no entries to index (every function
answers "nothing").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from connect.markup import plain_text


@dataclass
class EntryRecord:
    id: int
    community_id: int
    title: str
    description: str  # as readers see it: the rendered Markdown's text, without its marks
    status: str
    created_at: datetime
    author_id: int | None = None
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    # (file name, extracted text of its current version) for each file.
    files: list[tuple[str, str]] = field(default_factory=list)


def _models():
    """connect.library's tables, or None while that package is not there."""
    try:
        from connect.library import models
    except ImportError:
        return None
    return models


async def load_entries(session, ids: list[int]) -> list[EntryRecord]:
    """The entries with these ids that still exist (missing ones get deleted from the index)."""
    m = _models()
    if m is None or not ids:
        return []
    rows = await session.execute(select(m.Entry).where(m.Entry.id.in_(ids)).order_by(m.Entry.id))
    entries = list(rows.scalars().unique())
    texts = await _file_texts(session, m, [e.id for e in entries])
    return [_record(e, texts.get(e.id, [])) for e in entries]


async def entry_ids_by(session, author_ids: list[int]) -> list[int]:
    """The ids of every entry these members added."""
    m = _models()
    if m is None or not author_ids:
        return []
    rows = await session.execute(select(m.Entry.id).where(m.Entry.author_id.in_(author_ids)))
    return list(rows.scalars())


async def count_entries(session) -> int:
    m = _models()
    if m is None:
        return 0
    return (await session.execute(select(func.count(m.Entry.id)))).scalar() or 0


async def stream_entries(
    db, make_document: Callable[[EntryRecord], dict | None], *, batch: int
) -> AsyncIterator[tuple[int, list[dict]]]:
    m = _models()
    if m is None:
        return
    last = 0
    while True:
        async with db.read() as session:
            rows = await session.execute(
                select(m.Entry).where(m.Entry.id > last).order_by(m.Entry.id).limit(batch)
            )
            entries = list(rows.scalars().unique())
            texts = await _file_texts(session, m, [e.id for e in entries])
        if not entries:
            return
        docs = [d for e in entries if (d := make_document(_record(e, texts.get(e.id, []))))]
        yield len(entries), docs
        last = entries[-1].id
        if len(entries) < batch:
            return


def _record(entry, files: list[tuple[str, str]]) -> EntryRecord:
    return EntryRecord(
        id=entry.id,
        community_id=entry.community_id,
        title=entry.title,
        description=plain_text(entry.html) if entry.html else entry.description or "",
        status=entry.status,
        created_at=entry.created_at,
        author_id=entry.author_id,
        author=entry.author.username
        if entry.author is not None and not entry.author.is_deleted
        else None,
        tags=[str(t) for t in (entry.tags or [])],
        files=files,
    )


async def _file_texts(session, m, entry_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Each entry's files in order, with the text extracted from their current versions."""
    if not entry_ids:
        return {}
    current = (m.FileVersion.file_id == m.LibraryFile.id) & (
        m.FileVersion.version == m.LibraryFile.current_version
    )
    rows = await session.execute(
        select(m.LibraryFile.entry_id, m.LibraryFile.filename, m.FileText.status, m.FileText.text)
        .outerjoin(m.FileVersion, current)
        .outerjoin(m.FileText, m.FileText.version_id == m.FileVersion.id)
        .where(m.LibraryFile.entry_id.in_(entry_ids))
        .order_by(m.LibraryFile.entry_id, m.LibraryFile.position, m.LibraryFile.id)
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for entry_id, filename, status, text in rows:
        found.setdefault(entry_id, []).append((filename, text if status == "ok" and text else ""))
    return found
