"""Request helpers shared by every domain's routes: who is asking, bodies, pages, errors."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from connect import security
from connect.accounts.models import Token
from connect.communities.models import Membership
from connect.db import is_unavailable, utcnow
from connect.errors import (
    BadRequest,
    Forbidden,
    NotSignedIn,
    RateLimited,
    ServiceError,
    TooLarge,
    Unavailable,
)
from connect.moderation.sanctions import active_sanctions
from connect.permissions import Role, Viewer, with_sanctions

SESSION_COOKIE = "connect_session"
ANON_COOKIE = "connect_anon"
FLASH_COOKIE = "connect_flash"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_JSON_BYTES = 1024 * 1024
MAX_FORM_FIELD_BYTES = 256 * 1024
# Ids are 32-bit integer columns on PostgreSQL: a larger number must be a 4xx, not a driver error.
MAX_INT = 2**31 - 1


def _at_most(limit: int) -> str:
    """A regex for the decimal numbers 0..limit (leading zeros allowed)."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        if d != "0":
            rest = len(digits) - i - 1
            options.append(f"{digits[:i]}[0-{int(d) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(digits)
    return "0*(?:" + "|".join(options) + ")"


def optional_id(value: str | None) -> int | None:
    """An id from a query or form field, or None when there is none: missing, not a number,
    or past what an id column holds (a larger number reached the driver as an error)."""
    if not value or not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_INT)):
        return None
    number = int(value)
    return number if 0 < number <= MAX_INT else None


class _IdConvertor(IntegerConvertor):
    """`{name:int}` in a path: 0 to 2**31 - 1, what an id column holds (larger: 404)."""

    regex = _at_most(MAX_INT)


# Every route module imports this one before building its routes.
register_url_convertor("int", _IdConvertor())


