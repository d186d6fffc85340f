"""Pages for private messages: the inbox, a conversation, a new message, leaving and
reporting, and the site moderators' list of reported conversations."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connect import events
from connect.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from connect.messages import reading, service
from connect.messages.api import routes as api_routes
from connect.web import (
    ctx,
    form_data,
    form_text,
    optional_id,
    page,
    page_params,
    redirect,
    render,
    viewer,
)

FORM_ERRORS = (Invalid, Forbidden, Conflict, RateLimited)


def _refusal(exc, current, field: str) -> dict[str, str]:
    """A refused form's errors, by field; CSRF failures and sign-in problems are re-raised."""
    if isinstance(exc, Forbidden) and (not current.signed_in or exc.code == "csrf_failed"):
        raise exc
    return exc.fields or {field: exc.message}


def _with_retry_after(response: Response, exc) -> Response:
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# The inbox -----------------------------------------------------------------------------------


async def _inbox_context(request: Request, current) -> dict:
    page_number, per_page = page_params(request, default_per_page=reading.CONVERSATIONS_PER_PAGE)
    q = request.query_params.get("q", "")[:200].strip()
    async with ctx(request).db.read() as session:
        conversations, total, unread, people = await reading.inbox(
            session, current, q=q, page=page_number, per_page=per_page
        )
        live_cursor = await events.latest_id(session)
    return {
        "conversations": conversations,
        "total": total,
        "unread": unread,
        "people": people,
        "page": page_number,
        "per_page": per_page,
        "q": q,
        "live_cursor": live_cursor,
    }


@page
async def inbox_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/messages")
    return await render(request, "messages/inbox.html", await _inbox_context(request, current))


@page
async def inbox_fragment(request: Request) -> Response:
    """The inbox list alone, for live updates to swap in when a message arrives."""
    current = await viewer(request)
    if not current.signed_in:
        raise NotFound("Sign in to read your messages.")
    return await render(
        request, "messages/_inbox_list.html", await _inbox_context(request, current)
    )


# A new conversation ---------------------------------------------------------------------------


@page
async def new_message_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(request, f"/login?next={quote(target, safe='/')}")
    q = request.query_params
    values = {"to": q.get("to", "")[:200], "subject": "", "body": ""}
    reply_to_post = optional_id(q.get("reply_to_post"))
    errors, status, refused = {}, 200, None
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("to", "subject", "body")}
        reply_to_post = optional_id(form_text(form, "reply_to_post"))
        try:
            async with ctx(request).db.transaction() as session:
                conversation, _ = await service.start_conversation(
                    session,
                    current,
                    to=values["to"],
                    body=values["body"],
                    subject=values["subject"] or None,
                    reply_to_post=reply_to_post,
                    per_day=service.conversation_limit(ctx(request).settings),
                )
        except FORM_ERRORS as exc:
            errors, status, refused = _refusal(exc, current, "body"), exc.status, exc
            if "reply_to_post" in errors:  # the quote sits with the message
                errors["body"] = errors.pop("reply_to_post")
        else:
            return redirect(request, f"/messages/{conversation.id}")
    quoted = None
    if reply_to_post:
        async with ctx(request).db.read() as session:
            try:
                quoted = reading.Quote(
                    *await service.quotable_post(session, current, reply_to_post)
                )
            except Invalid:
                reply_to_post = None  # not a post this member may quote: no quote, no trace
    response = await render(
        request,
        "messages/new.html",
        {"values": values, "errors": errors, "quoted": quoted, "reply_to_post": reply_to_post},
        status=status,
    )
    return _with_retry_after(response, refused)


# A conversation ---------------------------------------------------------------------------------


async def _conversation_context(request: Request, conversation_id: int, *, last_page=False):
    """Everything the conversation page shows; opening it marks it read (or logs a
    moderator's read), so this runs in a write transaction."""
    current = await viewer(request)
    _, per_page = page_params(request, default_per_page=reading.MESSAGES_PER_PAGE)
    wanted = None if last_page or "page" not in request.query_params else page_params(request)[0]
    async with ctx(request).db.transaction() as session:
        opened = await service.open_conversation(session, current, conversation_id)
        conversation = opened.conversation
        messages, total, page_number = await reading.messages_of(
            session, conversation, page=wanted, per_page=per_page
        )
        quoted = await reading.quoted_posts(session, current, messages)
        people = (await reading.participants_of(session, [conversation.id]))[conversation.id]
        departures = await reading.left_positions(session, conversation, people)
        reporter = next((p.user for p in people if p.user_id == conversation.reported_by_id), None)
        if opened.participant is not None and messages:
            await service.mark_read(session, current, conversation.id, messages[-1].id)
        live_cursor = await events.latest_id(session)
    # Who left after how many messages, placed among this page's messages (api: left_at).
    offset = (page_number - 1) * per_page
    departed_before, departed_after = [], {}
    for count, participant in departures:
        if count - offset <= 0:
            if page_number == 1:
                departed_before.append(participant)
        elif count - offset <= len(messages):
            departed_after.setdefault(count - offset, []).append(participant)
    return {
        "conversation": conversation,
        "as_moderator": opened.as_moderator,
        "reporter": reporter,
        "people": people,
        "messages": messages,
        "quoted": quoted,
        "departed_before": departed_before,
        "departed_after": departed_after,
        "total": total,
        "page": page_number,
        "per_page": per_page,
        "last_message_id": messages[-1].id if messages else 0,
        "live_cursor": live_cursor,
        "body": "",
        "errors": {},
    }


