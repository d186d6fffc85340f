"""JSON API of the professional network: contacts, blocks, suggestions and feeds (api.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.boards.reading import author_json
from connect.errors import Invalid
from connect.members.service import get_member
from connect.network import feeds, service
from connect.network.suggestions import suggestions
from connect.web import api, ctx, json_body, page_params, signed_in, viewer


def _listing(items: list, total: int, page: int, per_page: int) -> JSONResponse:
    return JSONResponse({"items": items, "total": total, "page": page, "per_page": per_page})


@api
async def api_request(request: Request) -> Response:
    """Ask to connect; an optional JSON body carries a note."""
    current = await signed_in(request)
    data = await json_body(request) if request.headers.get("content-type") else {}
    unknown = set(data) - {"note"}
    if unknown:
        raise Invalid("Unknown fields.", fields={k: "Not accepted here." for k in sorted(unknown)})
    async with ctx(request).db.transaction() as session:
        other = await get_member(session, request.path_params["username"])
        status = await service.request_contact(
            session,
            current,
            other,
            note=data.get("note"),
            per_day=service.request_limit(ctx(request).settings),
        )
    return JSONResponse({"status": status}, status_code=201)


@api
async def api_contacts(request: Request) -> Response:
    current = await signed_in(request)
    page_number, per_page = page_params(request, default_per_page=50)
    status = request.query_params.get("status", "accepted")
    async with ctx(request).db.read() as session:
        rows, total = await service.contacts_of(
            session, current, status=status, page=page_number, per_page=per_page
        )
    items = [service.contact_json(c, u, current.id) for c, u in rows]
    return _listing(items, total, page_number, per_page)


@api
async def api_answer(request: Request) -> Response:
    """PUT {"status": "accepted"} accepts their request; "ignored" sets it aside."""
    current = await signed_in(request)
    data = await json_body(request)
    status = data.get("status")
    if status not in ("accepted", "ignored") or set(data) - {"status"}:
        raise Invalid(
            "Send the answer as status: accepted (or ignored).",
            fields={"status": "One of: accepted, ignored."},
        )
    async with ctx(request).db.transaction() as session:
        other = await get_member(session, request.path_params["username"])
        if status == "accepted":
            row = await service.accept_contact(session, current, other)
        else:
            row = await service.ignore_contact(session, current, other)
        # "ignored" is the answerer's view of it; the asker still sees "outgoing".
        body = {**service.contact_json(row, other, current.id), "status": row.status}
    return JSONResponse(body)


@api
async def api_remove(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        other = await get_member(session, request.path_params["username"])
        await service.remove_contact(session, current, other)
    return Response(status_code=204)


@api
async def api_blocks(request: Request) -> Response:
    current = await signed_in(request)
    page_number, per_page = page_params(request, default_per_page=50)
    async with ctx(request).db.read() as session:
        rows, total = await service.blocks_of(session, current, page=page_number, per_page=per_page)
    items = [{"member": author_json(u), "created_at": b.created_at.isoformat()} for b, u in rows]
    return _listing(items, total, page_number, per_page)


@api
async def api_block(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        other = await get_member(session, request.path_params["username"])
        if request.method == "PUT":
            await service.block(session, current, other)
        else:
            await service.unblock(session, current, other)
    if request.method == "DELETE":
        return Response(status_code=204)
    return JSONResponse({"member": author_json(other), "blocked": True})


@api
async def api_suggestions(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.read() as session:
        people = await suggestions(session, current)
    items = [
        {
            "member": author_json(s.user),
            "shared_communities": s.communities,
            "same_organization": s.organization,
            "shared_interests": s.interests,
            "reasons": s.reasons,
            "can_connect": s.can_connect,
        }
        for s in people
    ]
    return _listing(items, len(items), 1, len(items) or 1)


@api
async def api_feed(request: Request) -> Response:
    current = await signed_in(request)
    page_number, per_page = page_params(request, default_per_page=feeds.PER_PAGE)
    async with ctx(request).db.read() as session:
        items, total = await feeds.home_feed(session, current, page=page_number, per_page=per_page)
    return _listing([feeds.item_json(i) for i in items], total, page_number, per_page)


@api
async def api_activity(request: Request) -> Response:
    """A member's public activity, as far as the caller may see it."""
    current = await viewer(request)
    page_number, per_page = page_params(request, default_per_page=feeds.PER_PAGE)
    async with ctx(request).db.read() as session:
        user = await get_member(session, request.path_params["username"])
        items, total = await feeds.profile_activity(
            session, current, user, page=page_number, per_page=per_page
        )
    return _listing([feeds.item_json(i) for i in items], total, page_number, per_page)


routes = [
    Route("/api/v1/members/{username}/contact", api_request, methods=["POST"]),
    Route("/api/v1/members/{username}/activity", api_activity),
    Route("/api/v1/me/contacts", api_contacts),
    Route("/api/v1/me/contacts/{username}", api_answer, methods=["PUT"]),
    Route("/api/v1/me/contacts/{username}", api_remove, methods=["DELETE"]),
    Route("/api/v1/me/blocks", api_blocks),
    Route("/api/v1/me/blocks/{username}", api_block, methods=["PUT", "DELETE"]),
    Route("/api/v1/me/suggestions", api_suggestions),
    Route("/api/v1/feed", api_feed),
]
