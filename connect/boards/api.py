"""JSON API for discussion boards (api.md, Discussion boards)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.boards import reading, service, subscriptions
from connect.boards.reading import author_json, post_json, thread_json
from connect.communities import service as communities
from connect.errors import Invalid
from connect.library import discussions
from connect.library.reading import attachment_json
from connect.library.uploads import json_or_multipart
from connect.moderation.limits import post_checks
from connect.web import api, ctx, json_body, page_params, signed_in, viewer


def _listing(items: list, total: int, page: int, per_page: int) -> JSONResponse:
    return JSONResponse({"items": items, "total": total, "page": page, "per_page": per_page})


@api
async def list_threads(request: Request) -> Response:
    current = await viewer(request)
    page, per_page = page_params(request, default_per_page=reading.THREADS_PER_PAGE)
    sort = request.query_params.get("sort", "activity")
    if sort not in ("activity", "new"):
        raise Invalid("sort is activity or new.", fields={"sort": "activity or new."})
    async with ctx(request).db.read() as session:
        community = await communities.get_visible(session, current, request.path_params["slug"])
        threads, total = await reading.board(
            session, current, community, sort=sort, page=page, per_page=per_page
        )
        unread = await reading.unread_threads(session, current, threads)
    items = [thread_json(t, community) for t in threads]
    if current.signed_in:  # replies since the member last read each thread they opened
        for item in items:
            new = unread.get(item["id"])
            item["new_replies"] = new.count if new else 0
            item["first_new_post_id"] = new.first_post_id if new else None
    return _listing(items, total, page, per_page)


@api
async def create_thread(request: Request) -> Response:
    current = await signed_in(request)
    # JSON, or multipart with files attached to the first post (they become library entries).
    async with (
        json_or_multipart(request) as (data, files),
        ctx(request).db.transaction() as session,
    ):
        community = await communities.get_visible(session, current, request.path_params["slug"])
        thread, post = await service.create_thread(
            session,
            current,
            community,
            title=data.get("title"),
            body=data.get("body"),
            checks=post_checks(ctx(request).settings, uploads=len(files)),
        )
        attached = await discussions.attach_to_post(
            session, current, community, ctx(request).storage, post, files
        )
    answer = thread_json(thread, community)
    if attached:
        answer["attachments"] = [attachment_json(e, community) for e in attached]
    return JSONResponse(answer, status_code=201)


@api
async def get_thread(request: Request) -> Response:
    current = await viewer(request)
    page, per_page = page_params(request, default_per_page=reading.POSTS_PER_PAGE)
    async with ctx(request).db.read() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        posts, total, mine = await reading.thread_posts(
            session, current, thread, community, page=page, per_page=per_page
        )
    return JSONResponse(
        {
            "thread": thread_json(thread, community),
            "posts": [post_json(p, recommended=p.id in mine) for p in posts],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


@api
async def update_thread(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        await service.update_thread(session, current, thread, community, data)
    return JSONResponse(thread_json(thread, community))


@api
async def create_post(request: Request) -> Response:
    current = await signed_in(request)
    async with json_or_multipart(request) as (data, files):
        reply_to = data.get("reply_to")
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        if multipart and isinstance(reply_to, str):  # form fields are text
            reply_to = int(reply_to) if reply_to.isdigit() else (reply_to or None)
        async with ctx(request).db.transaction() as session:
            thread, community = await reading.get_thread(
                session, current, request.path_params["thread_id"]
            )
            post = await service.reply(
                session,
                current,
                thread,
                community,
                body=data.get("body"),
                reply_to=reply_to,
                checks=post_checks(ctx(request).settings, uploads=len(files)),
            )
            attached = await discussions.attach_to_post(
                session, current, community, ctx(request).storage, post, files
            )
    answer = post_json(post)
    if attached:
        answer["attachments"] = [attachment_json(e, community) for e in attached]
    return JSONResponse(answer, status_code=201)


@api
async def get_post(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, _, _ = await reading.get_post(session, current, request.path_params["post_id"])
    return JSONResponse(post_json(post))


@api
async def edit_post(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        post, _, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        await service.edit_post(session, current, post, community, body=data.get("body"))
    return JSONResponse(post_json(post))


@api
async def delete_post(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        await service.delete_post(session, current, post, thread, community)
    return Response(status_code=204)


@api
async def post_history(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, _, _ = await reading.get_post(session, current, request.path_params["post_id"])
        revisions = await reading.revisions(session, post)
    items = [
        {
            "body": r.body,
            "replaced_at": r.created_at.isoformat(),
            "editor": author_json(r.editor),
        }
        for r in revisions
    ]
    return _listing(items, len(items), 1, max(1, len(items)))


async def _recommend(request: Request, on: bool) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        post, _, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        count, state = await service.recommend(session, current, post, community, on=on)
    return JSONResponse({"recommend_count": count, "recommended": state})


@api
async def recommend(request: Request) -> Response:
    return await _recommend(request, True)


@api
async def unrecommend(request: Request) -> Response:
    return await _recommend(request, False)


@api
async def recommendations(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, _, _ = await reading.get_post(session, current, request.path_params["post_id"])
        people = await reading.recommenders(session, post)
    items = [author_json(u) for u in people]
    return _listing(items, len(items), 1, max(1, len(items)))


@api
async def set_thread_subscription(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        sub = await subscriptions.subscribe(
            session, current, community, thread=thread, mode=data.get("mode", "real_time")
        )
    return JSONResponse({"thread_id": thread.id, "mode": sub.mode})


@api
async def delete_thread_subscription(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        await subscriptions.unsubscribe(session, current.id, community.id, thread.id)
    return JSONResponse({"thread_id": thread.id, "mode": None})


@api
async def set_board_subscription(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        community = await communities.get_readable(session, current, request.path_params["slug"])
        sub = await subscriptions.subscribe(
            session, current, community, mode=data.get("mode", "real_time")
        )
    return JSONResponse({"community": community.slug, "mode": sub.mode})


@api
async def delete_board_subscription(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        community = await communities.get_readable(session, current, request.path_params["slug"])
        await subscriptions.unsubscribe(session, current.id, community.id, None)
    return JSONResponse({"community": community.slug, "mode": None})


@api
async def mark_read(request: Request) -> Response:
    current = await signed_in(request)
    data = await json_body(request)
    post_id = data.get("last_post_id")
    if not isinstance(post_id, int) or isinstance(post_id, bool):
        raise Invalid("last_post_id is a post id.", fields={"last_post_id": "A post id."})
    async with ctx(request).db.transaction() as session:
        thread, _ = await reading.get_thread(session, current, request.path_params["thread_id"])
        await service.mark_read(session, current, thread, post_id)
    return Response(status_code=204)


P = "/api/v1"
routes = [
    Route(P + "/communities/{slug}/threads", list_threads),
    Route(P + "/communities/{slug}/threads", create_thread, methods=["POST"]),
    Route(P + "/communities/{slug}/subscription", set_board_subscription, methods=["PUT"]),
    Route(P + "/communities/{slug}/subscription", delete_board_subscription, methods=["DELETE"]),
    Route(P + "/threads/{thread_id:int}", get_thread),
    Route(P + "/threads/{thread_id:int}", update_thread, methods=["PATCH"]),
    Route(P + "/threads/{thread_id:int}/posts", create_post, methods=["POST"]),
    Route(P + "/threads/{thread_id:int}/subscription", set_thread_subscription, methods=["PUT"]),
    Route(
        P + "/threads/{thread_id:int}/subscription", delete_thread_subscription, methods=["DELETE"]
    ),
    Route(P + "/threads/{thread_id:int}/read", mark_read, methods=["POST"]),
    Route(P + "/posts/{post_id:int}", get_post),
    Route(P + "/posts/{post_id:int}", edit_post, methods=["PATCH"]),
    Route(P + "/posts/{post_id:int}", delete_post, methods=["DELETE"]),
    Route(P + "/posts/{post_id:int}/history", post_history),
    Route(P + "/posts/{post_id:int}/recommend", recommend, methods=["POST"]),
    Route(P + "/posts/{post_id:int}/recommend", unrecommend, methods=["DELETE"]),
    Route(P + "/posts/{post_id:int}/recommendations", recommendations),
]
