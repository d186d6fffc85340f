"""Moderation pages next to the content: flagging a post or a document, hiding and restoring, the
thread tools (move, merge, split) and a community's sanctions tab."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connect import permissions
from connect.boards import reading
from connect.boards.models import Thread
from connect.communities import service as communities
from connect.communities.routes import community_page
from connect.errors import Conflict, Forbidden, Invalid, NotFound
from connect.library import reading as library_reading
from connect.moderation import content, flags, queue, sanctions, threads
from connect.moderation.models import FLAG_REASONS
from connect.web import ctx, form_data, form_text, optional_id, page, redirect, render, viewer

REASON_LABELS = {
    "spam": "Spam or advertising",
    "abuse": "Abusive, harassing or hateful",
    "off_topic": "Off topic for this community",
    "other": "Something else (say what)",
}


def _back(form, default: str) -> str:
    value = form_text(form, "back")
    return value if value.startswith("/") and not value.startswith(("//", "/\\")) else default


# Flags -----------------------------------------------------------------------------------


@page
async def flag_page(request: Request) -> Response:
    post_id = request.path_params["post_id"]

    async def load(session, current):
        post, thread, community = await reading.get_post(session, current, post_id)
        subject = {
            "what": "post",
            "crumbs": [(f"/threads/{thread.id}", thread.title)],
            "author": post.author,
            "text": post.body,
            "back": f"/threads/{thread.id}",
            "back_if_hidden": f"/threads/{thread.id}",  # a placeholder shows where it was
        }
        return post, community, subject

    async def flag(session, current, post, community, **values):
        thread = await session.get(Thread, post.thread_id)
        return await content.flag_post(session, current, post, thread, community, **values)

    return await _flag_form(request, f"/posts/{post_id}/flag", load, flag)


@page
async def flag_entry_page(request: Request) -> Response:
    entry_id = request.path_params["entry_id"]

    async def load(session, current):
        entry, community = await library_reading.get_entry(session, current, entry_id)
        url = f"/c/{community.slug}/library/{entry.id}"
        subject = {
            "what": "document",
            "crumbs": [(f"/c/{community.slug}/library", "Library"), (url, entry.title)],
            "author": entry.author,
            "text": entry.title + (": " + entry.description if entry.description else ""),
            "back": url,
            "back_if_hidden": f"/c/{community.slug}/library",
        }
        return entry, community, subject

    async def flag(session, current, entry, community, **values):
        return await content.flag_entry(session, current, entry, community, **values)

    return await _flag_form(request, f"/library/entries/{entry_id}/flag", load, flag, "entry")


async def _flag_form(request: Request, here: str, load, flag, kind: str = "post") -> Response:
    """The flag form for a post or a library entry: `load` finds the item the viewer may
    see, `flag` records the flag (and hides the item when the threshold is reached)."""
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, f"/login?next={here}")
    form = await form_data(request) if request.method == "POST" else None
    async with ctx(request).db.read() as session:
        item, community, subject = await load(session, current)
    flags.check_can_flag(
        current, community, status=item.status, author_id=item.author_id, kind=kind
    )
    values, errors, status = {"reason": "", "note": ""}, {}, 200
    if form is not None:
        values = {"reason": form_text(form, "reason"), "note": form_text(form, "note")}
        try:
            async with ctx(request).db.transaction() as session:
                target, target_community, _ = await load(session, current)
                _, hidden = await flag(session, current, target, target_community, **values)
        except (Invalid, Conflict) as exc:
            errors, status = exc.fields or {"reason": exc.message}, exc.status
        else:
            if not hidden:
                message = "Thank you: the moderators will look at it."
                return redirect(request, subject["back"], message=message)
            message = f"Thank you: the {subject['what']} is hidden until a moderator reviews it."
            return redirect(request, subject["back_if_hidden"], message=message)
    return await render(
        request,
        "moderation/flag.html",
        {
            "subject": subject,
            "community": community,
            "values": values,
            "errors": errors,
            "reasons": [(r, REASON_LABELS[r]) for r in FLAG_REASONS],
        },
        status=status,
    )


# Hide and restore --------------------------------------------------------------------------


async def _visibility(request: Request, action, done: str) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    post_id = request.path_params["post_id"]
    async with ctx(request).db.read() as session:
        _, thread, _ = await reading.get_post(session, current, post_id)
    back = _back(form, f"/threads/{thread.id}/moderate")
    try:
        async with ctx(request).db.transaction() as session:
            post, thread, community = await reading.get_post(session, current, post_id)
            await action(
                session, current, post, thread, community, reason=form_text(form, "reason")
            )
    except (Invalid, Conflict) as exc:
        return redirect(request, back, message=exc.message)
    return redirect(request, back, message=done)


@page
async def hide_action(request: Request) -> Response:
    return await _visibility(request, content.hide_post, "The post is hidden.")


@page
async def restore_action(request: Request) -> Response:
    return await _visibility(request, content.restore_post, "The post is restored.")


# Thread tools -------------------------------------------------------------------------------


async def _tools_context(request: Request, current, thread_id: int) -> dict:
    async with ctx(request).db.read() as session:
        thread, community = await reading.get_thread(session, current, thread_id)
        if not permissions.can_moderate(current, community):
            raise Forbidden("Only this community's moderators can use the thread tools.")
        posts, total, _ = await reading.thread_posts(
            session, current, thread, community, per_page=100
        )
        moderated = await queue.moderated_communities(session, current)
        targets = [c for c in moderated if c.id != community.id]
    return {
        "thread": thread,
        "community": community,
        "posts": posts,
        "total": total,
        "targets": targets,
        "values": {},
        "errors": {},
    }


@page
async def tools_page(request: Request) -> Response:
    current = await viewer(request)
    thread_id = request.path_params["thread_id"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/threads/{thread_id}/moderate")
    context = await _tools_context(request, current, thread_id)
    return await render(request, "moderation/thread.html", context)


async def _thread_tool(request: Request, tool: str, act) -> Response:
    """Run one of the thread tools (move, merge, split); refused, the page comes back with
    the reason and what was typed, in that tool's form only."""
    current = await viewer(request)
    form = await form_data(request)
    thread_id = request.path_params["thread_id"]
    try:
        async with ctx(request).db.transaction() as session:
            thread, community = await reading.get_thread(session, current, thread_id)
            url, message = await act(session, current, thread, community, form)
    except (Invalid, Conflict) as exc:
        context = await _tools_context(request, current, thread_id)
        context.update(errors=exc.fields or {"form": exc.message}, values={tool: dict(form)})
        return await render(request, "moderation/thread.html", context, status=exc.status)
    return redirect(request, url, message=message)


