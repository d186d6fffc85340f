"""Library operations: folders, entries with files and versions, downloads.

Verbs that take uploaded files write the rows and the event first and move the
verified blobs into place last, still inside the caller's transaction: a failure
anywhere rolls the rows back and leaves the blobs in the temporary folder, which the
upload's context removes. Reading lives in reading.py; a document's discussion and files
attached to posts in discussions.py.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.boards.models import Post, Thread
from connect.communities.archive import Archived, check_not_archived
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Forbidden, Invalid, NotFound, NotSignedIn
from connect.library.models import Entry, FileVersion, Folder, LibraryFile
from connect.library.reading import FileView, files_of, summary_json
from connect.library.uploads import ReceivedFile
from connect.moderation import audit, limits
from connect.permissions import Viewer
from connect.storage import Storage

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
TAGS_MAX = 20
TAG_MAX = 40
FOLDER_NAME_MAX = 100
FOLDER_DEPTH_MAX = 8
FILES_MAX = 20
ATTACHMENTS_FOLDER = "Discussion attachments"
ENTRY_FIELDS = {"title", "description", "tags", "folder_id"}


# Validation ----------------------------------------------------------------------------


def _clean_title(title, *, fallback: str = "") -> str:
    if not isinstance(title, str):
        title = ""
    title = markup.one_line(title) or fallback
    if not title:
        raise Invalid("Give the document a title.", fields={"title": "Enter a title."})
    if len(title) > TITLE_MAX:
        message = f"Use at most {TITLE_MAX} characters."
        raise Invalid(message, fields={"title": message})
    return title


def _clean_description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise Invalid("The description is text.", fields={"description": "Text, please."})
    description = description.replace("\r\n", "\n").strip()
    if len(description) > DESCRIPTION_MAX:
        message = f"Use at most {DESCRIPTION_MAX:,} characters."
        raise Invalid(message, fields={"description": message})
    return description


def _clean_tags(tags) -> list[str]:
    """Tags from "a, b" or ["a", "b"]: trimmed, lower case, no duplicates."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise Invalid("Tags are comma separated text.", fields={"tags": "Comma separated."})
    clean: list[str] = []
    for tag in tags:
        tag = " ".join(tag.split()).lower()
        if not tag or tag in clean:
            continue
        if len(tag) > TAG_MAX:
            message = f"Each tag is at most {TAG_MAX} characters."
            raise Invalid(message, fields={"tags": message})
        clean.append(tag)
    if len(clean) > TAGS_MAX:
        message = f"Use at most {TAGS_MAX} tags."
        raise Invalid(message, fields={"tags": message})
    return clean


def _id_or_none(value, name: str) -> int | None:
    if value in (None, "", "root"):
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Invalid(f"{name} is a folder id.", fields={name: "A folder id."})


async def _folder_in(session: AsyncSession, community: Community, folder_id, name: str):
    folder_id = _id_or_none(folder_id, name)
    if folder_id is None:
        return None
    folder = await session.get(Folder, folder_id)
    if folder is None or folder.community_id != community.id:
        raise Invalid("There is no such folder in this library.", fields={name: "Unknown folder."})
    return folder


async def _published_before(session: AsyncSession, user_id: int, community_id: int) -> bool:
    for model in (Post, Entry):
        row = await session.execute(
            select(model.id)
            .where(
                model.author_id == user_id,
                model.community_id == community_id,
                model.status == "published",
            )
            .limit(1)
        )
        if row.first() is not None:
            return True
    return False


def check_can_add(viewer: Viewer, community: Community) -> None:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to add documents.")
    if not permissions.can_see_community(viewer, community):
        raise NotFound("There is no community at this address.")
    check_not_archived(community)
    limits.check_not_banned(viewer, community)
    if not permissions.can_add_to_library(viewer, community):
        raise Forbidden("Join this community to add documents to its library.")


async def _commit_blobs(storage: Storage, files: list[ReceivedFile]) -> None:
    """Last step of a write: the verified blobs move into place (before the rows commit)."""

    def commit_all() -> None:
        for received in files:
            storage.commit(received.blob)

    await asyncio.to_thread(commit_all)


