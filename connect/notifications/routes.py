"""Pages and API for notifications, notification preferences, one-click unsubscribe and the
outgoing mail queue (administrators)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.errors import Conflict, Invalid, NotSignedIn
from connect.members.models import Profile
from connect.notifications import outbox, preferences, reading, unsubscribe
from connect.notifications.reading import notification_json
from connect.web import (
    ago,
    api,
    ctx,
    form_data,
    form_text,
    json_body,
    page,
    page_params,
    redirect,
    render,
    signed_in,
    viewer,
)


async def _user(request: Request):
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn("Sign in to see your notifications.")
    return current.user


@page
async def notifications_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/notifications")
    page_number, per_page = page_params(request, default_per_page=30)
    async with ctx(request).db.read() as session:
        items, total = await reading.list_for(session, current, page=page_number, per_page=per_page)
    return await render(
        request,
        "notifications/list.html",
        {"items": items, "total": total, "page": page_number, "per_page": per_page},
    )


@page
async def open_action(request: Request) -> Response:
    """Mark one notification read and go to what it is about."""
    user = await _user(request)
    await form_data(request)
    notification_id = request.path_params["notification_id"]
    async with ctx(request).db.transaction() as session:
        target = await reading.get_for(session, await viewer(request), notification_id)
        await reading.mark_read(session, user.id, [notification_id])
    if target is None:
        return redirect(request, "/notifications", message=reading.WITHHELD + ".")
    return redirect(request, target.url)


@page
async def read_all_action(request: Request) -> Response:
    user = await _user(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        await reading.mark_read(session, user.id)
    return redirect(request, "/notifications", message="All notifications are marked read.")


@page
async def preferences_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/settings/notifications")
    values = preferences.preferences_of(current.user)
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in preferences.PREFERENCES}
        try:
            async with ctx(request).db.transaction() as session:
                await _save_preferences(session, current.id, values)
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(request, "/settings/notifications", message="Preferences saved.")
    return await render(
        request,
        "notifications/preferences.html",
        {"values": values, "errors": errors, "section": "notifications"},
        status=status,
    )


async def _save_preferences(session, user_id: int, values: dict) -> dict:
    clean = preferences.clean_preferences(values)
    profile = await session.get(Profile, user_id)
    profile.preferences = {**(profile.preferences or {}), **clean}
    return preferences.with_defaults(profile.preferences)


@page
async def unsubscribe_page(request: Request) -> Response:
    """GET shows what the link stops; POST (one click, RFC 8058) stops it. No sign-in needed."""
    token = request.path_params["token"]
    user_id, scope = unsubscribe.read_unsubscribe_token(ctx(request).secret_key, token)
    if request.method == "POST":
        async with ctx(request).db.transaction() as session:
            what = await unsubscribe.unsubscribe(session, user_id, scope)
        return await render(request, "notifications/unsubscribed.html", {"what": what})
    return await render(
        request,
        "notifications/unsubscribe.html",
        {"token": token, "what": unsubscribe.scope_words(scope)},
    )


# The outgoing mail queue (administrators) ---------------------------------------------------


@page
async def mail_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/moderation/mail")
    page_number, per_page = page_params(request, default_per_page=20)
    async with ctx(request).db.read() as session:
        found = await outbox.mail_queue(session, current, page=page_number, per_page=per_page)
    return await render(
        request,
        "notifications/mail.html",
        {
            "queue": found,
            "page": page_number,
            "per_page": per_page,
            "give_up_after": ctx(request).settings.mail_give_up_after,
            "ago": ago,
        },
    )


@page
async def mail_retry_action(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/moderation/mail")
    await form_data(request)
    try:
        async with ctx(request).db.transaction() as session:
            mail = await outbox.retry_mail(session, current, request.path_params["mail_id"])
            to = mail.to
    except Conflict as exc:  # sent or queued again meanwhile (another administrator)
        return redirect(request, "/moderation/mail", error=exc.message)
    message = f"The message to {to} is queued again and goes out within a few seconds."
    return redirect(request, "/moderation/mail", message=message)


# JSON API ---------------------------------------------------------------------------------


@api
async def api_list(request: Request) -> Response:
    user = await _user(request)
    page_number, per_page = page_params(request, default_per_page=30)
    unread_only = request.query_params.get("unread") in ("1", "true")
    async with ctx(request).db.read() as session:
        items, total = await reading.list_for(
            session,
            await viewer(request),
            unread_only=unread_only,
            page=page_number,
            per_page=per_page,
        )
        unread = await reading.unread_count(session, user.id)
    return JSONResponse(
        {
            "items": [notification_json(n) for n in items],
            "total": total,
            "page": page_number,
            "per_page": per_page,
            "unread": unread,
        }
    )


@api
async def api_mark_read(request: Request) -> Response:
    user = await _user(request)
    data = await json_body(request)
    ids = data.get("ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise Invalid("ids is a list of notification ids.", fields={"ids": "A list of ids."})
    if ids is None and data.get("all") is not True:
        raise Invalid("Send ids, or all: true.", fields={"ids": "Required unless all is true."})
    async with ctx(request).db.transaction() as session:
        changed = await reading.mark_read(session, user.id, ids)
        unread = await reading.unread_count(session, user.id)
    return JSONResponse({"marked": changed, "unread": unread})


@api
async def api_preferences(request: Request) -> Response:
    user = await _user(request)
    if request.method == "GET":
        return JSONResponse(preferences.preferences_of(user))
    data = await json_body(request)
    async with ctx(request).db.transaction() as session:
        prefs = await _save_preferences(session, user.id, data)
    return JSONResponse(prefs)


@api
async def api_mail(request: Request) -> Response:
    current = await signed_in(request)
    page_number, per_page = page_params(request, default_per_page=20)
    async with ctx(request).db.read() as session:
        found = await outbox.mail_queue(session, current, page=page_number, per_page=per_page)
    return JSONResponse(
        {
            **outbox.queue_json(found),
            "items": [outbox.mail_json(m) for m in found.failures],
            "total": found.failures_total,
            "page": page_number,
            "per_page": per_page,
        }
    )


@api
async def api_mail_retry(request: Request) -> Response:
    current = await signed_in(request)
    async with ctx(request).db.transaction() as session:
        mail = await outbox.retry_mail(session, current, request.path_params["mail_id"])
        answer = outbox.mail_json(mail)
    return JSONResponse(answer)


routes = [
    Route("/notifications", notifications_page),
    Route("/notifications/read", read_all_action, methods=["POST"]),
    Route("/notifications/{notification_id:int}/open", open_action, methods=["POST"]),
    Route("/settings/notifications", preferences_page, methods=["GET", "POST"]),
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"]),
    Route("/api/v1/notifications", api_list),
    Route("/api/v1/notifications/read", api_mark_read, methods=["POST"]),
    Route("/api/v1/me/preferences", api_preferences, methods=["GET", "PATCH"]),
    Route("/moderation/mail", mail_page),
    Route("/moderation/mail/{mail_id:int}/retry", mail_retry_action, methods=["POST"]),
    Route("/api/v1/moderation/mail", api_mail),
    Route("/api/v1/moderation/mail/{mail_id:int}/retry", api_mail_retry, methods=["POST"]),
]
