"""JSON API for document libraries (api.md, Shared document libraries), and file downloads."""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, MalformedRangeHeader, Response
from starlette.routing import Route

from connect import permissions, security
from connect.communities import service as communities
from connect.communities.archive import check_not_archived
from connect.errors import Forbidden, Invalid, NotFound
from connect.library import reading, service, uploads
from connect.library.models import LibraryFile
from connect.library.reading import ALL, entry_json, file_json, folder_json
from connect.web import api, ctx, json_body, optional_id, page_params, signed_in, viewer

log = logging.getLogger("connect.library")
# What may stand in the quoted filename: no quote, backslash, percent, ";" or "," that
# lenient parsers misread.
UNSAFE_IN_QUOTED = re.compile(r"[^A-Za-z0-9 !#$&+.^_`{}~()\[\]=@-]")


def _int(value: str, name: str) -> int:
    number = optional_id(value)
    if number is None:
        raise Invalid(f"{name} is a number.", fields={name: "A number."})
    return number


# Listing and folders ------------------------------------------------------------------


async def library_listing(request: Request, session, current, community) -> dict:
    """The folder view (one folder's subfolders and entries) or the list view (view=all)."""
    page, per_page = page_params(request, default_per_page=reading.ENTRIES_PER_PAGE)
    query = request.query_params
    view = "all" if query.get("view") == "all" else "folder"
    sort, order = query.get("sort", "date"), query.get("order", "")
    reading.check_readable(current, community)
    folder = None
    if query.get("folder"):
        folder = await reading.get_folder(session, community, _int(query["folder"], "folder"))
    scope = ALL if view == "all" else (folder.id if folder else None)
    entries, total = await reading.list_entries(
        session,
        current,
        community,
        folder_id=scope,
        sort=sort,
        order=order,
        page=page,
        per_page=per_page,
    )
    return {
        "view": view,
        "sort": sort,
        "order": order,
        "page": page,
        "per_page": per_page,
        "total": total,
        "folder": folder,
        "path": await reading.folder_path(session, folder),
        "folders": []
        if view == "all"
        else await reading.subfolders(session, community, folder.id if folder else None),
        "entries": entries,
        "files": await reading.files_of(session, [e.id for e in entries]),
    }