async def _record(
    session: AsyncSession,
    type: str,
    viewer_id: int | None,
    entry: Entry,
    community: Community,
    **data,
) -> None:
    views = (await files_of(session, [entry.id]))[entry.id]
    await events.record(
        session,
        type,
        actor_id=viewer_id,
        community_id=community.id,
        audience=permissions.event_audience(community, entry.status),
        subject_id=entry.id,
        data={"entry": summary_json(entry, community, views), **data},
    )


# Folders -----------------------------------------------------------------------------


async def create_folder(
    session: AsyncSession, viewer: Viewer, community: Community, *, name, parent_id=None
) -> Folder:
    check_can_add(viewer, community)
    if name is not None and not isinstance(name, str):
        raise Invalid("A folder's name is text.", fields={"name": "Enter the name as text."})
    name = " ".join(name.split()) if name else ""
    if not name:
        raise Invalid("Name the folder.", fields={"name": "Enter a name."})
    if len(name) > FOLDER_NAME_MAX or "/" in name:
        message = f"Use at most {FOLDER_NAME_MAX} characters, without /."
        raise Invalid(message, fields={"name": message})
    parent = await _folder_in(session, community, parent_id, "parent_id")
    depth, above = 1, parent
    while above is not None:
        depth += 1
        above = await session.get(Folder, above.parent_id) if above.parent_id else None
    if depth > FOLDER_DEPTH_MAX:
        message = f"Folders nest at most {FOLDER_DEPTH_MAX} deep."
        raise Invalid(message, fields={"parent_id": message})
    siblings = await session.execute(
        select(Folder.name).where(
            Folder.community_id == community.id,
            Folder.parent_id.is_(None) if parent is None else Folder.parent_id == parent.id,
        )
    )
    if name.lower() in {n.lower() for n in siblings.scalars()}:
        message = "There is already a folder with this name here."
        raise Invalid(message, fields={"name": message})
    folder = Folder(
        community_id=community.id,
        parent_id=parent.id if parent else None,
        name=name,
        created_at=utcnow(),
        created_by_id=viewer.id,
    )
    session.add(folder)
    await session.flush()
    return folder