def ago(moment: datetime) -> str:
    """How long ago, in words ("3 hours ago"), for an item's age."""
    seconds = int((utcnow() - moment).total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def ctx(request: Request):
    """The application context (settings, database, services) built by create_app."""
    return request.app.state.ctx


# Who is asking -------------------------------------------------------------------


async def viewer(request: Request) -> Viewer:
    """The viewer for this request, from a bearer token or the session cookie (cached)."""
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    request.state.auth = None
    request.state.token_id = None
    bearer = _bearer(request)
    cookie = None if bearer else request.cookies.get(SESSION_COOKIE)
    result, token = await _load(ctx(request), bearer=bearer, cookie=cookie)
    if token is not None:
        request.state.auth = "bearer" if bearer else "cookie"
        request.state.token_id = token.id
        request.state.session_token = bearer or cookie
    elif bearer:
        request.state.auth = "invalid_bearer"
    request.state.viewer = result
    return result


async def signed_in(request: Request, message: str = "Sign in first.") -> Viewer:
    """The viewer, who must be signed in (NotSignedIn, 401, otherwise)."""
    current = await viewer(request)
    if not current.signed_in:
        raise NotSignedIn(message)
    return current


async def load_viewer(context, *, bearer: str | None, cookie: str | None) -> Viewer:
    """The viewer for a bearer token or session cookie (anonymous if neither is valid)."""
    return (await _load(context, bearer=bearer, cookie=cookie))[0]


# Built once: every signed-in request runs them, and building cost more than running.
_TOKEN = select(Token).where(Token.token_hash == bindparam("token_hash"))
_MEMBERSHIPS = select(Membership.community_id, Membership.role, Membership.status).where(
    Membership.user_id == bindparam("user_id")
)


async def _load(context, *, bearer: str | None, cookie: str | None) -> tuple[Viewer, Token | None]:
    raw = bearer or cookie
    if not raw:
        return Viewer(), None
    kind = "api" if bearer else "session"
    now = utcnow()
    async with context.db.read() as session:
        token = (
            await session.execute(_TOKEN, {"token_hash": security.token_hash(raw)})
        ).scalar_one_or_none()
        if (
            token is None
            or token.kind != kind
            or (token.expires_at is not None and token.expires_at <= now)
        ):
            return Viewer(), None
        rows = await session.execute(_MEMBERSHIPS, {"user_id": token.user_id})
        memberships = {cid: Role(role, status) for cid, role, status in rows}
        sanctions = await active_sanctions(session, token.user_id, now)
    if now - token.last_used_at > timedelta(hours=1):
        await _touch(context, token, now)
    return with_sanctions(Viewer(user=token.user, memberships=memberships), sanctions), token


async def refresh_viewer(request: Request) -> Viewer:
    request.state.viewer = None
    return await viewer(request)


async def _touch(context, token: Token, now) -> None:
    """Record use and slide a session's expiry forward, at most hourly."""
    values: dict[str, Any] = {"last_used_at": now}
    if token.kind == "session":
        values["expires_at"] = now + timedelta(days=context.settings.session_days)
    async with context.db.transaction() as session:
        await session.execute(update(Token).where(Token.id == token.id).values(**values))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# CSRF ----------------------------------------------------------------------------


def session_key(request: Request) -> str:
    """What CSRF tokens bind to: the session token, or an anonymous nonce cookie."""
    token = getattr(request.state, "session_token", None)
    if token and getattr(request.state, "auth", None) == "cookie":
        return token
    nonce = request.cookies.get(ANON_COOKIE) or getattr(request.state, "anon_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.anon_nonce = nonce
    return nonce


def csrf_token(request: Request) -> str:
    return security.csrf_token(ctx(request).secret_key, session_key(request))


def check_csrf(request: Request, presented: str | None) -> None:
    key = None
    if getattr(request.state, "auth", None) == "cookie":
        key = request.state.session_token
    else:
        key = request.cookies.get(ANON_COOKIE)
    if not security.csrf_matches(ctx(request).secret_key, key, presented):
        raise Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.",
            code="csrf_failed",
        )


def set_anon_cookie(request: Request, response: Response) -> None:
    nonce = getattr(request.state, "anon_nonce", None)
    if nonce and not request.cookies.get(ANON_COOKIE):
        response.set_cookie(
            ANON_COOKIE,
            nonce,
            httponly=True,
            samesite="lax",
            secure=ctx(request).settings.secure_cookies,
        )


# Bodies ----------------------------------------------------------------------------


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send the body as JSON (Content-Type: application/json).")
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise TooLarge("The request body is too large.")
    try:
        data = json.loads(body or b"{}", parse_int=_bounded_int)
    except _NumberTooLarge:
        raise BadRequest(
            f"A number in the body is too large (at most {MAX_INT}).",
            code="number_too_large",
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return data


class _NumberTooLarge(Exception):
    pass


def _bounded_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_INT:
        raise _NumberTooLarge
    return number


async def form_data(request: Request, *, max_files: int = 0) -> FormData:
    """The submitted form, after its CSRF token is checked."""
    await viewer(request)
    try:
        form = await request.form(
            max_files=max_files, max_fields=200, max_part_size=MAX_FORM_FIELD_BYTES
        )
    except Exception as exc:  # malformed multipart or urlencoded bodies
        raise BadRequest(f"The form could not be read: {exc}") from None
    check_csrf(request, form.get("csrf_token"))
    return form


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def page_params(request: Request, *, default_per_page: int = 20) -> tuple[int, int]:
    """`page` and `per_page` from the query, clamped (per_page at most 100)."""

    def number(name: str, default: int) -> int:
        try:
            return int(request.query_params.get(name, default))
        except ValueError:
            return default

    page = max(1, min(number("page", 1), 100_000))
    per_page = max(1, min(number("per_page", default_per_page), 100))
    return page, per_page


# Pages ---------------------------------------------------------------------------------


def _flash_serializer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(ctx(request).secret_key, salt="flash")


def flash(request: Request, response: Response, message: str, *, error: bool = False) -> Response:
    """A message for the next page: a confirmation, or with `error` a refusal."""
    response.set_cookie(
        FLASH_COOKIE,
        _flash_serializer(request).dumps({"error": message} if error else message),
        httponly=True,
        samesite="lax",
        secure=ctx(request).settings.secure_cookies,
    )
    return response


def redirect(
    request: Request, url: str, *, message: str | None = None, error: str | None = None
) -> Response:
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message)
    if error:
        flash(request, response, error, error=True)
    return response


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    """Render a page with the viewer, CSRF token and any flash message in its context."""
    current = await viewer(request)
    unread_notifications, unread_messages = await _unread_counts(request, current)
    values = {
        "viewer": current,
        "me": current.user,
        "csrf_token": csrf_token(request),
        "settings": ctx(request).settings,
        "notice": None,
        "notice_error": None,
        "unread_notifications": unread_notifications,
        "unread_messages": unread_messages,
    }
    raw_flash = request.cookies.get(FLASH_COOKIE)
    if raw_flash:
        with contextlib.suppress(BadSignature):
            flashed = _flash_serializer(request).loads(raw_flash)
            key = "notice_error" if isinstance(flashed, dict) else "notice"
            values[key] = flashed["error"] if isinstance(flashed, dict) else flashed
    values.update(context or {})
    response = ctx(request).templates.TemplateResponse(
        request, template, values, status_code=status
    )
    if raw_flash:
        response.delete_cookie(FLASH_COOKIE)
    set_anon_cookie(request, response)
    return response


async def _unread_counts(request: Request, current: Viewer) -> tuple[int, int]:
    """The header's unread notifications and private messages, in one statement."""
    if not current.signed_in:
        return 0, 0
    known = getattr(request.state, "unread_counts", None)
    if known is not None:
        return known
    async with ctx(request).db.read() as session:
        return await _read_unread_counts(session, current)


async def read_unread_counts(request: Request, session) -> None:
    """Read the header's counts in a session the page has open anyway (one less to open)."""
    current = await viewer(request)
    if current.signed_in:
        request.state.unread_counts = await _read_unread_counts(session, current)


async def _read_unread_counts(session, current: Viewer) -> tuple[int, int]:
    row = await session.execute(_unread_statement(), {"user_id": current.id})
    notifications, messages = row.one()
    return notifications or 0, messages or 0


@functools.cache
def _unread_statement():
    from connect.messages.reading import unread_messages_count
    from connect.notifications.reading import unread_count_query

    user_id = bindparam("user_id")
    return select(unread_count_query(user_id), unread_messages_count(user_id))


# Errors -------------------------------------------------------------------------------


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _retry_after(exc: ServiceError) -> str | None:
    if isinstance(exc, RateLimited):
        return str(exc.retry_after)
    if exc.status == 503:
        return str(RETRY_AFTER_SECONDS)
    return None


def error_json(exc: ServiceError) -> JSONResponse:
    headers = {}
    retry_after = _retry_after(exc)
    if retry_after:
        headers["Retry-After"] = retry_after
    return JSONResponse(exc.as_json(), status_code=exc.status, headers=headers)


async def error_page(request: Request, exc: ServiceError) -> Response:
    response = await render(
        request, "error.html", {"status": exc.status, "message": exc.message}, status=exc.status
    )
    retry_after = _retry_after(exc)
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


# The database unreachable (restarting, failing over, overloaded): a quick 503 that says to
# retry, in api.md's error shape, instead of a 500. GET /readyz says the same to balancers.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The site cannot reach its database right now. Try again in a few seconds."
log = logging.getLogger("connect")


def unavailable_response(request: Request, exc: BaseException) -> Response:
    """The 503 for a request that failed because the database is unavailable.

    The page is rendered without the database: the viewer is whoever was already loaded.
    """
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        exc.__class__.__name__,
        str(exc).splitlines()[0][:200] if str(exc) else "",
    )
    error = Unavailable(DATABASE_UNAVAILABLE, code="database_unavailable")
    if is_api(request):
        response: Response = error_json(error)
    else:
        current = getattr(request.state, "viewer", None) or Viewer()
        values = {
            "viewer": current,
            "me": current.user,
            "csrf_token": csrf_token(request),
            "settings": ctx(request).settings,
            "notice": None,
            "notice_error": None,
            "unread_notifications": 0,
            "unread_messages": 0,
            "status": 503,
            "message": error.message,
        }
        try:
            response = ctx(request).templates.TemplateResponse(
                request, "error.html", values, status_code=503
            )
        except Exception:  # a template that needs more than this: plain text will do
            response = Response(error.message, status_code=503, media_type="text/plain")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


