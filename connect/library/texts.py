"""The extractor: an event consumer that turns new file versions into stored text.

`handle` runs inside the consumer's transaction, which on SQLite holds the only
write lock. So it reads there only what is quick: a version of at most
INLINE_MAX_BYTES under a short time budget (the common case: tests and most
documents are done by the time the consumer has caught up). Anything larger, or
that runs out of that budget, stays `pending` for the "extract" job, which reads it
outside any transaction and then stores the result in a short one. Both run the
blocking work in a thread, one at a time per process, and record entry.text_extracted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.communities.models import Community
from connect.db import utcnow
from connect.events import Event
from connect.library.extract import READERS, ExtractionFailed, Limits, Unsupported, extract
from connect.library.models import Entry, FileText, FileVersion, LibraryFile

log = logging.getLogger("connect.library")
INLINE_MAX_BYTES = 1024 * 1024
INLINE_LIMITS = Limits(seconds=3)
FULL_LIMITS = Limits(seconds=60)
MAX_ATTEMPTS = 3


@dataclass
class Outcome:
    status: str  # ok / failed / unsupported, or pending to leave it for the job
    text: str = ""
    truncated: bool = False
    detail: str = ""


class Extractor:
    def __init__(self, context, *, concurrency: int = 1) -> None:
        self.context = context
        self.slots = asyncio.Semaphore(concurrency)
        # Its own slot: the consumer, holding the write lock, must never wait for the job.
        self.inline_slot = asyncio.Semaphore(1)

    @staticmethod
    def wants(event: Event) -> bool:
        return event.type in ("entry.created", "entry.updated")

    async def handle(self, session: AsyncSession, batch: list[Event]) -> None:
        for event in batch:
            if event.type in ("entry.created", "entry.updated"):
                for version_id in event.data.get("versions") or []:
                    await self._handle_version(session, version_id)

    async def _handle_version(self, session: AsyncSession, version_id: int) -> None:
        version = await session.get(FileVersion, version_id)
        if version is None:
            return  # deleted since
        row = await session.get(FileText, version_id)
        if row is not None and row.status != "pending":
            return  # this batch is being repeated after a crash
        if row is None:
            row = FileText(version_id=version_id, status="pending", updated_at=utcnow())
            session.add(row)
            await session.flush()
        if version.kind not in READERS:
            outcome = Outcome("unsupported", detail="this type of file has no text")
        elif version.size > INLINE_MAX_BYTES:
            return  # the job reads it, outside this transaction
        else:
            outcome = await self.read(version, INLINE_LIMITS, inline=True)
        if outcome.status != "pending":
            await store(session, row, version, outcome)

    async def read(self, version: FileVersion, limits: Limits, *, inline: bool = False) -> Outcome:
        path = self.context.storage.path(version.sha256)
        charset = version.content_type.partition("charset=")[2] or "utf-8"
        async with self.inline_slot if inline else self.slots:
            try:
                result = await asyncio.to_thread(
                    extract, path, version.kind, charset=charset, limits=limits
                )
            except Unsupported as exc:
                return Outcome("unsupported", detail=str(exc))
            except ExtractionFailed as exc:
                if inline and "longer than" in str(exc):
                    return Outcome("pending")
                return Outcome("failed", detail=str(exc)[:300])
            except FileNotFoundError:
                log.error("blob %s of file version %s is missing", version.sha256, version.id)
                return Outcome("failed", detail="the stored file is missing")
        if inline and result.truncated and result.note.startswith("stopped"):
            return Outcome("pending")  # give it the job's full time budget
        return Outcome("ok", result.text, result.truncated, result.note)

    async def run_pending(self, limit: int = 20) -> int:
        """Read versions left pending (large, slow, or interrupted); returns how many."""
        db = self.context.db
        async with db.read() as session:
            ids = list(
                (
                    await session.execute(
                        select(FileText.version_id)
                        .where(FileText.status == "pending")
                        .order_by(FileText.version_id)
                        .limit(limit)
                    )
                ).scalars()
            )
        done = 0
        for version_id in ids:
            # The attempt counts before reading: a file that kills the process is given up.
            async with db.transaction() as session:
                row = await session.get(FileText, version_id)
                version = await session.get(FileVersion, version_id)
                if row is None or version is None or row.status != "pending":
                    continue
                row.attempts += 1
                attempts = row.attempts
            if attempts > MAX_ATTEMPTS:
                outcome = Outcome("failed", detail=f"gave up after {MAX_ATTEMPTS} attempts")
            else:
                outcome = await self.read(version, FULL_LIMITS)
            async with db.transaction() as session:
                row = await session.get(FileText, version_id)
                version = await session.get(FileVersion, version_id)
                if row is None or version is None or row.status != "pending":
                    continue
                await store(session, row, version, outcome)
                done += 1
        return done


async def store(session: AsyncSession, row: FileText, version: FileVersion, outcome) -> None:
    """Save an extraction's outcome and announce it (entry.text_extracted)."""
    row.status = outcome.status
    row.text = outcome.text
    row.truncated = outcome.truncated
    row.detail = outcome.detail
    row.updated_at = utcnow()
    found = (
        await session.execute(
            select(Entry, Community, LibraryFile)
            .join(LibraryFile, LibraryFile.entry_id == Entry.id)
            .join(Community, Community.id == Entry.community_id)
            .where(LibraryFile.id == version.file_id)
        )
    ).first()
    if found is None:
        return
    entry, community, lib_file = found
    await events.record(
        session,
        "entry.text_extracted",
        actor_id=entry.author_id,  # "author" audience: a held entry's author and moderators
        community_id=community.id,
        audience=permissions.event_audience(community, entry.status),
        subject_id=entry.id,
        data={
            "entry_id": entry.id,
            "file_id": lib_file.id,
            "version_id": version.id,
            "version": version.version,
            "current": version.version == lib_file.current_version,
            "status": outcome.status,
            "chars": len(outcome.text),
            "truncated": outcome.truncated,
        },
    )
