"""JSON API for private messages (api.md, Professional network: /conversations)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.messages import reading, service
from connect.messages.reading import conversation_json, message_json
from connect.web import api, ctx, json_body, page_params, signed_in


@api
async def list_conversations(request: Request) -> Response:
    """The caller's conversations; `q` searches them (subjects and messages) in the database."""
    current = await signed_in(request, "Sign in to read and send messages.")
    page, per_page = page_params(request, default_per_page=reading.CONVERSATIONS_PER_PAGE)
    q = request.query_params.get("q", "")[:200]
    async with ctx(request).db.read() as session:
        conversations, total, unread, people = await reading.inbox(
            session, current, q=q, page=page, per_page=per_page
        )
        waiting = await reading.unread_total(session, current.id)
    return JSONResponse(
        {
            "items": [
                conversation_json(c, people[c.id], unread=unread[c.id]) for c in conversations
            ],
            "total": total,
            "page": page,
            "per_page": per_page,
            "unread": waiting,
        }
    )


@api
async def create_conversation(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        conversation, message = await service.start_conversation(
            session,
            current,
            to=data.get("to"),
            body=data.get("body"),
            subject=data.get("subject"),
            reply_to_post=data.get("reply_to_post"),
            per_day=service.conversation_limit(ctx(request).settings),
        )
        people = await reading.participants_of(session, [conversation.id])
        quoted = await reading.quoted_posts(session, current, [message])
    answer = conversation_json(conversation, people[conversation.id], unread=0)
    answer["message"] = message_json(message, quoted)
    return JSONResponse(answer, status_code=201)


@api
async def get_conversation(request: Request) -> Response:
    """The conversation and a page of its messages; reading marks them read.

    A write transaction: it moves the reader's marker, or logs a moderator's read.
    """
    current = await signed_in(request, "Sign in to read and send messages.")
    page, per_page = page_params(request, default_per_page=reading.MESSAGES_PER_PAGE)
    async with ctx(request).db.transaction() as session:
        opened = await service.open_conversation(
            session, current, request.path_params["conversation_id"]
        )
        conversation = opened.conversation
        messages, total, page = await reading.messages_of(
            session, conversation, page=page, per_page=per_page
        )
        quoted = await reading.quoted_posts(session, current, messages)
        people = await reading.participants_of(session, [conversation.id])
        if opened.participant is not None and messages:
            await service.mark_read(session, current, conversation.id, messages[-1].id)
    return JSONResponse(
        {
            "conversation": conversation_json(conversation, people[conversation.id]),
            "messages": [message_json(m, quoted) for m in messages],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


@api
async def create_message(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        _, message = await service.send_message(
            session, current, request.path_params["conversation_id"], body=data.get("body")
        )
    return JSONResponse(message_json(message, {}), status_code=201)


@api
async def leave_conversation(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    async with ctx(request).db.transaction() as session:
        await service.leave(session, current, request.path_params["conversation_id"])
    return Response(status_code=204)


@api
async def report_conversation(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        conversation = await service.report(
            session, current, request.path_params["conversation_id"], reason=data.get("reason")
        )
    return JSONResponse(
        {"conversation_id": conversation.id, "reported_at": conversation.reported_at.isoformat()},
        status_code=201,
    )


@api
async def list_reported(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    page, per_page = page_params(request, default_per_page=30)
    async with ctx(request).db.read() as session:
        rows, total = await reading.reported(session, current, page=page, per_page=per_page)
    items = [
        {
            "id": c.id,
            "subject": c.subject,
            "reported_at": c.reported_at.isoformat(),
            "reported_by": reporter.username if reporter else None,
            "reason": c.report_reason,
            "url": f"/messages/{c.id}",
        }
        for c, reporter in rows
    ]
    return JSONResponse({"items": items, "total": total, "page": page, "per_page": per_page})


@api
async def close_report(request: Request) -> Response:
    current = await signed_in(request, "Sign in to read and send messages.")
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        conversation = await service.close_report(
            session, current, request.path_params["conversation_id"], reason=data.get("reason")
        )
    return JSONResponse({"conversation_id": conversation.id, "reported": False})


P = "/api/v1"
routes = [
    Route(P + "/conversations", list_conversations),
    Route(P + "/conversations", create_conversation, methods=["POST"]),
    Route(P + "/conversations/{conversation_id:int}", get_conversation),
    Route(P + "/conversations/{conversation_id:int}", leave_conversation, methods=["DELETE"]),
    Route(P + "/conversations/{conversation_id:int}/messages", create_message, methods=["POST"]),
    Route(P + "/conversations/{conversation_id:int}/report", report_conversation, methods=["POST"]),
    Route(P + "/moderation/conversations", list_reported),
    Route(
        P + "/moderation/conversations/{conversation_id:int}/close", close_report, methods=["POST"]
    ),
]
