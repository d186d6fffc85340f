"""create_app(settings): the whole URL space, middleware and lifespan in one place."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from connect import __version__, gc_tuning, health, markup, openapi
from connect.accounts import routes as accounts_routes
from connect.accounts import service as accounts
from connect.boards import reading as boards_reading
from connect.boards import routes as boards_routes
from connect.boards.rendering import PostCache
from connect.communities import routes as communities_routes
from connect.communities import service as communities
from connect.db import Database, is_unavailable
from connect.errors import ServiceError
from connect.library import routes as library_routes
from connect.library.texts import Extractor
from connect.live import routes as live_routes
from connect.live.broadcast import Broadcast, make_broadcast
from connect.live.hub import Hub
from connect.members import routes as members_routes
from connect.members.directory import DirectoryIndex
from connect.members.service import DIRECTORY_EVENTS, avatar_url
from connect.messages import routes as messages_routes
from connect.moderation import routes as moderation_routes
from connect.network import routes as network_routes
from connect.notifications import routes as notifications_routes
from connect.notifications import service as notifications
from connect.notifications.mail import Mailer
from connect.notifications.service import Notifier
from connect.pagecache import PageCache, ReadCache
from connect.search import routes as search_routes
from connect.search.service import SearchService
from connect.security import (
    SECURITY_HEADERS,
    LoginThrottle,
    Passwords,
    RequestLimit,
    SecurityHeadersMiddleware,
)
from connect.settings import Settings
from connect.storage import Storage
from connect.web import error_json, error_page, is_api, page, render, unavailable_response, viewer
from connect.workers import Consumer, Job, Workers

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("connect")


@dataclass
class Context:
    """What handlers and services share: built once per app, no module-level globals."""

    settings: Settings
    secret_key: str
    templates: Jinja2Templates
    passwords: Passwords
    login_throttle: LoginThrottle
    reset_throttle: RequestLimit
    mailer: Mailer
    storage: Storage
    db: Database | None = None
    workers: Workers | None = None
    search: SearchService | None = None
    hub: Hub | None = None
    broadcast: Broadcast | None = None
    pages: PageCache = field(default_factory=lambda: PageCache(0))
    posts: PostCache = field(default_factory=lambda: PostCache(0))
    reads: ReadCache = field(default_factory=lambda: ReadCache(0))
    directory: ReadCache = field(default_factory=lambda: ReadCache(0))
    # Every listed member's searchable text (~15 MB for 50,000 members), read when asked.
    directory_index: DirectoryIndex = field(default_factory=DirectoryIndex)
    image_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


@page
async def home(request: Request) -> Response:
    context = request.app.state.ctx
    async with context.db.read() as session:
        if await accounts.site_is_empty(session):
            return RedirectResponse("/setup", status_code=303)
        current = await viewer(request)
        mine = (
            await communities.communities_of(session, current, current.user) if current.user else []
        )
        featured, total = await communities.list_communities(session, current, per_page=8)
        latest = await boards_reading.latest_discussions(session, current, limit=10)
        feed = await network_routes.home_extras(session, current, count=False)
    return await render(
        request,
        "home.html",
        {"my_communities": mine, "featured": featured, "total": total, "latest": latest, **feed},
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def not_found(request: Request, exc: HTTPException) -> Response:
    error = ServiceError(exc.detail or "Not found.")
    error.status = exc.status_code
    error.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    if exc.status_code == 404:
        error.message = "There is nothing at this address."
    if is_api(request):
        return error_json(error)
    return await error_page(request, error)


async def server_error(request: Request, exc: Exception) -> Response:
    if is_unavailable(exc):  # the database is down, not a bug: 503 and Retry-After
        response = unavailable_response(request, exc)
    elif is_api(request):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = JSONResponse(
            {"error": {"code": "server_error", "message": "Something went wrong on our side."}},
            status_code=500,
        )
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = Response(
            "Something went wrong on our side.", status_code=500, media_type="text/plain"
        )
    # Starlette sends this from outside every middleware: add the security headers here.
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name.decode(), value.decode())
    return response


class AccessLogMiddleware:
    """One structured line per request with its timing."""

    def __init__(self, app) -> None:
        self.app = app
        self.log = logging.getLogger("connect.access")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.log.info(
                "request method=%s path=%s status=%s ms=%.1f",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )


async def _shutdown_step(step: str, work, seconds: float) -> None:
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("shutdown: %s took over %.0f s; going on without it", step, seconds)
        return
    task.result()


def build_workers(context: Context) -> Workers:
    """The event consumers and periodic jobs; `connect serve` or `connect worker` runs them."""
    notifier = Notifier(context)
    extractor = Extractor(context)
    return Workers(
        context.db,
        consumers=[
            Consumer("notifier", notifier.handle, wants=notifier.wants),
            Consumer("extractor", extractor.handle, batch_size=20, wants=extractor.wants),
            context.search.indexer.consumer,  # last: it indexes what the others produced
        ],
        jobs=[
            Job("mail", lambda: notifications.send_due_mail(context), every=5),
            Job("digest", lambda: notifications.send_digests(context), every=600),
            Job("extract", extractor.run_pending, every=5),
        ],
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    settings.ensure_data_dir()
    templates = Jinja2Templates(directory=str(ROOT / "templates"))
    templates.env.auto_reload = False  # templates change with releases, not while serving
    templates.env.globals["site_name"] = settings.site_name
    templates.env.globals["avatar_url"] = avatar_url
    templates.env.filters["excerpt"] = markup.excerpt  # Markdown → plain text, shortened
    templates.env.filters["html_excerpt"] = markup.html_excerpt  # rendered post → the same
    context = Context(
        settings=settings,
        secret_key=settings.load_secret_key(),
        templates=templates,
        passwords=Passwords(settings.password_hash_threads),
        login_throttle=LoginThrottle(enabled=settings.rate_limits),
        reset_throttle=RequestLimit(per=3, window=3600, enabled=settings.rate_limits),
        mailer=Mailer(settings),
        storage=Storage(settings.path("files")),
        pages=PageCache(settings.page_cache_mb * 1024 * 1024),
        posts=PostCache(settings.post_cache_mb * 1024 * 1024),
        reads=ReadCache(settings.read_cache_mb * 1024 * 1024),
        # Member ids only (a filter's matches: ~40 bytes each); profile edits come with an
        # event, so the age limit is only a backstop.
        directory=ReadCache(32 * 1024 * 1024, max_age=300),
    )
    context.search = SearchService(context)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        context.db = Database(settings.database_url)
        context.workers = build_workers(context)
        context.hub = Hub(context.db, replay_limit=settings.live_replay_events)
        wakes = [context.hub.wake, context.workers.wake, context.search.indexer.wake]

        def wake_all() -> None:
            for wake in wakes:
                wake()

        context.broadcast = make_broadcast(settings.redis_url, on_message=wake_all)
        # Anonymous pages go stale with any write: ours as it commits, others' as the hub
        # reads them from the log.
        context.db.after_commit.extend(
            [context.pages.clear, context.reads.clear, wake_all, context.broadcast.publish]
        )

        def heard(batch: list) -> None:
            context.pages.clear()
            context.reads.clear()
            if any(event.type in DIRECTORY_EVENTS for event in batch):
                context.directory.clear()
                context.directory_index.clear()

        context.hub.on_events.append(heard)
        await context.hub.start()
        await context.broadcast.start()
        if settings.run_workers:
            await context.workers.start()
            context.search.indexer.start()
        await context.search.startup_check()
        context.search.start_processes()
        gc_tuning.freeze_after_startup()
        try:
            yield
        finally:
            # Each step is bounded: one that stalls is logged and left behind, and the
            # others still run, so stopping never hangs.
            await _shutdown_step("flushing the search index", context.search.close(), 30)
            await _shutdown_step("stopping the consumers", context.workers.stop(), 15)
            await _shutdown_step("closing live sockets", context.hub.close_all(code=1012), 5)
            await _shutdown_step("stopping the live hub", context.hub.stop(), 5)
            await _shutdown_step("stopping the broadcast", context.broadcast.stop(), 5)
            await _shutdown_step("closing database connections", context.db.dispose(), 10)

    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/readyz", health.readyz),
        # Clients that ask for the icon without reading the page's <link rel="icon">.
        Route("/favicon.ico", lambda _request: RedirectResponse("/static/img/icon.svg", 301)),
        *accounts_routes.routes,
        *members_routes.routes,
        *network_routes.routes,
        *messages_routes.routes,
        *communities_routes.routes,
        *boards_routes.routes,
        *library_routes.routes,
        *moderation_routes.routes,
        *notifications_routes.routes,
        *search_routes.routes,
        *live_routes.routes,
        *openapi.routes,
        Mount("/static", app=StaticFiles(directory=str(ROOT / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
        ],
        exception_handlers={HTTPException: not_found, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.ctx = context
    return app
