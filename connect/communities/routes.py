"""Pages and API for the community directory, community pages, membership and roles."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect import permissions
from connect.accounts.models import User
from connect.communities import archive, memberships, service
from connect.communities.models import MODERATION_MODES, ROLES, VISIBILITIES
from connect.communities.service import community_json, membership_json
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn
from connect.moderation.limits import DEFAULT_LIMITS, LIMIT_LABELS
from connect.web import (
    api,
    ctx,
    form_data,
    form_text,
    json_body,
    page,
    page_params,
    read_unread_counts,
    redirect,
    refresh_viewer,
    render,
    signed_in,
    viewer,
)

SETTING_FIELDS = ("slug", "name", "description", "visibility", "moderation")


def _choices() -> dict:
    return {"visibilities": VISIBILITIES, "moderation_modes": MODERATION_MODES, "roles": ROLES}


async def community_page(request: Request, template: str, tab: str, extra=None) -> Response:
    """Render one tab of a community's pages; `extra(session, viewer, community)` adds context."""
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
        context = {
            "community": community,
            "tab": tab,
            "can_read": permissions.can_read_community(current, community),
            "can_join": permissions.can_join(current, community),
            "can_invite": permissions.can_invite(current, community),
            "can_manage": permissions.can_manage(current, community),
            "can_moderate": permissions.can_moderate(current, community),
            "role": current.role_in(community),
            "status": current.status_in(community),
            **_choices(),
        }
        if extra:
            context.update(await extra(session, current, community))
        await read_unread_counts(request, session)
    return await render(request, template, context)


async def archived_page(
    request: Request,
    community,
    *,
    heading: str,
    back: str,
    back_label: str = "Back",
    unsent: str = "",
    label: str = "Your text (not posted)",
) -> Response:
    """What a form of an archived community shows instead (409): the reason, and any text
    the refused form carried, to copy."""
    context = {
        "community": community,
        "heading": heading,
        "back": back,
        "back_label": back_label,
        "unsent": unsent,
        "label": label,
    }
    return await render(request, "communities/archived.html", context, status=409)


# Pages ----------------------------------------------------------------------------


@page
async def directory_page(request: Request) -> Response:
    current = await viewer(request)
    page_number, per_page = page_params(request, default_per_page=24)
    q = request.query_params.get("q", "")[:100]
    async with ctx(request).db.read() as session:
        communities, total = await service.list_communities(
            session, current, q=q, page=page_number, per_page=per_page
        )
    return await render(
        request,
        "communities/directory.html",
        {
            "communities": communities,
            "total": total,
            "page": page_number,
            "per_page": per_page,
            "q": q,
            "can_create": permissions.can_create_community(current),
        },
    )


@page
async def new_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/communities/new")
    if not permissions.can_create_community(current):
        raise Forbidden("Only site administrators can create communities.")
    values = {"visibility": "open", "moderation": "none"}
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in SETTING_FIELDS}
        try:
            async with ctx(request).db.transaction() as session:
                community = await service.create_community(session, current, values)
        except (Invalid, Conflict) as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(request, f"/c/{community.slug}", message="The community is ready.")
    return await render(
        request,
        "communities/new.html",
        {"values": values, "errors": errors, **_choices()},
        status=status,
    )


@page
async def about_page(request: Request) -> Response:
    return await community_page(request, "communities/about.html", "about")


@page
async def members_page(request: Request) -> Response:
    page_number, per_page = page_params(request, default_per_page=50)

    async def extra(session, current, community):
        if not permissions.can_read_community(current, community):
            return {"members": [], "total": 0}
        members, total = await memberships.list_members(
            session, current, community, page=page_number, per_page=per_page
        )
        context = {"members": members, "total": total, "page": page_number, "per_page": per_page}
        # Invitations, requests and roles: community moderators and site moderators alike.
        context["can_moderate"] = permissions.can_moderate(current, community)
        if context["can_moderate"]:
            context["pending"], _ = await memberships.list_members(
                session, current, community, status="pending", per_page=100
            )
            context["invited"], _ = await memberships.list_members(
                session, current, community, status="invited", per_page=100
            )
        return context

    return await community_page(request, "communities/members.html", "members", extra)


