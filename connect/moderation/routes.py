"""Moderation pages: the queue (live), the log, sanctions, site limits and one's own standing."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connect import events, permissions
from connect.communities.models import Community
from connect.errors import Conflict, Forbidden, Invalid, NotFound
from connect.moderation import audit, limits, queue, sanctions, service, staff
from connect.moderation.api import DONE, decide_many
from connect.moderation.api import routes as api_routes
from connect.moderation.models import FLAG_REASONS
from connect.moderation.pages import routes as page_routes
from connect.web import (
    ago,
    ctx,
    form_data,
    form_text,
    page,
    page_params,
    redirect,
    render,
    viewer,
)

QUEUE_KINDS = [
    ("", "Everything"),
    ("held", "Held posts, threads and documents"),
    ("flagged", "Flagged items"),
    ("join", "Join requests"),
    ("thread", "Threads"),
    ("post", "Posts"),
    ("entry", "Library entries"),
]


def safe_back(value: str, default: str) -> str:
    """A path on this site to return to (never another site)."""
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return default


async def signed_in_or_login(request: Request):
    current = await viewer(request)
    if not current.signed_in:
        return current, redirect(request, f"/login?next={request.url.path}")
    return current, None


async def _queue_context(request: Request, current) -> dict:
    q = request.query_params
    filters = {"community": q.get("community", ""), "kind": q.get("kind", "")}
    page_number, per_page = page_params(request, default_per_page=30)
    async with ctx(request).db.read() as session:
        found = await queue.load_queue(
            session, current, page=page_number, per_page=per_page, **filters
        )
        communities = await queue.moderated_communities(session, current)
        cursor = await events.latest_id(session)
    query = urlencode({k: v for k, v in filters.items() if v})
    return {
        "queue": found,
        "filters": filters,
        "kinds": QUEUE_KINDS,
        "communities": communities,
        "page": page_number,
        "per_page": per_page,
        "live_cursor": cursor,
        "query": query,
        "back": "/moderation" + (f"?{query}" if query else ""),
        "ago": ago,
        "flag_reasons": FLAG_REASONS,
    }


@page
async def queue_page(request: Request) -> Response:
    current, login = await signed_in_or_login(request)
    if login:
        return login
    return await render(request, "moderation/queue.html", await _queue_context(request, current))


@page
async def queue_fragment(request: Request) -> Response:
    """The queue's list alone, for the live page to swap in when the queue changes."""
    current, login = await signed_in_or_login(request)
    if login:
        return login
    return await render(
        request, "moderation/_queue_list.html", await _queue_context(request, current)
    )


async def _decide(request: Request, action: str) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    back = safe_back(form_text(form, "back"), "/moderation")
    kind, item_id = request.path_params["kind"], request.path_params["item_id"]
    try:
        async with ctx(request).db.transaction() as session:
            if action == "approve":
                edit = form_text(form, "edit") == "1"
                await service.approve(
                    session,
                    current,
                    kind,
                    item_id,
                    reason=form_text(form, "reason"),
                    title=form_text(form, "title") if edit and "title" in form else None,
                    body=form_text(form, "body") if edit else None,
                )
            else:
                await service.reject(
                    session, current, kind, item_id, reason=form_text(form, "reason")
                )
    except (Invalid, Conflict) as exc:
        return redirect(request, back, message=exc.message)
    return redirect(request, back, message="Approved." if action == "approve" else "Rejected.")


@page
async def approve_action(request: Request) -> Response:
    return await _decide(request, "approve")


@page
async def reject_action(request: Request) -> Response:
    return await _decide(request, "reject")


@page
async def bulk_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    back = safe_back(form_text(form, "back"), "/moderation")
    items = []
    for value in form.getlist("item"):
        kind, _, raw = str(value).partition(":")
        items.append({"kind": kind, "id": int(raw) if raw.isdigit() else None})
    action = form_text(form, "action")
    try:
        results = await decide_many(ctx(request), current, action, items, form_text(form, "reason"))
    except Invalid as exc:
        return redirect(request, back, message=exc.message)
    done = sum(1 for r in results if r["status"] != "error")
    failed = len(results) - done
    message = f"{done} item{'s' if done != 1 else ''} {DONE[action]}."
    if failed:
        message += f" {failed} could not be {DONE[action]} (a rejection needs a reason)."
    return redirect(request, back, message=message)


def _log_link(filters: dict[str, str], per_page: int | None) -> str:
    """The log's address with its filters (and a page size asked for), ready for "page=N"."""
    kept = {k: v for k, v in filters.items() if v}
    if per_page is not None:
        kept["per_page"] = str(per_page)
    return "/moderation/log?" + urlencode(kept) + ("&" if kept else "")


@page
async def log_page(request: Request) -> Response:
    current, login = await signed_in_or_login(request)
    if login:
        return login
    q = request.query_params
    filters = {k: q.get(k, "")[:60] for k in ("community", "action", "actor", "target")}
    page_number, per_page = page_params(request, default_per_page=50)
    async with ctx(request).db.read() as session:
        rows, total = await audit.read_log(
            session,
            current,
            community_slug=filters["community"],
            action=filters["action"],
            actor=filters["actor"],
            target=filters["target"],
            page=page_number,
            per_page=per_page,
        )
        communities = await queue.moderated_communities(session, current)
    return await render(
        request,
        "moderation/log.html",
        {
            "rows": rows,
            "total": total,
            "page": page_number,
            "per_page": per_page,
            "filters": filters,
            "communities": communities,
            "actions": audit.ACTIONS,
            "pager_base": _log_link(filters, per_page if "per_page" in q else None),
        },
    )


