"""The member directory's filters, matched in memory.

No index serves "contains" on names, titles and organizations, so in SQL every new filter
scans every listed member (~25 ms on 50,000 members on SQLite, in the server's own event
loop). Instead the searchable text of every listed member is kept here, folded for any case
and with hidden fields left out, for one version of the directory: the newest
`member.created` / `member.updated` / `member.deleted` event, which every sign-up, profile
edit and account deletion adds. A filter is then a scan of Python strings, a few
milliseconds, on SQLite and PostgreSQL alike.

The first request reads every listed member (~0.3 s on 50,000); after that, a new version
re-reads only the members its events name, so an edit costs the next filter a few rows.

Hidden fields never enter the snapshot, so no filter can find someone by a field they do
not show. Letters are compared casefolded, so "ørsted" finds "Ørsted"; matches are put in
order of their casefolded names.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect.accounts.models import User
from connect.events import Event
from connect.members.models import Profile

# Which members the directory lists, and everything it filters and sorts on, changes only
# with these events (sign-ups, profile edits, which include the listed flag, and deleted
# accounts, which are no longer listed); their subject is the member.
DIRECTORY_EVENTS = ("member.created", "member.updated", "member.deleted")

# Between the fields of one member's words: no cleaned needle holds it, so a match never
# spans two fields.
_SEP = "\x00"
_MAX_NEEDLE = 100
# More changed members than this since the kept snapshot: read them all again.
MAX_CHANGES = 2_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every listed member, with what filters look at, as of event `version`.

    `members` maps a member's id to (name folded for sorting, words, organization,
    location, interests): words are the username, the name, and the title and
    organization if shown; a hidden field is ""; interests are ", a, b," (each whole).
    """

    version: int
    members: dict[int, tuple[str, str, str, str, str]]

    def matches(self, q: str, organization: str, location: str, interest: str) -> tuple[int, ...]:
        """The ids of the members every given filter matches, in name order."""
        tests = []
        for needle, column in ((q, 1), (organization, 2), (location, 3)):
            folded = _needle(needle)
            if folded is None:
                return ()
            if folded:
                tests.append((folded, column))
        if interest.strip():
            folded = _needle(interest)
            if folded is None:
                return ()
            tests.append((f", {folded},", 4))
        found = self.members.items()
        for needle, column in tests:
            found = [(i, m) for i, m in found if needle in m[column]]
        return tuple(i for i, _ in sorted(found, key=lambda item: (item[1][0], item[0])))


def _needle(text: str) -> str | None:
    """The folded text to look for; "" for no filter, None for text nothing can contain."""
    needle = text.strip().casefold()[:_MAX_NEEDLE]
    return None if _SEP in needle else needle


def _fold(text: str | None) -> str:
    return sys.intern(text.casefold()) if text else ""


async def _read(session: AsyncSession, ids: set[int] | None) -> dict[int, tuple | None]:
    """The searchable fields of these members (every listed member for None); None for a
    member who is not listed (or no longer exists)."""
    query = select(
        User.id,
        User.username,
        User.display_name,
        Profile.listed,
        Profile.title,
        Profile.organization,
        Profile.location,
        Profile.interests,
        # Its JSON text: which fields are shown is all we need (as public_field_clause).
        cast(Profile.public_fields, String),
    ).join(Profile)
    if ids is None:
        query = query.where(Profile.listed.is_(True))
        found: dict[int, tuple | None] = {}
    else:
        query = query.where(User.id.in_(ids))
        found = dict.fromkeys(ids)
    for user_id, username, name, listed, title, org, place, likes, public in await session.execute(
        query
    ):
        if not listed:
            continue
        public = public or ""
        title = title if '"title"' in public else ""
        org = org if '"organization"' in public else ""
        place = place if '"location"' in public else ""
        found[user_id] = (
            name.casefold(),
            _SEP.join((username, name, title or "", org or "")).casefold(),
            _fold(org),
            _fold(place),
            f", {likes.casefold()}," if likes and '"interests"' in public else "",
        )
    return found


class DirectoryIndex:
    """The snapshot of the newest version asked for, brought up to date by one request at a
    time.

    `clear` drops it (the live hub calls it when it reads a member event: on PostgreSQL an
    event can commit after a newer one, so the version alone would not show it); a snapshot
    read while it was cleared serves its request but is not kept.
    """

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._generation = 0
        self.full_reads = 0

    def clear(self) -> None:
        self._generation += 1
        self._snapshot = None

    async def snapshot(self, session: AsyncSession, version: int) -> Snapshot:
        """A snapshot as of `version` (the newest of DIRECTORY_EVENTS read in `session`) or
        later."""
        kept = self._snapshot
        if kept is not None and kept.version >= version:
            return kept  # as new as asked (a request that read the log earlier asks less)
        async with self._lock:
            kept = self._snapshot
            if kept is not None and kept.version >= version:
                return kept
            generation = self._generation
            fresh = await self._update(session, kept, version)
            if generation == self._generation:
                self._snapshot = fresh
            return fresh

    async def _update(self, session: AsyncSession, kept: Snapshot | None, version: int):
        if kept is not None and kept.version < version:
            changed = set(
                (
                    await session.execute(
                        select(Event.subject_id)
                        .where(
                            Event.type.in_(DIRECTORY_EVENTS),
                            Event.id > kept.version,
                            Event.id <= version,
                        )
                        .limit(MAX_CHANGES + 1)
                    )
                ).scalars()
            )
            changed.discard(None)
            if len(changed) <= MAX_CHANGES:
                members = dict(kept.members)
                for user_id, fields in (await _read(session, changed)).items():
                    if fields is None:
                        members.pop(user_id, None)
                    else:
                        members[user_id] = fields
                return Snapshot(version, members)
        self.full_reads += 1
        return Snapshot(version, await _read(session, None))