async def _membership_action(request: Request, action, *, back: str = "") -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, f"/login?next=/c/{request.path_params['slug']}")
    form = await form_data(request)
    slug = request.path_params["slug"]
    async with ctx(request).db.transaction() as session:
        community = await service.get_visible(session, current, slug)
        message = await action(session, current, community, form)
    target = form_text(form, "back")
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = back or f"/c/{community.slug}"  # only paths on this site
    return redirect(request, target, message=message)


@page
async def join_action(request: Request) -> Response:
    async def act(session, current, community, form):
        status = await memberships.join(session, current, community)
        if status == "pending":
            return "Your request to join is with the moderators."
        return f"Welcome to {community.name}!"

    try:
        return await _membership_action(request, act)
    except archive.Archived as exc:  # archived since the page was shown: back, told why
        return redirect(request, f"/c/{request.path_params['slug']}", error=exc.message)


@page
async def leave_action(request: Request) -> Response:
    async def act(session, current, community, form):
        was = await memberships.leave(session, current, community)
        if was == "pending":
            return f"Your request to join {community.name} is withdrawn."
        if was == "invited":
            return f"You declined the invitation to {community.name}."
        return f"You have left {community.name}."

    try:
        response = await _membership_action(request, act)
    except Conflict as exc:  # the only owner: back to the community, told why
        return redirect(request, f"/c/{request.path_params['slug']}", message=exc.message)
    response.headers["location"] = "/communities"
    return response


def _back(community) -> str:
    return f"/c/{community.slug}/members"


@page
async def invite_action(request: Request) -> Response:
    async def act(session, current, community, form):
        username = form_text(form, "username").strip().lstrip("@")
        if not username:
            raise Invalid("Enter the username of the member to invite.")
        try:
            membership = await memberships.invite(session, current, community, username)
        except NotFound:  # no such member: the form's input is wrong, not the page
            raise Invalid(f"No member has the username “{username[:40]}”.") from None
        if membership.status == "active":
            return f"{membership.user.display_name} is now a member."
        return f"{membership.user.display_name} is invited."

    return await _with_member_errors(request, act)


@page
async def role_action(request: Request) -> Response:
    async def act(session, current, community, form):
        membership = await memberships.set_role(
            session, current, community, request.path_params["username"], form_text(form, "role")
        )
        return f"{membership.user.display_name} is now {membership.role}."

    return await _with_member_errors(request, act)


@page
async def remove_action(request: Request) -> Response:
    async def act(session, current, community, form):
        username = request.path_params["username"]
        try:
            await memberships.remove_member(session, current, community, username)
        except NotFound:  # removed meanwhile (a second click, another moderator)
            if not permissions.can_moderate(current, community):
                raise
            raise Conflict(f"{username[:40]} is no longer in this community.") from None
        return "Done."

    return await _with_member_errors(request, act)


async def _with_member_errors(request: Request, act) -> Response:
    """Run a members-page action; a refusal returns to the page with the reason shown."""
    members_page_path = f"/c/{request.path_params['slug']}/members"
    try:
        return await _membership_action(request, act, back=members_page_path)
    except (Invalid, Conflict, Forbidden) as exc:
        if isinstance(exc, Forbidden) and exc.code == "csrf_failed":
            raise
        return redirect(request, members_page_path, message=exc.message)


@page
async def settings_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
    if not permissions.can_manage(current, community):
        raise Forbidden("Only this community's moderators can change its settings.")
    values = {k: getattr(community, k) for k in SETTING_FIELDS}
    values["settings"] = service.settings_json(community)
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in SETTING_FIELDS if k != "slug"}
        values["settings"] = _moderation_settings(form)
        try:
            # A fresh name: a failed transaction expires what it loaded (the page needs it).
            async with ctx(request).db.transaction() as session:
                target = await service.get_visible(session, current, community.slug)
                await service.update_community(session, current, target, values)
        except Invalid as exc:
            errors, status = exc.fields, exc.status
            values["slug"] = community.slug
        else:
            return redirect(request, f"/c/{community.slug}/about", message="Settings saved.")
    return await _settings_response(request, current, community, values, errors, status=status)