@page
async def conversation_page(request: Request) -> Response:
    current = await viewer(request)
    conversation_id = request.path_params["conversation_id"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/messages/{conversation_id}")
    context = await _conversation_context(request, conversation_id)
    return await render(request, "messages/conversation.html", context)


@page
async def reply_action(request: Request) -> Response:
    current = await viewer(request)
    conversation_id = request.path_params["conversation_id"]
    form = await form_data(request)
    body = form_text(form, "body")
    try:
        async with ctx(request).db.transaction() as session:
            _, message = await service.send_message(session, current, conversation_id, body=body)
    except FORM_ERRORS as exc:
        errors = _refusal(exc, current, "body")
        context = await _conversation_context(request, conversation_id, last_page=True)
        context.update({"body": body, "errors": errors})
        response = await render(request, "messages/conversation.html", context, status=exc.status)
        return _with_retry_after(response, exc)
    return redirect(request, f"/messages/{conversation_id}#message-{message.id}")


@page
async def message_fragment(request: Request) -> Response:
    """One message as on the conversation page, for live updates (participants only)."""
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        conversation, _ = await service.participation(
            session, current, request.path_params["conversation_id"]
        )
        message = await reading.get_message(
            session, conversation, request.path_params["message_id"]
        )
        if message is None:
            raise NotFound("There is no such message.")
        quoted = await reading.quoted_posts(session, current, [message])
    return await render(request, "messages/_message.html", {"m": message, "quoted": quoted})


@page
async def read_action(request: Request) -> Response:
    """The open conversation page saw a message arrive live: it counts as read."""
    current = await viewer(request)
    form = await form_data(request)
    message_id = optional_id(form_text(form, "last_message_id"))
    if message_id is None:
        raise Invalid("last_message_id is a message id.")
    async with ctx(request).db.transaction() as session:
        await service.mark_read(
            session, current, request.path_params["conversation_id"], message_id
        )
    return Response(status_code=204)


@page
async def leave_action(request: Request) -> Response:
    current = await viewer(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        await service.leave(session, current, request.path_params["conversation_id"])
    return redirect(request, "/messages", message="You left the conversation.")


@page
async def report_page(request: Request) -> Response:
    current = await viewer(request)
    conversation_id = request.path_params["conversation_id"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/messages/{conversation_id}/report")
    reason, errors, status = "", {}, 200
    if request.method == "POST":
        form = await form_data(request)
        reason = form_text(form, "reason")
        try:
            async with ctx(request).db.transaction() as session:
                await service.report(session, current, conversation_id, reason=reason)
                _, mine = await service.reporter_participation(session, current, conversation_id)
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            # One who left reads it no more: back to their list instead.
            back = "/messages" if mine.left_at else f"/messages/{conversation_id}"
            return redirect(
                request,
                back,
                message="Thank you: the site moderators can now read this conversation.",
            )
    async with ctx(request).db.read() as session:
        conversation, mine = await service.reporter_participation(session, current, conversation_id)
    return await render(
        request,
        "messages/report.html",
        {
            "conversation": conversation,
            "left": mine.left_at is not None,
            "reason": reason,
            "errors": errors,
        },
        status=status,
    )


# Moderation -----------------------------------------------------------------------------------


@page
async def reported_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/moderation/messages")
    page_number, per_page = page_params(request, default_per_page=30)
    async with ctx(request).db.read() as session:
        rows, total = await reading.reported(session, current, page=page_number, per_page=per_page)
    return await render(
        request,
        "messages/reported.html",
        {"rows": rows, "total": total, "page": page_number, "per_page": per_page},
    )


@page
async def close_report_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    async with ctx(request).db.transaction() as session:
        await service.close_report(
            session,
            current,
            request.path_params["conversation_id"],
            reason=form_text(form, "reason"),
        )
    return redirect(
        request,
        "/moderation/messages",
        message="The report is closed; the conversation is private again.",
    )


routes = [
    Route("/messages", inbox_page),
    Route("/messages/fragment", inbox_fragment),
    Route("/messages/new", new_message_page, methods=["GET", "POST"]),
    Route("/messages/{conversation_id:int}", conversation_page),
    Route("/messages/{conversation_id:int}/reply", reply_action, methods=["POST"]),
    Route("/messages/{conversation_id:int}/read", read_action, methods=["POST"]),
    Route("/messages/{conversation_id:int}/leave", leave_action, methods=["POST"]),
    Route("/messages/{conversation_id:int}/report", report_page, methods=["GET", "POST"]),
    Route("/messages/{conversation_id:int}/messages/{message_id:int}", message_fragment),
    Route("/moderation/messages", reported_page),
    Route(
        "/moderation/messages/{conversation_id:int}/close", close_report_action, methods=["POST"]
    ),
    *api_routes,
]
