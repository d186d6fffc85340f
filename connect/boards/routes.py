"""Pages for discussion boards: the board, threads and replies (one post's pages are in
post_pages)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connect import events, permissions
from connect.boards import post_pages, reading, service, shared, subscriptions
from connect.boards.api import routes as api_routes
from connect.boards.models import SUBSCRIPTION_MODES
from connect.boards.post_pages import post_address, text_lost
from connect.communities import service as communities
from connect.communities.archive import Archived
from connect.communities.routes import archived_page, community_page
from connect.errors import (
    Forbidden,
    Invalid,
    Locked,
    NotFound,
    RateLimited,
    TooLarge,
    UnsupportedType,
)
from connect.library import discussions
from connect.library import reading as library_reading
from connect.library.uploads import post_form
from connect.messages import reading as messages_reading
from connect.moderation.limits import check_not_banned, post_checks
from connect.web import (
    csrf_token,
    ctx,
    form_data,
    form_text,
    optional_id,
    page,
    page_params,
    read_unread_counts,
    redirect,
    render,
    shared_when_anonymous,
    viewer,
)


@page
@shared_when_anonymous
async def board_page(request: Request) -> Response:
    page_number, _ = page_params(request)
    sort = "new" if request.query_params.get("sort") == "new" else "activity"

    async def extra(session, current, community):
        if not permissions.can_read_community(current, community):
            return {}
        live_cursor = await events.latest_id(session)  # before the rows (connect.boards.shared)
        board = await shared.board_page(
            session, ctx(request).reads, live_cursor, community, sort=sort, page=page_number
        )
        if board.serves(current, community):
            threads, total = board.threads, board.total
        else:
            threads, total = await reading.board(
                session, current, community, sort=sort, page=page_number
            )
        return {
            "threads": threads,
            "total": total,
            "page": page_number,
            "per_page": reading.THREADS_PER_PAGE,
            "sort": sort,
            "unread": await reading.unread_threads(session, current, threads),
            "can_post": permissions.can_post(current, community),
            "board_mode": await reading.subscription_mode(session, current.id, community.id, None),
            "modes": SUBSCRIPTION_MODES,
            "live_cursor": live_cursor,
        }

    return await community_page(request, "boards/board.html", "discussion", extra)


@page
async def new_thread_page(request: Request) -> Response:
    current = await viewer(request)
    slug = request.path_params["slug"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/c/{slug}/threads/new")
    async with ctx(request).db.read() as session:
        community = await communities.get_readable(session, current, slug)
    back = f"/c/{community.slug}"
    if permissions.is_archived(community) and request.method != "POST":
        return await archived_page(
            request, community, heading="Start a discussion", back=back, back_label="To the board"
        )
    check_not_banned(current, community)
    if not permissions.can_post(current, community) and not permissions.is_archived(community):
        raise Forbidden("Join this community to start discussions.")
    values, errors, status, retry_after = {"title": "", "body": ""}, {}, 200, None
    if request.method == "POST":
        try:
            # Files attached to the first post become library entries (connect.library).
            async with post_form(request) as (form, files):
                values = {"title": form_text(form, "title"), "body": form_text(form, "body")}
                # A fresh name: a failed transaction rolls back and expires what it loaded,
                # and the form shown again still needs the community from the read above.
                async with ctx(request).db.transaction() as session:
                    target = await communities.get_readable(session, current, slug)
                    thread, post = await service.create_thread(
                        session,
                        current,
                        target,
                        **values,
                        checks=post_checks(ctx(request).settings, uploads=len(files)),
                    )
                    await discussions.attach_to_post(
                        session, current, target, ctx(request).storage, post, files
                    )
        except Archived:  # archived since the form was shown: the text is kept to copy
            unsent = "\n\n".join(v for v in (values["title"], values["body"]) if v)
            return await archived_page(
                request,
                community,
                heading="Start a discussion",
                back=back,
                back_label="To the board",
                unsent=unsent,
                label="Your thread (not posted)",
            )
        except (Invalid, TooLarge, UnsupportedType, RateLimited) as exc:
            errors, status = exc.fields or {"body": exc.message}, exc.status
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:  # 429: the text stays in the form, the reason above it
                errors = {"body": exc.message}
            if hasattr(exc, "form"):  # an attachment refused while reading: keep the text
                values = {
                    "title": form_text(exc.form, "title"),
                    "body": form_text(exc.form, "body"),
                }
        else:
            message = (
                "Your thread is waiting for a moderator's approval."
                if thread.status == "pending"
                else None
            )
            return redirect(request, f"/threads/{thread.id}", message=message)
    response = await render(
        request,
        "boards/new_thread.html",
        {"community": community, "values": values, "errors": errors},
        status=status,
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _thread_context(request: Request, thread_id: int, *, page_number: int | None = None):
    current = await viewer(request)
    if page_number is None:
        page_number, _ = page_params(request)
    async with ctx(request).db.read() as session:
        live_cursor = await events.latest_id(session)  # before the rows (connect.boards.shared)
        view = await shared.thread_page(
            session, ctx(request).reads, live_cursor, thread_id, page_number
        )
        thread, community = view.thread, view.community
        reading.check_thread_visible(current, thread, community)
        served = view.serves(current)
        parts = view.parts if served else {}
        if served:
            posts, total = view.posts, view.total
            parents = reading.visible_parents(current, community, view.parents)
            attachments = library_reading.visible_attachments(current, community, view.attachments)
        else:  # a moderator, or the author of held posts: more than everyone sees
            posts, total = await reading.visible_posts(
                session, current, thread, community, page=page_number
            )
            parents = await reading.parents_of(session, current, community, posts)
            attachments = await library_reading.attachments_by_post(
                session, current, community, posts
            )
        reader = await reading.reader_state(session, current, thread, posts)
        await read_unread_counts(request, session)
        # "Reply privately" shows only beside authors the viewer may message.
        authors = [p.author for p in posts if p.status == "published"]
        if served:
            message_authors = messages_reading.messageable_among(
                current,
                authors,
                blocked=reader.blocked,
                blocks_me=reader.blocks_me,
                contacts=reader.contacts,
                communities_of=view.communities_of,
            )
        else:
            message_authors = await messages_reading.messageable(session, current, authors)
    first_unread = None
    if reader.last_read is not None:
        first_unread = next(
            (p.id for p in posts if p.id > reader.last_read and p.author_id != current.id), None
        )
    context = {
        "thread": thread,
        "community": community,
        "posts": posts,
        "parents": parents,
        "attachments": attachments,
        "parts": parts,
        "recommended": reader.recommended,
        "message_authors": message_authors,
        "blocked": reader.blocked,
        "total": total,
        "page": page_number,
        "per_page": reading.POSTS_PER_PAGE,
        "first_unread": first_unread,
        "last_post_id": posts[-1].id if posts else 0,
        "live_cursor": live_cursor,
        "mode": reader.mode,
        "modes": SUBSCRIPTION_MODES,
        "can_reply": permissions.can_reply(current, community, locked=thread.locked),
        "can_recommend": permissions.can_recommend(current, community),
        "can_moderate": permissions.can_moderate(current, community),
        "is_member": permissions.can_post(current, community),
        "can_edit": lambda post: permissions.can_edit_post(
            current, community, author_id=post.author_id
        ),
        "can_remove": lambda post: permissions.can_delete_post(
            current, community, author_id=post.author_id
        ),
        "unsent": "",
    }
    context["render_post"] = ctx(request).posts.renderer(
        context | {"me": current.user}, csrf_token(request)
    )
    return context


@page
@shared_when_anonymous
async def thread_page(request: Request) -> Response:
    thread_id = request.path_params["thread_id"]
    try:
        context = await _thread_context(request, thread_id)
    except NotFound:
        # A thread merged into another sends old links (mail, bookmarks) on to it, for
        # those who may read where it went (to anyone else it stays absent).
        async with ctx(request).db.read() as session:
            into = await reading.merged_into(session, thread_id)
            if into is None:
                raise
            await reading.get_thread(session, await viewer(request), into)
        return RedirectResponse(f"/threads/{into}", status_code=301)
    reply_to = optional_id(request.query_params.get("reply_to"))
    parent = context["parents"].get(reply_to) if reply_to else None
    if reply_to and parent is None:  # a post on another page of the thread
        async with ctx(request).db.read() as session:
            parent = await reading.quotable_post(
                session, await viewer(request), thread_id, reply_to
            )
    quote = ""
    if parent is None or parent.status == "deleted":
        reply_to = None  # nothing to answer: a plain reply, not "Replying to" a missing post
    else:
        quote = "\n".join("> " + line for line in parent.body.splitlines()[:20]) + "\n\n"
    context.update({"reply_body": quote, "reply_to": reply_to, "errors": {}})
    return await render(request, "boards/thread.html", context)


@page
async def reply_action(request: Request) -> Response:
    current = await viewer(request)
    thread_id = request.path_params["thread_id"]
    body, reply_to, attached = "", None, False
    try:
        async with post_form(request) as (form, files):
            body = form_text(form, "body")
            attached = bool(files)
            reply_to = optional_id(form_text(form, "reply_to"))
            async with ctx(request).db.transaction() as session:
                thread, community = await reading.get_thread(session, current, thread_id)
                post = await service.reply(
                    session,
                    current,
                    thread,
                    community,
                    body=body,
                    reply_to=reply_to,
                    checks=post_checks(ctx(request).settings, uploads=len(files)),
                )
                await discussions.attach_to_post(
                    session, current, community, ctx(request).storage, post, files
                )
    except Archived as exc:  # archived since the page was shown: the reply is kept to copy
        if hasattr(exc, "form"):
            body = form_text(exc.form, "body")
        context = await _thread_context(request, thread_id, page_number=1)
        context.update({"reply_body": "", "reply_to": None, "errors": {}, "unsent": body})
        return await render(request, "boards/thread.html", context, status=exc.status)
    except (Invalid, Locked, Forbidden, TooLarge, UnsupportedType, RateLimited) as exc:
        if isinstance(exc, Forbidden) and (not current.signed_in or exc.code == "csrf_failed"):
            raise
        if hasattr(exc, "form"):  # an attachment refused while reading: keep the text
            body = form_text(exc.form, "body")
        context = await _thread_context(request, thread_id, page_number=1)
        context.update(
            {
                "reply_body": body,
                "reply_to": reply_to,
                "errors": exc.fields or {"body": exc.message},
            }
        )
        response = await render(request, "boards/thread.html", context, status=exc.status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except NotFound:
        return await text_lost(request, body, files=attached)
    message = (
        "Your reply is waiting for a moderator's approval." if post.status == "pending" else None
    )
    return redirect(request, f"/posts/{post.id}", message=message)


@page
async def first_unread_link(request: Request) -> Response:
    """Where the member left off in a thread: the page of the first reply they have not
    read, scrolled to it (the last post when they have read them all; the thread's start
    when they never opened it)."""
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        post = await reading.first_unread(session, current, thread, community)
        if post is None:
            return RedirectResponse(f"/threads/{thread.id}", status_code=303)
        position = await reading.position_of(session, current, post, community)
    return RedirectResponse(post_address(thread.id, position, post.id), status_code=303)


@page
async def thread_settings_action(request: Request) -> Response:
    """Moderators' pin/lock buttons."""
    current = await viewer(request)
    form = await form_data(request)
    changes = {}
    for flag in ("pinned", "locked"):
        if form_text(form, flag) in ("0", "1"):
            changes[flag] = form_text(form, flag) == "1"
    async with ctx(request).db.transaction() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        await service.update_thread(session, current, thread, community, changes)
    return redirect(request, f"/threads/{thread.id}", message="Thread updated.")