@page
async def move_action(request: Request) -> Response:
    async def act(session, current, thread, community, form):
        target = await communities.get_visible(session, current, form_text(form, "community"))
        reason = form_text(form, "reason")
        await threads.move_thread(session, current, thread, community, target, reason=reason)
        return f"/threads/{thread.id}", f"The thread is now in {target.name}."

    return await _thread_tool(request, "move", act)


_THREAD_PATH = re.compile(r"/?(?:threads/)?([0-9]+)/?")


def _thread_number(request: Request, typed: str) -> int:
    """The thread a merge form names: its number, or this site's address of it
    (`/threads/7`, `/threads/7/`, `http://host/threads/7#post-1`); 0 for a number no
    thread can have."""
    parts = urlsplit(typed.strip())
    hosts = {urlsplit(ctx(request).settings.base_url).netloc, request.headers.get("host", "")}
    match = _THREAD_PATH.fullmatch(parts.path)
    if match is None or (parts.netloc and parts.netloc not in hosts):
        message = "Give the thread's number or its address on this site, like /threads/7."
        raise Invalid(message, fields={"into": message})
    return optional_id(match.group(1)) or 0


@page
async def merge_action(request: Request) -> Response:
    async def act(session, current, thread, community, form):
        content.require_moderator(current, community)
        number = _thread_number(request, form_text(form, "into"))
        into = await threads.thread_in_community(session, number, community)
        reason = form_text(form, "reason")
        await threads.merge_threads(session, current, thread, into, community, reason=reason)
        return f"/threads/{into.id}", "The threads are merged."

    return await _thread_tool(request, "merge", act)


@page
async def split_action(request: Request) -> Response:
    async def act(session, current, thread, community, form):
        ids = [int(v) for v in form.getlist("post_id") if str(v).isdigit()]
        new = await threads.split_thread(
            session,
            current,
            thread,
            community,
            post_ids=ids,
            title=form_text(form, "title"),
            reason=form_text(form, "reason"),
        )
        return f"/threads/{new.id}", "The replies are a thread of their own now."

    return await _thread_tool(request, "split", act)


# A community's sanctions ------------------------------------------------------------------


@page
async def community_sanctions_page(request: Request) -> Response:
    current = await viewer(request)
    slug = request.path_params["slug"]
    if not current.signed_in:
        return redirect(request, f"/login?next=/c/{slug}/sanctions")
    values = {"username": request.query_params.get("username", ""), "kind": "ban"}
    errors, status = {}, 200
    if request.method == "POST":
        form = await form_data(request)
        values = {k: form_text(form, k) for k in ("username", "kind", "reason", "until")}
        try:
            async with ctx(request).db.transaction() as session:
                community = await communities.get_visible(session, current, slug)
                user = await sanctions.user_by_name(session, values["username"])
                await sanctions.impose(
                    session,
                    current,
                    kind=values["kind"],
                    user=user,
                    community=community,
                    reason=values["reason"],
                    until=sanctions.parse_until(values["until"]),
                )
        except (Invalid, NotFound, Forbidden) as exc:  # the form again, with the reason
            errors, status = exc.fields or {"username": exc.message}, exc.status
        else:
            return redirect(request, f"/c/{slug}/sanctions", message="The sanction is in force.")

    async def extra(session, current, community):
        if not permissions.can_moderate(current, community):
            raise Forbidden("Only this community's moderators can see its sanctions.")
        return {
            "sanctions": (await sanctions.list_sanctions(session, current, community=community))[0],
            "values": values,
            "errors": errors,
            "kinds": [(k, sanctions.KIND_WORDS[k].capitalize()) for k in sanctions.COMMUNITY_KINDS],
        }

    response = await community_page(
        request, "moderation/community_sanctions.html", "sanctions", extra
    )
    response.status_code = status
    return response


routes = [
    Route("/posts/{post_id:int}/flag", flag_page, methods=["GET", "POST"]),
    Route("/library/entries/{entry_id:int}/flag", flag_entry_page, methods=["GET", "POST"]),
    Route("/posts/{post_id:int}/hide", hide_action, methods=["POST"]),
    Route("/posts/{post_id:int}/restore", restore_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/moderate", tools_page),
    Route("/threads/{thread_id:int}/move", move_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/merge", merge_action, methods=["POST"]),
    Route("/threads/{thread_id:int}/split", split_action, methods=["POST"]),
    Route("/c/{slug}/sanctions", community_sanctions_page, methods=["GET", "POST"]),
]
