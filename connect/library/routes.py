"""Pages for document libraries: folders and lists, uploads, entries, versions, downloads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connect import permissions
from connect.communities import service as communities
from connect.communities.archive import Archived
from connect.communities.routes import archived_page, community_page
from connect.errors import Forbidden, Invalid, NotFound, RateLimited, TooLarge, UnsupportedType
from connect.library import discussions, reading, service, uploads
from connect.library.api import library_listing, receive_version, send_file
from connect.library.api import routes as api_routes
from connect.library.filetypes import ALLOWED_LABEL
from connect.library.models import Folder
from connect.web import ctx, form_data, form_text, page, redirect, render, viewer

UPLOAD_ERRORS = (Invalid, TooLarge, UnsupportedType, RateLimited)


def _folder_options(folders) -> list[tuple[str, str]]:
    return [("", "Library (top level)")] + [(str(f.id), label) for f, label in folders]


def _library_url(slug: str, folder_id: int | None = None) -> str:
    return f"/c/{slug}/library" + (f"?folder={folder_id}" if folder_id else "")


@page
async def library_page(request: Request) -> Response:
    async def extra(session, current, community):
        if not permissions.can_read_community(current, community):
            return {}
        found = await library_listing(request, session, current, community)
        found["can_add"] = permissions.can_add_to_library(current, community)
        found["type_label"] = reading.type_label
        return found

    return await community_page(request, "communities/library.html", "library", extra)


async def _entry_in(session, current, request: Request):
    """The entry named in the path, in the community named in the path."""
    entry, community = await reading.get_entry(session, current, request.path_params["entry_id"])
    if community.slug != request.path_params["slug"]:
        raise NotFound("There is no such document, or you cannot see it.")
    return entry, community


@page
async def new_entry_page(request: Request) -> Response:
    current = await viewer(request)
    slug = request.path_params["slug"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/c/{slug}/library/new")
    async with ctx(request).db.read() as session:
        community = await communities.get_readable(session, current, slug)
        folders = await reading.all_folders(session, community)
    back = f"/c/{community.slug}/library"
    if permissions.is_archived(community) and request.method != "POST":
        return await archived_page(
            request, community, heading="Add a document", back=back, back_label="To the library"
        )
    archived = permissions.is_archived(community)  # a form left open: refused below, text kept
    if not permissions.can_add_to_library(current, community) and not archived:
        raise Forbidden("Join this community to add documents to its library.")
    values = {"title": "", "description": "", "tags": "", "folder_id": ""}
    values["folder_id"] = request.query_params.get("folder", "")
    errors, status, retry_after = {}, 200, None
    if request.method == "POST":
        try:
            async with uploads.receive(request, csrf=True) as upload:
                values = {name: upload.text(name) for name in values}
                # Fresh names: a rollback expires what the transaction loaded, and the
                # form shown again still needs the community read above.
                async with ctx(request).db.transaction() as session:
                    target = await communities.get_readable(session, current, slug)
                    entry = await service.create_entry(
                        session,
                        current,
                        target,
                        ctx(request).storage,
                        files=upload.files,
                        rate_limits=ctx(request).settings.rate_limits,
                        **values,
                    )
        except UPLOAD_ERRORS as exc:
            errors, status = exc.fields or {"file": exc.message}, exc.status
            retry_after = getattr(exc, "retry_after", None)
            if hasattr(exc, "form"):  # refused while reading: keep what was typed
                values = {name: form_text(exc.form, name) for name in values}
        except Archived:
            typed = "\n\n".join(v for v in (values["title"], values["description"]) if v)
            return await archived_page(
                request,
                community,
                heading="Add a document",
                back=back,
                back_label="To the library",
                unsent=typed,
                label="Your title and description (not saved; the files were not kept)",
            )
        else:
            message = (
                "Your document is waiting for a moderator's approval."
                if entry.status == "pending"
                else "Your document is in the library."
            )
            return redirect(request, f"/c/{slug}/library/{entry.id}", message=message)
    response = await render(
        request,
        "library/new_entry.html",
        {
            "community": community,
            "folder_options": _folder_options(folders),
            "values": values,
            "errors": errors,
            "allowed": ALLOWED_LABEL,
            "max_mb": ctx(request).settings.max_upload_mb,
        },
        status=status,
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@page
async def entry_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        entry, community = await _entry_in(session, current, request)
        files = (await reading.files_of(session, [entry.id], previews=True))[entry.id]
        folder = await session.get(Folder, entry.folder_id) if entry.folder_id else None
        path = await reading.folder_path(session, folder)
        thread = await reading.discussion_of(session, current, entry, community)
    can_edit = permissions.can_edit_entry(current, community, author_id=entry.author_id)
    can_remove = permissions.can_delete_entry(current, community, author_id=entry.author_id)
    return await render(
        request,
        "library/entry.html",
        {
            "entry": entry,
            "community": community,
            "files": files,
            "path": path,
            "thread": thread,
            "can_edit": can_edit,
            "can_remove": can_remove,
            "can_flag": permissions.can_flag(
                current, community, status=entry.status, author_id=entry.author_id
            ),
            "can_moderate": permissions.can_moderate(current, community),
            "can_discuss": permissions.can_post(current, community) and entry.status == "published",
            "type_label": reading.type_label,
            "download_url": reading.download_url,
            "max_mb": ctx(request).settings.max_upload_mb,
        },
    )


@page
async def edit_entry_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        entry, community = await _entry_in(session, current, request)
        folders = await reading.all_folders(session, community)
    if permissions.is_archived(community):
        typed = (
            form_text(await form_data(request), "description") if request.method == "POST" else ""
        )
        return await archived_page(
            request,
            community,
            heading="Edit a document",
            back=f"/c/{community.slug}/library/{entry.id}",
            back_label="To the document",
            unsent=typed,
            label="Your description (not saved)",
        )
    if not permissions.can_edit_entry(current, community, author_id=entry.author_id):
        raise Forbidden("Only the document's author or a moderator can change it.")
    slug, entry_id = community.slug, entry.id
    values = {
        "title": entry.title,
        "description": entry.description,
        "tags": ", ".join(entry.tags or []),
        "folder_id": str(entry.folder_id or ""),
    }
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {name: form_text(form, name) for name in values}
        try:
            async with ctx(request).db.transaction() as session:
                target, target_community = await _entry_in(session, current, request)
                await service.update_entry(session, current, target, target_community, values)
        except Archived:  # archived between the read above and the write
            return await archived_page(
                request,
                community,
                heading="Edit a document",
                back=f"/c/{slug}/library/{entry_id}",
                back_label="To the document",
                unsent=values["description"],
                label="Your description (not saved)",
            )
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(
                request, f"/c/{slug}/library/{entry_id}", message="Your changes are saved."
            )
    return await render(
        request,
        "library/edit_entry.html",
        {
            "entry": entry,
            "community": community,
            "folder_options": _folder_options(folders),
            "values": values,
            "errors": errors,
        },
        status=status,
    )


@page
async def delete_entry_action(request: Request) -> Response:
    current = await viewer(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await _entry_in(session, current, request)
        await service.delete_entry(session, current, entry, community)
    return redirect(
        request,
        _library_url(community.slug, entry.folder_id),
        message=f"“{entry.title}” is removed from the library.",
    )


@page
async def version_action(request: Request) -> Response:
    """Upload a new version of one file from the entry page."""
    slug, entry_id = request.path_params["slug"], request.path_params["entry_id"]
    back = f"/c/{slug}/library/{entry_id}"
    try:
        _, _, view = await receive_version(
            request, entry_id, request.path_params["file_id"], csrf=True
        )
    except (*UPLOAD_ERRORS, Archived) as exc:
        return redirect(request, back, error=exc.message)
    return redirect(
        request,
        back,
        message=f"Version {view.current.version} of {view.current.filename} is now current.",
    )


@page
async def discuss_action(request: Request) -> Response:
    current = await viewer(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await _entry_in(session, current, request)
        thread = await discussions.start_discussion(session, current, entry, community)
    return redirect(request, f"/threads/{thread.id}")


@page
async def approve_action(request: Request) -> Response:
    current = await viewer(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await _entry_in(session, current, request)
        await service.approve_entry(session, current, entry, community)
    return redirect(
        request, reading.entry_url(entry, community), message="The document is published."
    )


@page
async def folder_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    slug = request.path_params["slug"]
    parent = form_text(form, "parent_id")
    try:
        async with ctx(request).db.transaction() as session:
            community = await communities.get_readable(session, current, slug)
            folder = await service.create_folder(
                session, current, community, name=form_text(form, "name"), parent_id=parent
            )
    except (Invalid, Archived) as exc:
        back = _library_url(slug, int(parent) if parent.isdigit() else None)
        return redirect(request, back, message=next(iter(exc.fields.values()), exc.message))
    return redirect(
        request, _library_url(slug, folder.id), message=f"Folder “{folder.name}” created."
    )


@page
async def download_page(request: Request) -> Response:
    return await send_file(request)


routes = [
    Route("/c/{slug}/library", library_page),
    Route("/c/{slug}/library/new", new_entry_page, methods=["GET", "POST"]),
    Route("/c/{slug}/library/folders", folder_action, methods=["POST"]),
    Route("/c/{slug}/library/{entry_id:int}", entry_page),
    Route("/c/{slug}/library/{entry_id:int}/edit", edit_entry_page, methods=["GET", "POST"]),
    Route("/c/{slug}/library/{entry_id:int}/delete", delete_entry_action, methods=["POST"]),
    Route("/c/{slug}/library/{entry_id:int}/discuss", discuss_action, methods=["POST"]),
    Route("/c/{slug}/library/{entry_id:int}/approve", approve_action, methods=["POST"]),
    Route(
        "/c/{slug}/library/{entry_id:int}/files/{file_id:int}/versions",
        version_action,
        methods=["POST"],
    ),
    Route("/library/files/{file_id:int}/download", download_page),
    *api_routes,
]