@api
async def list_library(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        community = await communities.get_visible(session, current, request.path_params["slug"])
        found = await library_listing(request, session, current, community)
    return JSONResponse(
        {
            "folder": folder_json(found["folder"], community) if found["folder"] else None,
            "path": [folder_json(f, community) for f in found["path"]],
            "folders": [folder_json(f, community) for f in found["folders"]],
            "items": [entry_json(e, community, found["files"][e.id]) for e in found["entries"]],
            **{k: found[k] for k in ("total", "page", "per_page", "sort", "view")},
        }
    )


@api
async def create_folder(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        community = await communities.get_visible(session, current, request.path_params["slug"])
        folder = await service.create_folder(
            session, current, community, name=data.get("name"), parent_id=data.get("parent_id")
        )
    return JSONResponse(folder_json(folder, community), status_code=201)


# Entries --------------------------------------------------------------------------------


@api
async def create_entry(request: Request) -> Response:
    current = await signed_in(request)
    slug = request.path_params["slug"]
    async with ctx(request).db.read() as session:
        community = await communities.get_visible(session, current, slug)
    service.check_can_add(current, community)  # refused before a byte is read
    async with uploads.receive(request) as upload, ctx(request).db.transaction() as session:
        community = await communities.get_visible(session, current, slug)
        entry = await service.create_entry(
            session,
            current,
            community,
            ctx(request).storage,
            files=upload.files,
            title=upload.text("title"),
            description=upload.text("description"),
            tags=upload.text("tags"),
            folder_id=upload.text("folder_id"),
            rate_limits=ctx(request).settings.rate_limits,
        )
        files = await reading.files_of(session, [entry.id])
    return JSONResponse(entry_json(entry, community, files[entry.id]), status_code=201)


@api
async def get_entry(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        entry, community = await reading.get_entry(session, current, request.path_params["id"])
        files = await reading.files_of(session, [entry.id])
    return JSONResponse(entry_json(entry, community, files[entry.id]))


@api
async def update_entry(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await reading.get_entry(session, current, request.path_params["id"])
        await service.update_entry(session, current, entry, community, data)
        files = await reading.files_of(session, [entry.id])
    return JSONResponse(entry_json(entry, community, files[entry.id]))


@api
async def delete_entry(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await reading.get_entry(session, current, request.path_params["id"])
        await service.delete_entry(session, current, entry, community)
    return Response(status_code=204)


async def receive_version(request: Request, entry_id: int, file_id: int, *, csrf: bool = False):
    """Check who may, stream the one file in, then add it as the file's newest version."""
    current = await signed_in(request)
    async with ctx(request).db.read() as session:
        entry, community = await reading.get_entry(session, current, entry_id)
        lib_file = await session.get(LibraryFile, file_id)
    if lib_file is None or lib_file.entry_id != entry.id:
        raise NotFound("This document has no such file.")
    check_not_archived(community)  # refused before a byte of the file is stored
    if not permissions.can_edit_entry(current, community, author_id=entry.author_id):
        raise Forbidden("Only the document's author or a moderator can upload new versions.")
    async with uploads.receive(request, max_files=1, csrf=csrf) as upload:
        if len(upload.files) != 1:
            raise Invalid("Choose the file to upload.", fields={"file": "Choose a file."})
        async with ctx(request).db.transaction() as session:
            entry, community = await reading.get_entry(session, current, entry_id)
            lib_file = await session.get(LibraryFile, file_id)
            view = await service.add_version(
                session,
                current,
                entry,
                community,
                lib_file,
                ctx(request).storage,
                upload.files[0],
                rate_limits=ctx(request).settings.rate_limits,
            )
    return entry, community, view


@api
async def add_version(request: Request) -> Response:
    entry, _, view = await receive_version(
        request, request.path_params["id"], request.path_params["file_id"]
    )
    return JSONResponse({**file_json(view), "entry_id": entry.id}, status_code=201)


# Downloads ------------------------------------------------------------------------------


class BlobResponse(FileResponse):
    """A stored file: read in 1 MB pieces (one thread hop each) rather than 64 KB."""

    chunk_size = 1024 * 1024

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        # RFC 9110 14.2: a Range that cannot be parsed is ignored (200, the whole file), not
        # a 400. One that cannot be satisfied still gets its 416.
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII stand-in for old clients, and the exact name UTF-8 encoded."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = UNSAFE_IN_QUOTED.sub("_", fallback).strip()
    stem, dot, extension = fallback.rpartition(".") if "." in fallback else (fallback, "", "")
    if not stem.strip(" ._-"):  # nothing of the name but its extension (日本語.txt)
        fallback = f"download.{extension}" if extension else "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in (
        t.strip().removeprefix("W/") for t in header.split(",")
    )


def _counts_as_download(range_header: str | None) -> bool:
    """A download counts once: whole-file requests and ranges that start at byte 0."""
    if not range_header:
        return True
    return re.fullmatch(r"\s*bytes\s*=\s*0\s*-.*", range_header) is not None


async def send_file(request: Request) -> Response:
    """The bytes of a file version, for readers of its community only (404 to others)."""
    current = await viewer(request)
    raw_version = request.query_params.get("version", "")
    number = optional_id(raw_version) if raw_version else None
    if raw_version and number is None:
        message = "A version number from 1."
        raise Invalid("Ask for a version number from 1.", fields={"version": message})
    async with ctx(request).db.read() as session:
        version, _, entry, _ = await reading.get_file_version(
            session, current, request.path_params["file_id"], number
        )
    path = ctx(request).storage.path(version.sha256)
    if not path.is_file():
        log.error("blob %s of file version %s is missing", version.sha256, version.id)
        raise NotFound("The content of this file is missing.")
    etag = f'"{version.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": content_disposition(version.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": security.FILE_CONTENT_SECURITY_POLICY,
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    if request.method == "GET" and _counts_as_download(request.headers.get("range")):
        async with ctx(request).db.transaction() as session:
            await service.count_download(session, version, entry.id)
    return BlobResponse(path, media_type=version.content_type, headers=headers)


@api
async def download(request: Request) -> Response:
    return await send_file(request)


P = "/api/v1"
routes = [
    Route(P + "/communities/{slug}/library", list_library),
    Route(P + "/communities/{slug}/library/folders", create_folder, methods=["POST"]),
    Route(P + "/communities/{slug}/library/entries", create_entry, methods=["POST"]),
    Route(P + "/library/entries/{id:int}", get_entry),
    Route(P + "/library/entries/{id:int}", update_entry, methods=["PATCH"]),
    Route(P + "/library/entries/{id:int}", delete_entry, methods=["DELETE"]),
    Route(
        P + "/library/entries/{id:int}/files/{file_id:int}/versions", add_version, methods=["POST"]
    ),
    Route(P + "/library/files/{file_id:int}/download", download),
]
