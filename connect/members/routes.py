"""Pages and API for member profiles, the directory and avatars."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from connect import permissions, security
from connect.boards import reading as boards
from connect.communities import service as communities
from connect.errors import Forbidden, Invalid, NotFound, NotSignedIn, ServiceError, TooLarge
from connect.members import service
from connect.members.models import PROFILE_FIELDS
from connect.members.service import AVATAR_MAX_BYTES, member_json
from connect.network.routes import profile_extras
from connect.web import (
    api,
    ctx,
    form_data,
    form_text,
    json_body,
    page,
    page_params,
    redirect,
    render,
    viewer,
)

EDITABLE = ("display_name", *PROFILE_FIELDS)
# Privacy: who may ask to connect and who may write (connect.network.models.POLICIES).
POLICY_FIELDS = ("contact_policy", "message_policy")
DIRECTORY_SORTS = ("name", "complete")


def _directory_filters(request: Request) -> dict[str, str]:
    filters = {
        k: request.query_params.get(k, "")[:100]
        for k in ("q", "organization", "location", "interest")
    }
    sort = request.query_params.get("sort", "name")
    filters["sort"] = sort if sort in DIRECTORY_SORTS else "name"
    return filters


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    return data


@page
async def directory_page(request: Request) -> Response:
    current = await viewer(request)
    page_number, per_page = page_params(request, default_per_page=24)
    filters = _directory_filters(request)
    async with ctx(request).db.read() as session:
        members, total = await service.directory(
            session,
            current,
            cache=ctx(request).directory,
            index=ctx(request).directory_index,
            page=page_number,
            per_page=per_page,
            **filters,
        )
    return await render(
        request,
        "members/directory.html",
        {
            "members": [(m, member_json(m, current)) for m in members],
            "total": total,
            "page": page_number,
            "per_page": per_page,
            "filters": filters,
        },
    )


@page
async def profile_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        user = await service.get_member(session, request.path_params["username"])
        member_communities = await communities.communities_of(session, current, user)
        recent_posts = await boards.posts_by(session, current, user, limit=10)
        network = await profile_extras(session, current, user, page=page_params(request)[0])
    return await render(
        request,
        "members/profile.html",
        {
            "member": user,
            "profile": member_json(user, current),
            "communities": member_communities,
            "recent_posts": recent_posts,
            "can_edit": permissions.can_edit_profile(current, user),
            **network,
        },
    )


@page
async def edit_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, f"/login?next={request.url.path}")
    async with ctx(request).db.read() as session:
        user = await service.get_member(session, request.path_params["username"])
    if not permissions.can_edit_profile(current, user):
        raise NotFound("No member has that username.")
    values = {name: getattr(user.profile, name) for name in PROFILE_FIELDS}
    values["display_name"] = user.display_name
    public_fields = list(user.profile.public_fields)
    listed = user.profile.listed
    policies = {name: getattr(user.profile, name) for name in POLICY_FIELDS}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await form_data(request, max_files=1)
        values = {name: form_text(form, name) for name in EDITABLE}
        public_fields = [f for f in form.getlist("public_fields") if f in PROFILE_FIELDS]
        listed = form_text(form, "listed") == "on"
        # A radio group left out of the form keeps its setting.
        policies = {
            name: form_text(form, name) if name in form else policies[name]
            for name in POLICY_FIELDS
        }
        upload = form.get("avatar")
        try:
            avatar_sha256 = None
            if isinstance(upload, UploadFile) and upload.filename:
                try:
                    avatar_sha256 = await service.prepare_avatar(
                        ctx(request), await _read_upload(upload, AVATAR_MAX_BYTES)
                    )
                except ServiceError as exc:
                    raise Invalid(exc.message, fields={"avatar": exc.message}) from None
            async with ctx(request).db.transaction() as session:
                await service.update_profile(
                    session,
                    current,
                    user,
                    {**values, **policies, "public_fields": public_fields, "listed": listed},
                    avatar_sha256=avatar_sha256,
                )
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(request, f"/members/{user.username}", message="Your profile is saved.")
    return await render(
        request,
        "members/edit.html",
        {
            "member": user,
            "values": values,
            "public_fields": public_fields,
            "listed": listed,
            "policies": policies,
            "errors": errors,
            "fields": PROFILE_FIELDS,
        },
        status=status,
    )


async def avatar(request: Request) -> Response:
    async with ctx(request).db.read() as session:
        try:
            user = await service.get_member(session, request.path_params["username"])
        except NotFound:
            return Response(status_code=404)
    digest = user.profile.avatar_sha256 if user.profile else None
    if not digest or not ctx(request).storage.exists(digest):
        return Response(status_code=404)
    return FileResponse(
        ctx(request).storage.path(digest),
        media_type="image/png",
        headers={
            "Cache-Control": "public, max-age=86400",
            "Content-Security-Policy": security.FILE_CONTENT_SECURITY_POLICY,
        },
    )


# JSON API ---------------------------------------------------------------------------


@api
async def api_me(request: Request) -> Response:
    current = await viewer(request)
    if current.user is None:
        raise NotSignedIn("Sign in first.")
    return JSONResponse(member_json(current.user, current))


@api
async def api_directory(request: Request) -> Response:
    current = await viewer(request)
    page_number, per_page = page_params(request)
    filters = _directory_filters(request)
    async with ctx(request).db.read() as session:
        members, total = await service.directory(
            session,
            current,
            cache=ctx(request).directory,
            index=ctx(request).directory_index,
            page=page_number,
            per_page=per_page,
            **filters,
        )
    return JSONResponse(
        {
            "items": [member_json(m, current) for m in members],
            "total": total,
            "page": page_number,
            "per_page": per_page,
        }
    )


@api
async def api_member(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        user = await service.get_member(session, request.path_params["username"])
    return JSONResponse(member_json(user, current))


@api
async def api_member_update(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn("Sign in first.")
    data = await json_body(request)
    unknown = set(data) - {*EDITABLE, *POLICY_FIELDS, "public_fields", "listed"}
    if unknown:
        raise Invalid(
            "Unknown fields.", fields={name: "Not a profile field." for name in sorted(unknown)}
        )
    async with ctx(request).db.transaction() as session:
        user = await service.get_member(session, request.path_params["username"])
        user = await service.update_profile(session, current, user, data)
    return JSONResponse(member_json(user, current))


@api
async def api_avatar_upload(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn("Sign in first.")
    length = request.headers.get("content-length", "0")
    if length.isdigit() and int(length) > AVATAR_MAX_BYTES + 65536:
        raise TooLarge("The photo is larger than 5 MB.")
    async with ctx(request).db.read() as session:
        user = await service.get_member(session, request.path_params["username"])
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception:
        raise Invalid("Send the image as multipart/form-data in a field named avatar.") from None
    upload = form.get("avatar")
    if not isinstance(upload, UploadFile):
        raise Invalid("Send the image in a field named avatar.", fields={"avatar": "Required."})
    if not permissions.can_edit_profile(current, user):
        raise Forbidden("You can only change your own photo.")
    digest = await service.prepare_avatar(
        ctx(request), await _read_upload(upload, AVATAR_MAX_BYTES)
    )
    async with ctx(request).db.transaction() as session:
        user = await service.update_profile(session, current, user, {}, avatar_sha256=digest)
    return JSONResponse(member_json(user, current))


routes = [
    Route("/members", directory_page),
    Route("/members/{username}", profile_page),
    Route("/members/{username}/edit", edit_page, methods=["GET", "POST"]),
    Route("/members/{username}/avatar", avatar),
    Route("/api/v1/me", api_me),
    Route("/api/v1/members", api_directory),
    Route("/api/v1/members/{username}", api_member),
    Route("/api/v1/members/{username}", api_member_update, methods=["PATCH"]),
    Route("/api/v1/members/{username}/avatar", api_avatar_upload, methods=["PUT"]),
]
