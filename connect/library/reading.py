"""Reading libraries: lookups that enforce visibility, folder and list views, JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.boards.models import Post, Thread
from connect.boards.reading import author_json
from connect.communities.models import Community
from connect.errors import Forbidden, Invalid, NotFound
from connect.library.filetypes import TYPES
from connect.library.models import Entry, FileText, FileVersion, Folder, LibraryFile
from connect.permissions import Viewer

ENTRIES_PER_PAGE = 25
SORTS = ("date", "title", "downloads")
PREVIEW_CHARS = 4000
ALL = "all"  # list view: every entry of the library, whatever its folder


@dataclass(frozen=True, slots=True)
class TextPreview:
    """The start of a version's extracted text and how its extraction went (a FileText's
    columns, read as plain values: no ORM object per version)."""

    version_id: int
    status: str
    truncated: bool
    detail: str
    text: str


@dataclass
class FileView:
    """A file with its versions (newest first) and their extracted texts."""

    file: LibraryFile
    versions: list[FileVersion]
    texts: dict[int, TextPreview] = field(default_factory=dict)

    @property
    def current(self) -> FileVersion:
        return next(
            (v for v in self.versions if v.version == self.file.current_version), self.versions[0]
        )

    def text_of(self, version: FileVersion) -> TextPreview | None:
        return self.texts.get(version.id)


# JSON shapes ----------------------------------------------------------------------------


def download_url(file_id: int, version: int | None = None, *, api: bool = True) -> str:
    base = "/api/v1" if api else ""
    query = f"?version={version}" if version is not None else ""
    return f"{base}/library/files/{file_id}/download{query}"


def entry_url(entry: Entry, community: Community) -> str:
    return f"/c/{community.slug}/library/{entry.id}"


def folder_json(folder: Folder, community: Community) -> dict:
    return {
        "id": folder.id,
        "name": folder.name,
        "parent_id": folder.parent_id,
        "kind": folder.kind or "folder",
        "created_at": folder.created_at.isoformat(),
        "url": f"/c/{community.slug}/library?folder={folder.id}",
    }


def version_json(v: FileVersion, text: TextPreview | None = None) -> dict:
    return {
        "id": v.id,
        "version": v.version,
        "filename": v.filename,
        "size": v.size,
        "content_type": v.content_type,
        "kind": v.kind,
        "sha256": v.sha256,
        "uploaded_by": author_json(v.uploaded_by),
        "created_at": v.created_at.isoformat(),
        "download_count": v.download_count,
        "download_url": download_url(v.file_id, v.version),
        "text_status": text.status if text else "pending",
    }


def file_json(view: FileView) -> dict:
    current = view.current
    return {
        "id": view.file.id,
        "filename": current.filename,
        "size": current.size,
        "content_type": current.content_type,
        "kind": current.kind,
        "version": current.version,
        "sha256": current.sha256,
        "download_url": download_url(view.file.id),
        "download_count": view.file.download_count,
        "text_status": (t.status if (t := view.text_of(current)) else "pending"),
        "versions": [version_json(v, view.text_of(v)) for v in view.versions],
    }


def entry_json(entry: Entry, community: Community, files: list[FileView] | None = None) -> dict:
    return {
        "id": entry.id,
        "title": entry.title,
        "description": entry.description,
        "html": entry.html,
        "tags": list(entry.tags or []),
        "author": author_json(entry.author),
        "status": entry.status,
        "community": community.slug,
        "folder_id": entry.folder_id,
        "files": [file_json(f) for f in files or []],
        "download_count": entry.download_count,
        "thread_id": entry.thread_id,
        "post_id": entry.post_id,
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
        "url": entry_url(entry, community),
    }


def summary_json(entry: Entry, community: Community, files: list[FileView]) -> dict:
    """What events carry: enough for live updates and the search indexer, no texts."""
    data = entry_json(entry, community, files)
    for f in data["files"]:
        f.pop("versions")
    return data


# Lookups ----------------------------------------------------------------------------------


def check_readable(viewer: Viewer, community: Community) -> None:
    if not permissions.can_read_community(viewer, community):
        if community.visibility == "private":
            raise NotFound("There is no community at this address.")
        raise Forbidden("Only members of this community can see its library.")


async def get_entry(
    session: AsyncSession, viewer: Viewer, entry_id: int
) -> tuple[Entry, Community]:
    """The entry and its community, or NotFound if the viewer may not see it."""
    row = (
        await session.execute(
            select(Entry, Community)
            .join(Community, Community.id == Entry.community_id)
            .where(Entry.id == entry_id)
        )
    ).first()
    if row is None or not permissions.can_see_entry(
        viewer, row[1], status=row[0].status, author_id=row[0].author_id
    ):
        raise NotFound("There is no such document, or you cannot see it.")
    return row[0], row[1]


async def get_file_version(
    session: AsyncSession, viewer: Viewer, file_id: int, version: int | None = None
) -> tuple[FileVersion, LibraryFile, Entry, Community]:
    """A file's version (the current one when `version` is None), if the viewer may see it."""
    lib_file = await session.get(LibraryFile, file_id)
    if lib_file is None:
        raise NotFound("There is no such file, or you cannot see it.")
    entry, community = await get_entry(session, viewer, lib_file.entry_id)
    number = lib_file.current_version if version is None else version
    found = (
        await session.execute(
            select(FileVersion).where(
                FileVersion.file_id == lib_file.id, FileVersion.version == number
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("This file has no such version.")
    return found, lib_file, entry, community


async def get_folder(session: AsyncSession, community: Community, folder_id: int) -> Folder:
    folder = await session.get(Folder, folder_id)
    if folder is None or folder.community_id != community.id:
        raise NotFound("There is no such folder in this library.")
    return folder


async def folder_path(session: AsyncSession, folder: Folder | None) -> list[Folder]:
    """The folders from the library's root down to this one (the breadcrumb)."""
    path: list[Folder] = []
    while folder is not None and len(path) < 64:
        path.insert(0, folder)
        folder = await session.get(Folder, folder.parent_id) if folder.parent_id else None
    return path


async def subfolders(
    session: AsyncSession, community: Community, parent_id: int | None
) -> list[Folder]:
    parent = Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id
    rows = await session.execute(
        select(Folder)
        .where(Folder.community_id == community.id, parent)
        .order_by(Folder.kind.desc(), func.lower(Folder.name), Folder.id)
    )
    return list(rows.scalars())


async def all_folders(session: AsyncSession, community: Community) -> list[tuple[Folder, str]]:
    """Every folder with its full path as a label ("Policies / 2025"), in path order."""
    rows = await session.execute(select(Folder).where(Folder.community_id == community.id))
    folders = {f.id: f for f in rows.scalars()}

    def label(f: Folder, depth: int = 0) -> str:
        parent = folders.get(f.parent_id) if f.parent_id else None
        return f"{label(parent, depth + 1)} / {f.name}" if parent and depth < 64 else f.name

    labelled = [(f, label(f)) for f in folders.values()]
    return sorted(labelled, key=lambda pair: pair[1].lower())


def _order(sort: str, order: str):
    descending = {"date": True, "title": False, "downloads": True}[sort]
    if order in ("asc", "desc"):
        descending = order == "desc"
    column = {
        "date": Entry.created_at,
        "title": func.lower(Entry.title),
        "downloads": Entry.download_count,
    }[sort]
    if descending:
        return (column.desc(), Entry.id.desc())
    return (column.asc(), Entry.id.asc())


async def list_entries(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    folder_id: int | None | str = None,
    sort: str = "date",
    order: str = "",
    page: int = 1,
    per_page: int = ENTRIES_PER_PAGE,
) -> tuple[list[Entry], int]:
    """A page of the entries the viewer may see: in one folder (None: the root) or ALL."""
    check_readable(viewer, community)
    if sort not in SORTS:
        raise Invalid(
            f"sort is one of {', '.join(SORTS)}.", fields={"sort": "date, title or downloads."}
        )
    visible = permissions.visible_status_clause(viewer, community, Entry.status, Entry.author_id)
    condition = and_(Entry.community_id == community.id, visible)
    if folder_id != ALL:
        condition = and_(
            condition,
            Entry.folder_id.is_(None) if folder_id is None else Entry.folder_id == folder_id,
        )
    total = (await session.execute(select(func.count(Entry.id)).where(condition))).scalar()
    rows = await session.execute(
        select(Entry)
        .where(condition)
        .order_by(*_order(sort, order))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows.scalars().unique()), total


async def files_of(
    session: AsyncSession, entry_ids: list[int], *, previews: bool = False
) -> dict[int, list[FileView]]:
    """Each entry's files with all their versions and how their texts were read, in three
    queries; with `previews`, the start of each text too (only the entry page shows it:
    reading it means reading whole texts of up to megabytes from the database)."""
    if not entry_ids:
        return {}
    files = list(
        (
            await session.execute(
                select(LibraryFile)
                .where(LibraryFile.entry_id.in_(entry_ids))
                .order_by(LibraryFile.position, LibraryFile.id)
            )
        ).scalars()
    )
    versions: dict[int, list[FileVersion]] = {f.id: [] for f in files}
    if files:
        rows = await session.execute(
            select(FileVersion)
            .where(FileVersion.file_id.in_(list(versions)))
            .order_by(FileVersion.version.desc())
        )
        for v in rows.scalars().unique():
            versions[v.file_id].append(v)
    version_ids = [v.id for vs in versions.values() for v in vs]
    texts: dict[int, TextPreview] = {}
    if version_ids:
        rows = await session.execute(
            select(FileText)
            .where(FileText.version_id.in_(version_ids))
            .with_only_columns(
                FileText.version_id,
                FileText.status,
                FileText.truncated,
                FileText.detail,
                (
                    func.substr(FileText.text, 1, PREVIEW_CHARS)
                    if previews
                    else literal("", String)
                ).label("text"),
            )
        )
        texts = {r.version_id: TextPreview(*r) for r in rows}
    found: dict[int, list[FileView]] = {i: [] for i in entry_ids}
    for f in files:
        if versions[f.id]:
            found[f.entry_id].append(FileView(f, versions[f.id], texts))
    return found


async def attachments_by_post(
    session: AsyncSession, viewer: Viewer, community: Community, posts: list[Post]
) -> dict[int, list[Entry]]:
    """The library entries attached to these posts that the viewer may see, by post id."""
    found = await attachments_of(session, [p.id for p in posts])
    return visible_attachments(viewer, community, found)


async def attachments_of(session: AsyncSession, post_ids: list[int]) -> dict[int, list[Entry]]:
    """Every entry attached to these posts but removed ones, by post id (one query); pass
    the result through `visible_attachments` before showing it."""
    if not post_ids:
        return {}
    rows = await session.execute(
        select(Entry)
        .where(Entry.post_id.in_(post_ids), Entry.status != "deleted")
        # By post first: most entries belong to no post, so SQLite's statistics make its
        # post_id index look useless, and ordering by id alone had it scan every entry
        # (~2-3 ms per thread page on 5,000 entries) instead of looking up these posts.
        .order_by(Entry.post_id, Entry.id)
    )
    found: dict[int, list[Entry]] = {}
    for entry in rows.scalars().unique():
        found.setdefault(entry.post_id, []).append(entry)
    return found


def visible_attachments(
    viewer: Viewer, community: Community, found: dict[int, list[Entry]]
) -> dict[int, list[Entry]]:
    visible: dict[int, list[Entry]] = {}
    for post_id, entries in found.items():
        shown = [
            e
            for e in entries
            if permissions.can_see_entry(viewer, community, status=e.status, author_id=e.author_id)
        ]
        if shown:
            visible[post_id] = shown
    return visible


async def discussion_of(session: AsyncSession, viewer: Viewer, entry: Entry, community):
    """The entry's discussion thread, if it has one the viewer may see."""
    if entry.thread_id is None:
        return None
    thread = await session.get(Thread, entry.thread_id)
    if thread is None or not permissions.can_see_post(
        viewer, community, status=thread.status, author_id=thread.author_id
    ):
        return None
    return thread


async def entry_text(session: AsyncSession, entry_id: int) -> str:
    """The extracted text of the entry's current file versions (what search indexes)."""
    rows = await session.execute(
        select(FileText.text)
        .join(FileVersion, FileVersion.id == FileText.version_id)
        .join(LibraryFile, LibraryFile.id == FileVersion.file_id)
        .where(
            LibraryFile.entry_id == entry_id,
            FileVersion.version == LibraryFile.current_version,
            FileText.status == "ok",
        )
        .order_by(LibraryFile.position, LibraryFile.id)
    )
    return "\n\n".join(rows.scalars())


def type_label(kind: str) -> str:
    return TYPES.get(kind, ("", kind))[1]


def attachment_json(entry: Entry, community: Community) -> dict:
    """How a post lists an attached file: a link to its library entry."""
    return {
        "id": entry.id,
        "title": entry.title,
        "status": entry.status,
        "url": entry_url(entry, community),
    }
