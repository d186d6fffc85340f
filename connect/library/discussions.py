"""Where the library meets the boards: a document's discussion thread ("Discuss this
document"), and files attached to posts, which become entries of the community's library."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from connect.boards import service as boards
from connect.boards.models import Post, Thread
from connect.communities.models import Community
from connect.errors import Invalid
from connect.library.models import Entry
from connect.library.service import TITLE_MAX, _record, create_entry
from connect.library.uploads import ReceivedFile
from connect.permissions import Viewer
from connect.storage import Storage


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|])", r"\\\1", text)


async def start_discussion(
    session: AsyncSession, viewer: Viewer, entry: Entry, community: Community
) -> Thread:
    """The entry's discussion thread ("Discuss this document"), started on first use."""
    if entry.thread_id is not None:
        thread = await session.get(Thread, entry.thread_id)
        if thread is not None and thread.status != "deleted":
            return thread
    if entry.status != "published":
        raise Invalid("This document can be discussed once a moderator approves it.")
    url = f"/c/{community.slug}/library/{entry.id}"
    thread, _ = await boards.create_thread(
        session,
        viewer,
        community,
        title=entry.title,
        body=f"A discussion of the library document [{_md_escape(entry.title)}]({url}).",
    )
    entry.thread_id = thread.id
    await session.flush()
    await _record(
        session,
        "entry.updated",
        viewer.id,
        entry,
        community,
        change="discussion",
        thread_id=thread.id,
    )
    return thread


async def attach_to_post(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    storage: Storage,
    post: Post,
    files: list[ReceivedFile],
) -> list[Entry]:
    """Files attached to a post become entries in the "Discussion attachments" folder,
    one per file, linked to the post and sharing its status."""
    entries = []
    for received in files:
        entries.append(
            await create_entry(
                session,
                viewer,
                community,
                storage,
                files=[received],
                title=received.filename[:TITLE_MAX],
                post=post,
            )
        )
    return entries