async def attachments_folder(session: AsyncSession, community: Community) -> Folder:
    """The community's "Discussion attachments" folder, made on first use."""
    folder = (
        await session.execute(
            select(Folder)
            .where(Folder.community_id == community.id, Folder.kind == "attachments")
            .order_by(Folder.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if folder is None:
        folder = Folder(
            community_id=community.id,
            name=ATTACHMENTS_FOLDER,
            kind="attachments",
            created_at=utcnow(),
        )
        session.add(folder)
        await session.flush()
    return folder


# Entries -------------------------------------------------------------------------------


async def create_entry(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    storage: Storage,
    *,
    files: list[ReceivedFile],
    title=None,
    description=None,
    tags=None,
    folder_id=None,
    post: Post | None = None,
    rate_limits: bool = False,
) -> Entry:
    """A new entry with its files (each at version 1), held when moderation says so.

    `rate_limits`: count the files against the uploads-per-day limits (web requests do;
    a post's attachments were counted with the post).
    """
    check_can_add(viewer, community)
    if not files:
        raise Invalid("Choose at least one file.", fields={"file": "Choose a file."})
    if len(files) > FILES_MAX:
        message = f"An entry holds at most {FILES_MAX} files."
        raise Invalid(message, fields={"file": message})
    await limits.check_uploads(session, viewer, community, count=len(files), enabled=rate_limits)
    fallback = (
        files[0].filename.rsplit(".", 1)[0] if "." in files[0].filename else files[0].filename
    )
    title = _clean_title(title, fallback=fallback[:TITLE_MAX])
    description = _clean_description(description)
    tags = _clean_tags(tags)
    if post is not None:
        folder, status = await attachments_folder(session, community), post.status
    else:
        folder = await _folder_in(session, community, folder_id, "folder_id")
        held = permissions.held_for_approval(
            viewer,
            community,
            published_before=await _published_before(session, viewer.id, community.id),
        )
        status = "pending" if held else "published"
    now = utcnow()
    entry = Entry(
        community_id=community.id,
        folder_id=folder.id if folder else None,
        author_id=viewer.id,
        title=title,
        description=description,
        html=markup.render(description) if description else "",
        tags=tags,
        status=status,
        created_at=now,
        updated_at=now,
        thread_id=post.thread_id if post else None,
        post_id=post.id if post else None,
    )
    session.add(entry)
    await session.flush()
    entry.author = await session.get(User, viewer.id)
    version_ids = []
    for position, received in enumerate(files):
        lib_file = LibraryFile(
            entry_id=entry.id, position=position, filename=received.filename, created_at=now
        )
        session.add(lib_file)
        await session.flush()
        version_ids.append(await _add_version_row(session, viewer, lib_file, received, 1))
    await _record(
        session, "entry.created", viewer.id, entry, community, status=status, versions=version_ids
    )
    await _commit_blobs(storage, files)
    return entry


async def _add_version_row(
    session: AsyncSession,
    viewer: Viewer,
    lib_file: LibraryFile,
    received: ReceivedFile,
    number: int,
) -> int:
    version = FileVersion(
        file_id=lib_file.id,
        version=number,
        sha256=received.blob.sha256,
        size=received.blob.size,
        content_type=received.type.content_type,
        kind=received.type.kind,
        filename=received.filename,
        uploaded_by_id=viewer.id,
        created_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    return version.id


async def add_version(
    session: AsyncSession,
    viewer: Viewer,
    entry: Entry,
    community: Community,
    lib_file: LibraryFile,
    storage: Storage,
    received: ReceivedFile,
    *,
    rate_limits: bool = False,
) -> FileView:
    """Upload a new version of a file: it becomes current, the older ones stay listed."""
    check_not_archived(community)
    if not permissions.can_edit_entry(viewer, community, author_id=entry.author_id):
        raise Forbidden("Only the document's author or a moderator can upload new versions.")
    if lib_file.entry_id != entry.id:
        raise NotFound("This document has no such file.")
    await limits.check_uploads(session, viewer, community, count=1, enabled=rate_limits)
    # Counting from the stored rows, so two uploads at once cannot share a number.
    numbers = await session.execute(
        select(FileVersion.version).where(FileVersion.file_id == lib_file.id)
    )
    number = max(numbers.scalars(), default=0) + 1
    version_id = await _add_version_row(session, viewer, lib_file, received, number)
    lib_file.current_version = number
    lib_file.filename = received.filename
    entry.updated_at = utcnow()
    await session.flush()
    await _record(
        session,
        "entry.updated",
        viewer.id,
        entry,
        community,
        change="version_added",
        file_id=lib_file.id,
        version=number,
        versions=[version_id],
    )
    await _commit_blobs(storage, [received])
    return next(
        v for v in (await files_of(session, [entry.id]))[entry.id] if v.file.id == lib_file.id
    )


async def update_entry(
    session: AsyncSession, viewer: Viewer, entry: Entry, community: Community, changes: dict
) -> Entry:
    unknown = set(changes) - ENTRY_FIELDS
    if unknown:
        raise Invalid(
            "Unknown document fields.", fields={k: "Not a document field." for k in sorted(unknown)}
        )
    check_not_archived(community)
    if not permissions.can_edit_entry(viewer, community, author_id=entry.author_id):
        raise Forbidden("Only the document's author or a moderator can change it.")
    before: dict = {}
    if "title" in changes:
        before["title"] = entry.title
        entry.title = _clean_title(changes["title"])
    if "description" in changes:
        before["description"] = entry.description
        entry.description = _clean_description(changes["description"])
        entry.html = markup.render(entry.description) if entry.description else ""
    if "tags" in changes:
        before["tags"] = list(entry.tags or [])
        entry.tags = _clean_tags(changes["tags"])
    if "folder_id" in changes:
        folder = await _folder_in(session, community, changes["folder_id"], "folder_id")
        before["folder_id"] = entry.folder_id
        entry.folder_id = folder.id if folder else None
    entry.updated_at = utcnow()
    await session.flush()
    if viewer.id != entry.author_id:  # a moderator's edit of someone else's document
        await audit.record(
            session,
            viewer,
            "entry.edit",
            community=community,
            target_kind="entry",
            target_id=entry.id,
            target_user=entry.author,
            summary=entry.title,
            before=before,
            after={name: getattr(entry, name) for name in before},
        )
    await _record(session, "entry.updated", viewer.id, entry, community, before=before)
    return entry


async def delete_entry(
    session: AsyncSession,
    viewer: Viewer,
    entry: Entry,
    community: Community,
    *,
    audited: bool = False,
) -> None:
    """Remove the entry and its rows; its blobs go at the next `connect gc`. `audited`: the
    caller logs the removal as its own moderation action (a rejection). In an archived
    community only moderators remove entries."""
    if permissions.is_archived(community) and not permissions.can_moderate(viewer, community):
        raise Archived()
    if not permissions.can_delete_entry(viewer, community, author_id=entry.author_id):
        raise Forbidden("Only the document's author or a moderator can remove it.")
    if viewer.id != entry.author_id and not audited:  # a moderator removes someone's document
        await audit.record(
            session,
            viewer,
            "entry.delete",
            community=community,
            target_kind="entry",
            target_id=entry.id,
            target_user=entry.author,
            summary=entry.title,
            before={"title": entry.title, "description": entry.description, "status": entry.status},
        )
    await events.record(
        session,
        "entry.deleted",
        actor_id=viewer.id,
        community_id=community.id,
        audience=permissions.event_audience(community, entry.status),
        subject_id=entry.id,
        data={"entry_id": entry.id, "title": entry.title, "community": community.slug},
    )
    await session.execute(delete(Entry).where(Entry.id == entry.id))


async def approve_entry(
    session: AsyncSession, viewer: Viewer, entry: Entry, community: Community
) -> Entry:
    """A moderator publishes a held entry."""
    if not permissions.can_moderate(viewer, community):
        raise Forbidden("Only moderators can approve documents.")
    if entry.status != "pending":
        return entry
    entry.status = "published"
    await session.flush()
    await _record(
        session,
        "entry.updated",
        viewer.id,
        entry,
        community,
        change="approved",
        before={"status": "pending"},
    )
    return entry


def _attachment_status(post_status: str, thread_status: str) -> str:
    """What a post's attachments show as: published while the post and its thread both are,
    held while either is held, and for moderators only once either is hidden or deleted."""
    statuses = {post_status, thread_status}
    if statuses <= {"published"}:
        return "published"
    if statuses & {"hidden", "deleted"}:
        return "hidden"
    return "pending"


async def sync_attachments(session: AsyncSession, post: Post, community: Community) -> None:
    """A post's attachments follow its status and its thread's (approving, hiding,
    restoring, deleting the post)."""
    thread = await session.get(Thread, post.thread_id)
    status = _attachment_status(post.status, thread.status)
    await _set_attachments_status(session, Entry.post_id == post.id, status, community)


async def sync_thread_attachments(
    session: AsyncSession, thread: Thread, community: Community
) -> None:
    """After the thread's own status changed (approved, hidden, restored, deleted): every
    post's attachments follow, so nothing in a hidden thread stays public."""
    rows = await session.execute(select(Post.id, Post.status).where(Post.thread_id == thread.id))
    by_status: dict[str, list[int]] = {}
    for post_id, status in rows:
        by_status.setdefault(_attachment_status(status, thread.status), []).append(post_id)
    for status, post_ids in by_status.items():
        await _set_attachments_status(session, Entry.post_id.in_(post_ids), status, community)


async def _set_attachments_status(session: AsyncSession, which, status, community) -> None:
    rows = await session.execute(select(Entry).where(which, Entry.status != status))
    for entry in rows.scalars().unique():
        before = entry.status
        entry.status = status
        await session.flush()
        await _record(
            session,
            "entry.updated",
            None,
            entry,
            community,
            change="status",
            before={"status": before},
        )


async def count_download(session: AsyncSession, version: FileVersion, entry_id: int) -> None:
    await session.execute(
        update(FileVersion)
        .where(FileVersion.id == version.id)
        .values(download_count=FileVersion.download_count + 1)
    )
    await session.execute(
        update(LibraryFile)
        .where(LibraryFile.id == version.file_id)
        .values(download_count=LibraryFile.download_count + 1)
    )
    await session.execute(
        update(Entry).where(Entry.id == entry_id).values(download_count=Entry.download_count + 1)
    )