@page
async def follow_thread_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    mode = form_text(form, "mode")
    async with ctx(request).db.transaction() as session:
        thread, community = await reading.get_thread(
            session, current, request.path_params["thread_id"]
        )
        if mode == "none":
            await subscriptions.unsubscribe(session, current.id, community.id, thread.id)
            message = "You no longer follow this thread."
        else:
            await subscriptions.subscribe(session, current, community, thread=thread, mode=mode)
            message = "You follow this thread."
    return redirect(request, f"/threads/{thread.id}", message=message)


@page
async def follow_board_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    mode = form_text(form, "mode")
    async with ctx(request).db.transaction() as session:
        community = await communities.get_readable(session, current, request.path_params["slug"])
        if mode == "none":
            await subscriptions.unsubscribe(session, current.id, community.id, None)
            message = "You no longer follow this board."
        else:
            await subscriptions.subscribe(session, current, community, mode=mode)
            message = "You follow this board: new threads will reach you."
    return redirect(request, f"/c/{community.slug}", message=message)


@page
async def mark_read_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    post_id = optional_id(form_text(form, "last_post_id"))
    if post_id is None:
        raise Invalid("last_post_id is a post id.")
    async with ctx(request).db.transaction() as session:
        thread, _ = await reading.get_thread(session, current, request.path_params["thread_id"])
        await service.mark_read(session, current, thread, post_id)
    return Response(status_code=204)


routes = [
    Route("/c/{slug}", board_page),
    Route("/c/{slug}/threads/new", new_thread_page, methods=["GET", "POST"]),
    Route("/c/{slug}/subscription", follow_board_action, methods=["POST"]),
    Route("/threads/{thread_id:int}", thread_page),
    Route("/threads/{thread_id:int}/reply", reply_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/settings", thread_settings_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/subscription", follow_thread_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/read", mark_read_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/unread", first_unread_link),
    *post_pages.routes,
    *api_routes,
]
