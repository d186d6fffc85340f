"""JSON API for moderation (api.md, Moderation): the queue, decisions, content actions,
flags, sanctions, the log and the site's posting limits."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect import permissions
from connect.boards import reading
from connect.boards.reading import post_json, thread_json
from connect.communities import service as communities
from connect.errors import Forbidden, Invalid, NotFound, ServiceError
from connect.members.service import member_json
from connect.moderation import (
    audit,
    content,
    library,
    limits,
    queue,
    sanctions,
    service,
    staff,
    threads,
)
from connect.moderation.sanctions import sanction_json
from connect.web import api, ctx, json_body, page_params, signed_in


async def _optional_body(request: Request) -> dict:
    """A JSON body where one is optional (a reason for lifting, hiding...)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return await json_body(request)
    return {}


def _listing(items: list, total: int, page: int, per_page: int, **extra) -> JSONResponse:
    return JSONResponse(
        {"items": items, "total": total, "page": page, "per_page": per_page, **extra}
    )


# The queue ----------------------------------------------------------------------------


@api
async def get_queue(request: Request) -> Response:
    current = await signed_in(request)
    page, per_page = page_params(request, default_per_page=50)
    async with ctx(request).db.read() as session:
        found = await queue.load_queue(
            session,
            current,
            community=request.query_params.get("community", ""),
            kind=request.query_params.get("kind", ""),
            page=page,
            per_page=per_page,
        )
    items = [queue.item_json(i, found) for i in found.items]
    return _listing(items, found.total, page, per_page, counts=found.counts)


def _result(target: service.Target, status: str) -> dict:
    return {"kind": target.kind, "id": target.item.id, "status": status}


@api
async def approve_item(request: Request) -> Response:
    current = await signed_in(request)
    data = await _optional_body(request)
    async with ctx(request).db.transaction() as session:
        target = await service.approve(
            session,
            current,
            request.path_params["kind"],
            request.path_params["item_id"],
            title=data.get("title"),
            body=data.get("body"),
            reason=data.get("reason", ""),
        )
    return JSONResponse(_result(target, "approved"))


