"""Pages and API for setup, sign-up, sign-in/out, tokens, password reset, email changes and
deleting one's account."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect import security
from connect.accounts import deletion, email_change, service
from connect.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    NotSignedIn,
    RateLimited,
    ServiceError,
)
from connect.members.service import member_json
from connect.notifications.mail import send_due_mail
from connect.permissions import Viewer
from connect.web import (
    SESSION_COOKIE,
    api,
    client_ip,
    csrf_exempt,
    ctx,
    form_data,
    form_text,
    json_body,
    optional_id,
    page,
    redirect,
    render,
    viewer,
)


def _send_mail_after(request: Request) -> BackgroundTask:
    """Send the queue once the answer is out, so its timing reveals nothing."""
    return BackgroundTask(send_due_mail, ctx(request))


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _set_session_cookie(request: Request, response: Response, raw: str) -> None:
    settings = ctx(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


async def _start_session(request: Request, user) -> str:
    async with ctx(request).db.transaction() as session:
        raw, _ = await service.issue_token(
            session, user, kind="session", days=ctx(request).settings.session_days
        )
    return raw


async def _require_user(request: Request):
    current = await viewer(request)
    if current.user is None:
        raise NotSignedIn("Sign in first.")
    return current.user


# Setup ----------------------------------------------------------------------------


@page
async def setup_page(request: Request) -> Response:
    async with ctx(request).db.read() as session:
        if not await service.site_is_empty(session):
            raise NotFound("The site is already set up.")
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("username", "email", "display_name")}
        try:
            user = await service.create_first_admin(
                ctx(request), password=form_text(form, "password"), **values
            )
        except (Invalid, Conflict) as exc:
            errors, status = exc.fields or {"form": exc.message}, exc.status
        else:
            response = redirect(request, "/communities/new", message="Welcome! Your site is ready.")
            _set_session_cookie(request, response, await _start_session(request, user))
            return response
    return await render(
        request, "accounts/setup.html", {"values": values, "errors": errors}, status=status
    )


# Sign-up and sign-in ------------------------------------------------------------------


@page
async def register_page(request: Request) -> Response:
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("username", "email", "display_name")}
        try:
            user = await service.register(
                ctx(request), password=form_text(form, "password"), **values
            )
        except (Invalid, Conflict) as exc:
            errors, status = exc.fields or {"form": exc.message}, exc.status
        else:
            response = redirect(
                request, f"/members/{user.username}", message="Welcome to the community!"
            )
            _set_session_cookie(request, response, await _start_session(request, user))
            return response
    return await render(
        request, "accounts/register.html", {"values": values, "errors": errors}, status=status
    )


@page
async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    values, error, status, headers = {}, None, 200, {}
    if request.method == "POST":
        form = await form_data(request)
        next_url = safe_next(form_text(form, "next"))
        values = {"login": form_text(form, "login")}
        try:
            user = await service.authenticate(
                ctx(request),
                login=values["login"],
                password=form_text(form, "password"),
                ip=client_ip(request),
            )
        except ServiceError as exc:
            error, status = exc.message, exc.status
            if getattr(exc, "retry_after", None):
                headers["Retry-After"] = str(exc.retry_after)
        else:
            response = redirect(request, next_url)
            _set_session_cookie(request, response, await _start_session(request, user))
            return response
    response = await render(
        request,
        "accounts/login.html",
        {"values": values, "error": error, "next": next_url},
        status=status,
    )
    response.headers.update(headers)
    return response


@page
async def logout(request: Request) -> Response:
    await form_data(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        async with ctx(request).db.transaction() as session:
            await service.revoke_by_raw(session, raw)
    response = redirect(request, "/", message="You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# Password reset -------------------------------------------------------------------


@page
async def forgot_page(request: Request) -> Response:
    values, errors, sent, status = {}, {}, False, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {"email": form_text(form, "email")}
        try:
            await service.request_password_reset(ctx(request), email=values["email"])
            sent = True
        except (Invalid, RateLimited) as exc:
            errors, status = exc.fields or {"email": exc.message}, exc.status
    response = await render(
        request,
        "accounts/forgot.html",
        {"values": values, "errors": errors, "sent": sent},
        status=status,
    )
    if sent:
        response.background = _send_mail_after(request)
    return response


@page
async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    await service.check_reset_token(ctx(request), token)
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        try:
            await service.reset_password(
                ctx(request), token=token, password=form_text(form, "password")
            )
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        else:
            return redirect(request, "/login", message="Your password is changed. Sign in with it.")
    return await render(request, "accounts/reset.html", {"errors": errors}, status=status)


# Account settings: password and API tokens ---------------------------------------------


@page
async def tokens_page(request: Request) -> Response:
    user = await _require_user(request)
    new_token, errors, status = None, {}, 200
    if request.method == "POST":
        form = await form_data(request)
        action = form_text(form, "action")
        async with ctx(request).db.transaction() as session:
            if action == "revoke":
                token_id = optional_id(form_text(form, "token_id"))
                if token_id is None:
                    raise NotFound("No such token.")
                await service.revoke_token(session, user, token_id)
            else:
                name = form_text(form, "name").strip()
                if not name or len(name) > 100:
                    errors, status = {"name": "Name the token (1 to 100 characters)."}, 422
                else:
                    new_token, _ = await service.issue_token(session, user, kind="api", name=name)
    async with ctx(request).db.read() as session:
        tokens = await service.list_tokens(session, user)
    return await render(
        request,
        "accounts/tokens.html",
        {
            "tokens": tokens,
            "new_token": new_token,
            "errors": errors,
            "current_token_id": getattr(request.state, "token_id", None),
        },
        status=status,
    )


@page
async def password_page(request: Request) -> Response:
    user = await _require_user(request)
    errors, status, headers, changed = {}, 200, {}, None
    if request.method == "POST":
        form = await form_data(request)
        keep = request.state.token_id if request.state.auth == "cookie" else None
        try:
            ended = await service.change_password(
                ctx(request),
                user,
                current=form_text(form, "current_password"),
                new=form_text(form, "password"),
                ip=client_ip(request),
                keep_token_id=keep,
            )
        except (Invalid, Forbidden, RateLimited) as exc:
            errors, status = exc.fields or {"current_password": exc.message}, exc.status
            if isinstance(exc, RateLimited):
                headers["Retry-After"] = str(exc.retry_after)
        else:
            async with ctx(request).db.read() as session:
                tokens = await service.list_tokens(session, user)
            changed = {
                "sessions_ended": ended,
                "api_tokens": [t for t in tokens if t.kind == "api"],
            }
    response = await render(
        request,
        "accounts/password.html",
        {"errors": errors, "changed": changed},
        status=status,
    )
    response.headers.update(headers)
    return response


# JSON API ------------------------------------------------------------------------


@api
async def api_register(request: Request) -> Response:
    data = await json_body(request)
    user = await service.register(
        ctx(request),
        username=data.get("username", ""),
        email=data.get("email", ""),
        password=data.get("password", ""),
        display_name=data.get("display_name", ""),
    )
    return JSONResponse(member_json(user, await viewer(request)), status_code=201)


async def _api_authenticate(request: Request):
    data = await json_body(request)
    return await service.authenticate(
        ctx(request),
        login=data.get("login", ""),
        password=data.get("password", ""),
        ip=client_ip(request),
    )


@api
@csrf_exempt
async def api_token_create(request: Request) -> Response:
    user = await _api_authenticate(request)
    async with ctx(request).db.transaction() as session:
        raw, _ = await service.issue_token(session, user, kind="api", name="API token")
    return JSONResponse({"token": raw, "member": member_json(user, Viewer(user=user))})


@api
async def api_token_delete(request: Request) -> Response:
    current = await viewer(request)
    if request.state.auth != "bearer":
        raise NotSignedIn("Send the token to revoke as Authorization: Bearer <token>.")
    async with ctx(request).db.transaction() as session:
        await service.revoke_token(session, current.user, request.state.token_id)
    return Response(status_code=204)


@api
async def api_tokens_list(request: Request) -> Response:
    user = await _require_user(request)
    async with ctx(request).db.read() as session:
        tokens = await service.list_tokens(session, user)
    items = [
        {
            "id": t.id,
            "kind": t.kind,
            "name": t.name,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "current": t.id == request.state.token_id,
        }
        for t in tokens
    ]
    return JSONResponse({"items": items, "total": len(items), "page": 1, "per_page": len(items)})


@api
async def api_tokens_revoke(request: Request) -> Response:
    user = await _require_user(request)
    async with ctx(request).db.transaction() as session:
        await service.revoke_token(session, user, request.path_params["token_id"])
    return Response(status_code=204)


@api
@csrf_exempt
async def api_session_create(request: Request) -> Response:
    user = await _api_authenticate(request)
    raw = await _start_session(request, user)
    response = JSONResponse(
        {
            "member": member_json(user, Viewer(user=user)),
            "csrf_token": security.csrf_token(ctx(request).secret_key, raw),
        }
    )
    _set_session_cookie(request, response, raw)
    return response


@api
async def api_session_delete(request: Request) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        async with ctx(request).db.transaction() as session:
            await service.revoke_by_raw(session, raw)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@api
async def api_password_forgot(request: Request) -> Response:
    data = await json_body(request)
    await service.request_password_reset(ctx(request), email=data.get("email", ""))
    return JSONResponse(
        {"status": "sent", "message": "If an account has this address, a link is on its way."},
        status_code=202,
        background=_send_mail_after(request),
    )


@api
async def api_password_reset(request: Request) -> Response:
    data = await json_body(request)
    token, password = data.get("token"), data.get("password")
    if not isinstance(token, str) or not isinstance(password, str):
        raise Invalid("Send the token from the link and the new password.")
    await service.reset_password(ctx(request), token=token, password=password)
    return JSONResponse({"status": "changed"})


# Changing the email address -----------------------------------------------------------


@page
async def email_page(request: Request) -> Response:
    user = await _require_user(request)
    values, errors, status, sent_to, headers = {"email": ""}, {}, 200, None, {}
    if request.method == "POST":
        form = await form_data(request)
        values = {"email": form_text(form, "email")}
        try:
            sent_to = await email_change.request_change(
                ctx(request),
                user,
                email=values["email"],
                password=form_text(form, "password"),
                ip=client_ip(request),
            )
        except (Invalid, Forbidden, Conflict, RateLimited) as exc:
            errors, status = exc.fields or {"password": exc.message}, exc.status
            if isinstance(exc, RateLimited):
                headers["Retry-After"] = str(exc.retry_after)
    response = await render(
        request,
        "accounts/email.html",
        {"values": values, "errors": errors, "sent_to": sent_to},
        status=status,
    )
    response.headers.update(headers)
    if sent_to:
        response.background = _send_mail_after(request)
    return response


@page
async def email_confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    if request.method == "POST":
        await form_data(request)
        user = await email_change.confirm_change(ctx(request), token)
        current = await viewer(request)
        target = "/settings/email" if current.id == user.id else "/login"
        return redirect(request, target, message=f"Your email address is now {user.email}.")
    user, new_email = await email_change.check_link(ctx(request), token)
    return await render(
        request, "accounts/email_confirm.html", {"account": user, "new_email": new_email}
    )


@api
async def api_email_change(request: Request) -> Response:
    current = await viewer(request)
    if current.user is None:
        raise NotSignedIn("Sign in first.")
    data = await json_body(request)
    sent_to = await email_change.request_change(
        ctx(request),
        current.user,
        email=data.get("email"),
        password=data.get("password"),
        ip=client_ip(request),
    )
    return JSONResponse(
        {
            "status": "sent",
            "pending_email": sent_to,
            "message": "Open the link sent to the new address to finish the change.",
        },
        status_code=202,
        background=_send_mail_after(request),
    )


# Deleting one's account ----------------------------------------------------------------


@page
async def delete_page(request: Request) -> Response:
    user = await _require_user(request)
    errors, status, headers = {}, 200, {}
    if request.method == "POST":
        form = await form_data(request)
        try:
            await deletion.delete_account(
                ctx(request), user, password=form_text(form, "password"), ip=client_ip(request)
            )
        except (Forbidden, Conflict, RateLimited) as exc:
            errors, status = exc.fields or {"form": exc.message}, exc.status
            if isinstance(exc, RateLimited):
                headers["Retry-After"] = str(exc.retry_after)
        else:
            response = redirect(request, "/", message="Your account has been deleted.")
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
    async with ctx(request).db.read() as session:
        refused = await deletion.refusal(session, user)
    response = await render(
        request,
        "accounts/delete.html",
        {"errors": errors, "refused": refused.message if refused else None},
        status=status,
    )
    response.headers.update(headers)
    return response


@api
async def api_me_delete(request: Request) -> Response:
    user = await _require_user(request)
    data = await json_body(request)
    await deletion.delete_account(
        ctx(request), user, password=data.get("password"), ip=client_ip(request)
    )
    response = Response(status_code=204)
    if request.state.auth == "cookie":
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/setup", setup_page, methods=["GET", "POST"]),
    Route("/register", register_page, methods=["GET", "POST"]),
    Route("/login", login_page, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/password/forgot", forgot_page, methods=["GET", "POST"]),
    Route("/password/reset/{token}", reset_page, methods=["GET", "POST"]),
    Route("/settings/tokens", tokens_page, methods=["GET", "POST"]),
    Route("/settings/password", password_page, methods=["GET", "POST"]),
    Route("/api/v1/auth/register", api_register, methods=["POST"]),
    Route("/api/v1/auth/token", api_token_create, methods=["POST"]),
    Route("/api/v1/auth/token", api_token_delete, methods=["DELETE"]),
    Route("/api/v1/auth/tokens", api_tokens_list, methods=["GET"]),
    Route("/api/v1/auth/tokens/{token_id:int}", api_tokens_revoke, methods=["DELETE"]),
    Route("/api/v1/auth/session", api_session_create, methods=["POST"]),
    Route("/api/v1/auth/session", api_session_delete, methods=["DELETE"]),
    Route("/api/v1/auth/password/forgot", api_password_forgot, methods=["POST"]),
    Route("/api/v1/auth/password/reset", api_password_reset, methods=["POST"]),
    Route("/settings/email", email_page, methods=["GET", "POST"]),
    Route("/settings/email/confirm/{token}", email_confirm_page, methods=["GET", "POST"]),
    Route("/api/v1/me/email", api_email_change, methods=["POST"]),
    Route("/settings/delete", delete_page, methods=["GET", "POST"]),
    Route("/api/v1/me", api_me_delete, methods=["DELETE"]),
]