async def _settings_response(
    request: Request, current, community, values: dict, errors: dict, *, status: int, **archiving
) -> Response:
    """The settings page; `archiving` holds the archive form's typed text and error."""
    archived_by = None
    if community.archived_by_id:
        async with ctx(request).db.read() as session:
            archived_by = await session.get(User, community.archived_by_id)
    return await render(
        request,
        "communities/settings.html",
        {
            "community": community,
            "values": values,
            "errors": errors,
            "tab": "settings",
            "can_manage": True,
            "can_moderate": True,
            "can_archive": permissions.can_archive(current, community),
            "archived_by": archived_by,
            "confirm": archiving.get("confirm", ""),
            "confirm_error": archiving.get("confirm_error"),
            "limit_labels": LIMIT_LABELS,
            "site_defaults": DEFAULT_LIMITS,
            **_choices(),
        },
        status=status,
    )


@page
async def archive_action(request: Request) -> Response:
    """The settings page's "Archive this community" (typed confirmation) and "Unarchive"."""
    current = await viewer(request)
    slug = request.path_params["slug"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/c/{slug}/settings")
    form = await form_data(request)
    archiving = request.url.path.endswith("/archive")
    async with ctx(request).db.read() as session:
        community = await service.get_visible(session, current, slug)
    if not permissions.can_archive(current, community):
        raise Forbidden("Only this community's owners and site administrators can archive it.")
    confirm = form_text(form, "confirm")
    if archiving and confirm.strip().lower() != community.slug:
        values = {k: getattr(community, k) for k in SETTING_FIELDS}
        values["settings"] = service.settings_json(community)
        error = f"Type the community's address, {community.slug}, to confirm."
        return await _settings_response(
            request,
            current,
            community,
            values,
            {},
            status=422,
            confirm=confirm[:100],
            confirm_error=error,
        )
    async with ctx(request).db.transaction() as session:
        target = await service.get_visible(session, current, slug)
        if archiving:
            await archive.archive_community(session, current, target)
        else:
            await archive.unarchive_community(session, current, target)
    if archiving:
        message = f"{community.name} is archived: it stays readable and takes no new posts."
    else:
        message = f"{community.name} is open for posting again."
    return redirect(request, f"/c/{community.slug}", message=message)


def _moderation_settings(form) -> dict:
    """The settings form's flag threshold and limits (empty limit: the site's default)."""
    return {
        "flag_threshold": form_text(form, "flag_threshold"),
        "limits": {k: form_text(form, f"limit_{k}") for k in DEFAULT_LIMITS},
    }


# JSON API ---------------------------------------------------------------------------


@api
async def api_list(request: Request) -> Response:
    current = await viewer(request)
    page_number, per_page = page_params(request)
    async with ctx(request).db.read() as session:
        communities, total = await service.list_communities(
            session,
            current,
            q=request.query_params.get("q", "")[:100],
            page=page_number,
            per_page=per_page,
        )
    return JSONResponse(
        {
            "items": [community_json(c, current) for c in communities],
            "total": total,
            "page": page_number,
            "per_page": per_page,
        }
    )


@api
async def api_create(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn("Sign in first.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        community = await service.create_community(session, current, data)
    current = await refresh_viewer(request)
    return JSONResponse(community_json(community, current), status_code=201)


@api
async def api_get(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
    return JSONResponse(community_json(community, current))


@api
async def api_update(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn("Sign in first.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
        await service.update_community(session, current, community, data)
    return JSONResponse(community_json(community, current))


@api
async def api_archive(request: Request) -> Response:
    """POST archives the community, DELETE unarchives it; either way its JSON comes back."""
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
        if request.method == "POST":
            await archive.archive_community(session, current, community)
        else:
            await archive.unarchive_community(session, current, community)
    return JSONResponse(community_json(community, current))


async def _signed_in_community(request: Request, session):
    current = await signed_in(request)
    return current, await service.get_visible(session, current, request.path_params["slug"])


@api
async def api_join(request: Request) -> Response:
    async with ctx(request).db.transaction() as session:
        current, community = await _signed_in_community(request, session)
        status = await memberships.join(session, current, community)
    return JSONResponse({"status": status})


@api
async def api_leave(request: Request) -> Response:
    async with ctx(request).db.transaction() as session:
        current, community = await _signed_in_community(request, session)
        await memberships.leave(session, current, community)
    return Response(status_code=204)


@api
async def api_members(request: Request) -> Response:
    current = await viewer(request)
    page_number, per_page = page_params(request, default_per_page=50)
    status = request.query_params.get("status", "active")
    if status not in ("active", "pending", "invited"):
        raise Invalid("status is one of active, pending, invited.", fields={"status": "Unknown."})
    async with ctx(request).db.read() as session:
        community = await service.get_visible(session, current, request.path_params["slug"])
        members, total = await memberships.list_members(
            session, current, community, status=status, page=page_number, per_page=per_page
        )
    return JSONResponse(
        {
            "items": [membership_json(m) for m in members],
            "total": total,
            "page": page_number,
            "per_page": per_page,
        }
    )


@api
async def api_set_role(request: Request) -> Response:
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        current, community = await _signed_in_community(request, session)
        membership = await memberships.set_role(
            session, current, community, request.path_params["username"], data.get("role", "")
        )
    return JSONResponse(membership_json(membership))


@api
async def api_remove(request: Request) -> Response:
    async with ctx(request).db.transaction() as session:
        current, community = await _signed_in_community(request, session)
        await memberships.remove_member(
            session, current, community, request.path_params["username"]
        )
    return Response(status_code=204)


@api
async def api_invite(request: Request) -> Response:
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        current, community = await _signed_in_community(request, session)
        membership = await memberships.invite(session, current, community, data.get("username", ""))
    return JSONResponse(membership_json(membership), status_code=201)


routes = [
    Route("/communities", directory_page),
    Route("/communities/new", new_page, methods=["GET", "POST"]),
    Route("/c/{slug}/about", about_page),
    Route("/c/{slug}/members", members_page),
    Route("/c/{slug}/settings", settings_page, methods=["GET", "POST"]),
    Route("/c/{slug}/archive", archive_action, methods=["POST"]),
    Route("/c/{slug}/unarchive", archive_action, methods=["POST"]),
    Route("/c/{slug}/join", join_action, methods=["POST"]),
    Route("/c/{slug}/leave", leave_action, methods=["POST"]),
    Route("/c/{slug}/invitations", invite_action, methods=["POST"]),
    Route("/c/{slug}/members/{username}/role", role_action, methods=["POST"]),
    Route("/c/{slug}/members/{username}/remove", remove_action, methods=["POST"]),
    Route("/api/v1/communities", api_list),
    Route("/api/v1/communities", api_create, methods=["POST"]),
    Route("/api/v1/communities/{slug}", api_get),
    Route("/api/v1/communities/{slug}", api_update, methods=["PATCH"]),
    Route("/api/v1/communities/{slug}/archive", api_archive, methods=["POST", "DELETE"]),
    Route("/api/v1/communities/{slug}/join", api_join, methods=["POST"]),
    Route("/api/v1/communities/{slug}/leave", api_leave, methods=["POST"]),
    Route("/api/v1/communities/{slug}/members", api_members),
    Route("/api/v1/communities/{slug}/members/{username}", api_set_role, methods=["PUT"]),
    Route("/api/v1/communities/{slug}/members/{username}", api_remove, methods=["DELETE"]),
    Route("/api/v1/communities/{slug}/invitations", api_invite, methods=["POST"]),
]