Handler = Callable[[Request], Awaitable[Response]]


def api(handler: Handler) -> Handler:
    """Wrap a JSON API handler: bearer/cookie auth, CSRF for cookie writes, error shape."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            await viewer(request)
            if request.state.auth == "invalid_bearer":
                raise NotSignedIn(
                    "The bearer token is unknown, expired or revoked.", code="invalid_token"
                )
            if (
                request.method not in SAFE_METHODS
                and request.state.auth == "cookie"
                and not getattr(handler, "csrf_exempt", False)
            ):
                check_csrf(request, request.headers.get("x-csrf-token"))
            return await handler(request)
        except ServiceError as exc:
            return error_json(exc)
        except Exception as exc:
            if is_unavailable(exc):
                return unavailable_response(request, exc)
            raise

    return wrapper


def shared_when_anonymous(handler: Handler) -> Handler:
    """Serve this page to readers who are not signed in from the page cache.

    Goes inside `@page`. Only GETs by readers with no session, bearer token or flash
    message are served from it or offered to it; everyone else gets a fresh page.
    """

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        pages = ctx(request).pages
        if not (pages.enabled and _anonymous_read(request)):
            return await handler(request)
        key = request.url.path + ("?" + request.url.query if request.url.query else "")
        cached = pages.get(key)
        if cached is not None:
            return Response(cached.body, media_type=cached.media_type)
        generation = pages.generation
        response = await handler(request)
        if _shareable(request, response):
            pages.put(key, response.body, response.media_type, generation=generation)
        return response

    return wrapper


def _anonymous_read(request: Request) -> bool:
    cookies = request.cookies
    return (
        request.method == "GET"
        and "authorization" not in request.headers
        and SESSION_COOKIE not in cookies
        and FLASH_COOKIE not in cookies
    )


def _shareable(request: Request, response: Response) -> bool:
    """A 200 that carries nothing of this reader's: no cookie but the anonymous one, no token."""
    if response.status_code != 200 or not isinstance(getattr(response, "body", None), bytes):
        return False
    if any(
        not value.startswith(ANON_COOKIE + "=") for value in response.headers.getlist("set-cookie")
    ):
        return False
    return csrf_token(request).encode() not in response.body


def csrf_exempt(handler: Handler) -> Handler:
    """For sign-in endpoints: they take credentials, not the session's authority."""
    handler.csrf_exempt = True
    return handler


def page(handler: Handler) -> Handler:
    """Wrap an HTML handler: service errors become an error page with the right status."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            try:
                return await handler(request)
            except ServiceError as exc:
                return await error_page(request, exc)
        except Exception as exc:
            if is_unavailable(exc):
                return unavailable_response(request, exc)
            raise

    return wrapper