@api
async def reject_item(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        target = await service.reject(
            session,
            current,
            request.path_params["kind"],
            request.path_params["item_id"],
            reason=data.get("reason"),
        )
    return JSONResponse(_result(target, "rejected"))


DONE = {"approve": "approved", "reject": "rejected"}


async def decide_many(context, current, action: str, items, reason) -> list[dict]:
    """Bulk decisions, each in its own transaction: one refusal does not undo the others."""
    if action not in ("approve", "reject"):
        raise Invalid("action is approve or reject.", fields={"action": "approve or reject."})
    if not isinstance(items, list) or not items or len(items) > 100:
        raise Invalid("Choose 1 to 100 items.", fields={"items": "1 to 100 items."})
    results = []
    for item in items:
        kind = item.get("kind") if isinstance(item, dict) else None
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            results.append({"kind": kind, "id": item_id, "status": "error", "error": "bad_item"})
            continue
        try:
            async with context.db.transaction() as session:
                if action == "approve":
                    await service.approve(session, current, kind, item_id, reason=reason or "")
                else:
                    await service.reject(session, current, kind, item_id, reason=reason)
        except ServiceError as exc:
            results.append({"kind": kind, "id": item_id, "status": "error", "error": exc.code})
        else:
            results.append({"kind": kind, "id": item_id, "status": DONE[action]})
    return results


@api
async def bulk(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    results = await decide_many(
        ctx(request), current, data.get("action"), data.get("items"), data.get("reason")
    )
    return JSONResponse({"results": results})


# Content ------------------------------------------------------------------------------


async def _post_action(request: Request, action) -> Response:
    current = await signed_in(request)
    data = await _optional_body(request)
    async with ctx(request).db.transaction() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        await action(session, current, post, thread, community, reason=data.get("reason", ""))
    return JSONResponse(post_json(post))


@api
async def hide_post(request: Request) -> Response:
    return await _post_action(request, content.hide_post)


@api
async def restore_post(request: Request) -> Response:
    return await _post_action(request, content.restore_post)


async def _entry(session, current, entry_id: int):
    entry, community = await library.get_entry(session, entry_id)
    if entry is None or not permissions.can_see_entry(
        current, community, status=entry.status, author_id=entry.author_id
    ):
        raise NotFound("There is no such document, or you cannot see it.")
    return entry, community


async def _entry_visibility(request: Request, hidden: bool) -> Response:
    current = await signed_in(request)
    data = await _optional_body(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await _entry(session, current, request.path_params["entry_id"])
        await content.set_entry_hidden(
            session, current, entry, community, hidden=hidden, reason=data.get("reason", "")
        )
    return JSONResponse({"id": entry.id, "status": entry.status})


@api
async def hide_entry(request: Request) -> Response:
    return await _entry_visibility(request, True)


@api
async def restore_entry(request: Request) -> Response:
    return await _entry_visibility(request, False)


@api
async def flag_post(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        flag, hidden = await content.flag_post(
            session,
            current,
            post,
            thread,
            community,
            reason=data.get("reason"),
            note=data.get("note", ""),
        )
    return JSONResponse({"id": flag.id, "reason": flag.reason, "hidden": hidden}, status_code=201)


@api
async def flag_entry(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        entry, community = await _entry(session, current, request.path_params["entry_id"])
        flag, hidden = await content.flag_entry(
            session,
            current,
            entry,
            community,
            reason=data.get("reason"),
            note=data.get("note", ""),
        )
    return JSONResponse({"id": flag.id, "reason": flag.reason, "hidden": hidden}, status_code=201)


async def _thread(request: Request, session, current):
    return await reading.get_thread(session, current, request.path_params["thread_id"])


@api
async def move_thread(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        thread, source = await _thread(request, session, current)
        target = await communities.get_visible(session, current, str(data.get("community", "")))
        await threads.move_thread(
            session, current, thread, source, target, reason=data.get("reason", "")
        )
    return JSONResponse(thread_json(thread, target))


@api
async def merge_thread(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        thread, community = await _thread(request, session, current)
        content.require_moderator(current, community)
        into = await threads.thread_in_community(session, data.get("into"), community)
        await threads.merge_threads(
            session, current, thread, into, community, reason=data.get("reason", "")
        )
    return JSONResponse(thread_json(into, community))


@api
async def split_thread(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        thread, community = await _thread(request, session, current)
        new = await threads.split_thread(
            session,
            current,
            thread,
            community,
            post_ids=data.get("post_ids"),
            title=data.get("title"),
            reason=data.get("reason", ""),
        )
    return JSONResponse(thread_json(new, community), status_code=201)


# Sanctions -------------------------------------------------------------------------------


async def _impose(request: Request, *, kind: str | None, community_slug: str | None, username):
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        community = (
            await communities.get_visible(session, current, community_slug)
            if community_slug
            else None
        )
        user = await sanctions.user_by_name(session, username or data.get("username", ""))
        sanction = await sanctions.impose(
            session,
            current,
            kind=kind or data.get("kind", ""),
            user=user,
            community=community,
            reason=data.get("reason"),
            until=sanctions.parse_until(data.get("until")),
        )
    return JSONResponse(sanction_json(sanction, community), status_code=201)


@api
async def ban(request: Request) -> Response:
    return await _impose(
        request, kind="ban", community_slug=request.path_params["slug"], username=None
    )


@api
async def community_sanction(request: Request) -> Response:
    return await _impose(
        request, kind=None, community_slug=request.path_params["slug"], username=None
    )


@api
async def suspend(request: Request) -> Response:
    return await _impose(
        request, kind="suspension", community_slug=None, username=request.path_params["username"]
    )


@api
async def site_sanction(request: Request) -> Response:
    return await _impose(
        request, kind=None, community_slug=None, username=request.path_params["username"]
    )


# Site staff ---------------------------------------------------------------------------------


@api
async def list_staff(request: Request) -> Response:
    current = await signed_in(request)
    if not permissions.can_set_site_role(current):
        raise Forbidden("Only site administrators can see and appoint site staff.")
    async with ctx(request).db.read() as session:
        people = [member_json(user, current) for user in await staff.list_staff(session)]
    return _listing(people, len(people), 1, len(people))


@api
async def set_site_role(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    if not permissions.can_set_site_role(current):
        raise Forbidden("Only site administrators can appoint site staff.")
    async with ctx(request).db.transaction() as session:
        user = await sanctions.user_by_name(session, request.path_params["username"])
        await staff.set_site_role(
            session, current, user, data.get("role"), reason=data.get("reason", "")
        )
        answer = member_json(user, current)
    return JSONResponse(answer)


async def _lift_by(request: Request, kind: str, community_slug: str | None) -> Response:
    current = await signed_in(request)
    data = await _optional_body(request)
    async with ctx(request).db.transaction() as session:
        community = (
            await communities.get_visible(session, current, community_slug)
            if community_slug
            else None
        )
        user = await sanctions.user_by_name(session, request.path_params["username"])
        sanctions.check_allowed(current, kind, community)
        sanction = await sanctions.find_active(session, user, kind, community)
        await sanctions.lift(session, current, sanction, reason=data.get("reason", ""))
    return JSONResponse(sanction_json(sanction, community))


@api
async def lift_ban(request: Request) -> Response:
    return await _lift_by(request, "ban", request.path_params["slug"])


@api
async def unsuspend(request: Request) -> Response:
    return await _lift_by(request, "suspension", None)


@api
async def lift_sanction(request: Request) -> Response:
    current = await signed_in(request)
    data = await _optional_body(request)
    async with ctx(request).db.transaction() as session:
        sanction = await sanctions.get_sanction(
            session, current, request.path_params["sanction_id"]
        )
        await sanctions.lift(session, current, sanction, reason=data.get("reason", ""))
    return JSONResponse(sanction_json(sanction))


@api
async def list_community_sanctions(request: Request) -> Response:
    current = await signed_in(request)
    in_force = request.query_params.get("all") not in ("1", "true")
    page, per_page = page_params(request)
    async with ctx(request).db.read() as session:
        community = await communities.get_visible(session, current, request.path_params["slug"])
        found, total = await sanctions.list_sanctions(
            session,
            current,
            community=community,
            in_force_only=in_force,
            page=page,
            per_page=per_page,
        )
    return _listing([sanction_json(s, community) for s in found], total, page, per_page)


@api
async def list_site_sanctions(request: Request) -> Response:
    current = await signed_in(request)
    in_force = request.query_params.get("all") not in ("1", "true")
    page, per_page = page_params(request)
    async with ctx(request).db.read() as session:
        found, total = await sanctions.list_sanctions(
            session, current, in_force_only=in_force, page=page, per_page=per_page
        )
    return _listing([sanction_json(s) for s in found], total, page, per_page)


@api
async def my_sanctions(request: Request) -> Response:
    current = await signed_in(request)
    page, per_page = page_params(request)
    async with ctx(request).db.read() as session:
        found = await sanctions.standing_of(session, current.user)  # a handful at most
    shown = found[(page - 1) * per_page : page * per_page]
    return _listing([sanction_json(s, c) for s, c in shown], len(found), page, per_page)


# The log and the limits ----------------------------------------------------------------------


@api
async def get_log(request: Request) -> Response:
    current = await signed_in(request)
    page, per_page = page_params(request, default_per_page=50)
    q = request.query_params
    async with ctx(request).db.read() as session:
        rows, total = await audit.read_log(
            session,
            current,
            community_slug=q.get("community", ""),
            action=q.get("action", ""),
            actor=q.get("actor", ""),
            target=q.get("target", ""),
            page=page,
            per_page=per_page,
        )
    return _listing([audit.entry_json(r) for r in rows], total, page, per_page)


@api
async def get_limits(request: Request) -> Response:
    await signed_in(request)
    async with ctx(request).db.read() as session:
        found = await limits.site_limits(session)
    return JSONResponse({"limits": found, "defaults": limits.DEFAULT_LIMITS})


@api
async def set_limits(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        found = await limits.set_site_limits(session, current, data.get("limits", data))
    return JSONResponse({"limits": found, "defaults": limits.DEFAULT_LIMITS})


P = "/api/v1"
routes = [
    Route(P + "/moderation/queue", get_queue),
    Route(P + "/moderation/items/{kind}/{item_id:int}/approve", approve_item, methods=["POST"]),
    Route(P + "/moderation/items/{kind}/{item_id:int}/reject", reject_item, methods=["POST"]),
    Route(P + "/moderation/bulk", bulk, methods=["POST"]),
    Route(P + "/moderation/log", get_log),
    Route(P + "/moderation/limits", get_limits),
    Route(P + "/moderation/limits", set_limits, methods=["PUT"]),
    Route(P + "/moderation/sanctions", list_site_sanctions),
    Route(P + "/moderation/sanctions/{sanction_id:int}/lift", lift_sanction, methods=["POST"]),
    Route(P + "/posts/{post_id:int}/hide", hide_post, methods=["POST"]),
    Route(P + "/posts/{post_id:int}/restore", restore_post, methods=["POST"]),
    Route(P + "/posts/{post_id:int}/flags", flag_post, methods=["POST"]),
    Route(P + "/library/entries/{entry_id:int}/hide", hide_entry, methods=["POST"]),
    Route(P + "/library/entries/{entry_id:int}/restore", restore_entry, methods=["POST"]),
    Route(P + "/library/entries/{entry_id:int}/flags", flag_entry, methods=["POST"]),
    Route(P + "/threads/{thread_id:int}/move", move_thread, methods=["POST"]),
    Route(P + "/threads/{thread_id:int}/merge", merge_thread, methods=["POST"]),
    Route(P + "/threads/{thread_id:int}/split", split_thread, methods=["POST"]),
    Route(P + "/communities/{slug}/bans", ban, methods=["POST"]),
    Route(P + "/communities/{slug}/bans/{username}", lift_ban, methods=["DELETE"]),
    Route(P + "/communities/{slug}/sanctions", list_community_sanctions),
    Route(P + "/communities/{slug}/sanctions", community_sanction, methods=["POST"]),
    Route(P + "/members/{username}/suspend", suspend, methods=["POST"]),
    Route(P + "/members/{username}/suspension", unsuspend, methods=["DELETE"]),
    Route(P + "/members/{username}/sanctions", site_sanction, methods=["POST"]),
    Route(P + "/me/sanctions", my_sanctions),
    Route(P + "/moderation/staff", list_staff),
    Route(P + "/members/{username}/site-role", set_site_role, methods=["PUT"]),
]