# Sanctions --------------------------------------------------------------------------------


@page
async def site_sanctions_page(request: Request) -> Response:
    current, login = await signed_in_or_login(request)
    if login:
        return login
    if not permissions.can_suspend(current):
        raise Forbidden("Only site moderators can manage site-wide sanctions.")
    values, errors, status = {"username": request.query_params.get("username", "")}, {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("username", "kind", "reason", "until")}
        try:
            async with ctx(request).db.transaction() as session:
                user = await sanctions.user_by_name(session, values["username"])
                await sanctions.impose(
                    session,
                    current,
                    kind=values["kind"],
                    user=user,
                    community=None,
                    reason=values["reason"],
                    until=sanctions.parse_until(values["until"]),
                )
        except (Invalid, NotFound, Forbidden) as exc:
            if isinstance(exc, Forbidden) and exc.code == "csrf_failed":
                raise
            errors, status = exc.fields or {"username": exc.message}, exc.status
        else:
            return redirect(request, "/moderation/sanctions", message="The sanction is in force.")
    async with ctx(request).db.read() as session:
        found, _ = await sanctions.list_sanctions(session, current)
    return await render(
        request,
        "moderation/sanctions.html",
        {
            "sanctions": found,
            "values": values,
            "errors": errors,
            "kinds": [(k, sanctions.KIND_WORDS[k].capitalize()) for k in sanctions.SITE_KINDS],
        },
        status=status,
    )


@page
async def lift_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    back = form_text(form, "back")
    try:
        async with ctx(request).db.transaction() as session:
            found = await sanctions.get_sanction(
                session, current, request.path_params["sanction_id"]
            )
            community = await session.get(Community, found.community_id or 0)
            default = f"/c/{community.slug}/sanctions" if community else "/moderation/sanctions"
            await sanctions.lift(session, current, found, reason=form_text(form, "reason"))
    except Conflict as exc:
        return redirect(request, safe_back(back, "/moderation"), message=exc.message)
    return redirect(request, safe_back(back, default), message="The sanction is lifted.")


@page
async def limits_page(request: Request) -> Response:
    current, login = await signed_in_or_login(request)
    if login:
        return login
    if not permissions.can_set_site_limits(current):
        raise Forbidden("Only site administrators can change the site's limits.")
    errors, status, values = {}, 200, None
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in limits.DEFAULT_LIMITS}
        try:
            async with ctx(request).db.transaction() as session:
                await limits.set_site_limits(session, current, values)
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(request, "/moderation/limits", message="Limits saved.")
    if values is None:
        async with ctx(request).db.read() as session:
            values = await limits.site_limits(session)
    return await render(
        request,
        "moderation/limits.html",
        {
            "values": values,
            "errors": errors,
            "labels": limits.LIMIT_LABELS,
            "defaults": limits.DEFAULT_LIMITS,
            "enabled": ctx(request).settings.rate_limits,
        },
        status=status,
    )


@page
async def staff_page(request: Request) -> Response:
    current, login = await signed_in_or_login(request)
    if login:
        return login
    if not permissions.can_set_site_role(current):
        raise Forbidden("Only site administrators can see and appoint site staff.")
    values = {
        "username": request.query_params.get("username", "")[:40],
        "role": "moderator",
        "reason": "",
    }
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("username", "role", "reason")}
        try:
            async with ctx(request).db.transaction() as session:
                user = await sanctions.user_by_name(session, values["username"])
                await staff.set_site_role(
                    session, current, user, values["role"], reason=values["reason"]
                )
        except (Invalid, NotFound, Conflict) as exc:
            errors, status = exc.fields or {"username": exc.message}, exc.status
        else:
            word = staff.ROLE_WORDS[values["role"]].split(":")[0].lower()
            message = f"{user.display_name} is now: {word}."
            return redirect(request, "/moderation/staff", message=message)
    async with ctx(request).db.read() as session:
        people = await staff.list_staff(session)
    return await render(
        request,
        "moderation/staff.html",
        {
            "people": people,
            "values": values,
            "errors": errors,
            "roles": list(staff.ROLE_WORDS.items()),
        },
        status=status,
    )


@page
async def standing_page(request: Request) -> Response:
    """A member's own sanctions in force: what, where, why and until when."""
    current, login = await signed_in_or_login(request)
    if login:
        return login
    async with ctx(request).db.read() as session:
        found = await sanctions.standing_of(session, current.user)
    return await render(
        request,
        "moderation/standing.html",
        {
            "standing": [
                (s, c, sanctions.describe(s.kind, c.name if c else None, s.ends_at, s.reason))
                for s, c in found
            ],
        },
    )


routes = [
    Route("/moderation", queue_page),
    Route("/moderation/queue/fragment", queue_fragment),
    Route("/moderation/items/{kind}/{item_id:int}/approve", approve_action, methods=["POST"]),
    Route("/moderation/items/{kind}/{item_id:int}/reject", reject_action, methods=["POST"]),
    Route("/moderation/bulk", bulk_action, methods=["POST"]),
    Route("/moderation/log", log_page),
    Route("/moderation/sanctions", site_sanctions_page, methods=["GET", "POST"]),
    Route("/moderation/sanctions/{sanction_id:int}/lift", lift_action, methods=["POST"]),
    Route("/moderation/limits", limits_page, methods=["GET", "POST"]),
    Route("/moderation/staff", staff_page, methods=["GET", "POST"]),
    Route("/standing", standing_page),
    *page_routes,
    *api_routes,
]
