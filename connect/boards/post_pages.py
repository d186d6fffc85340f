"""Pages for one post: its address, live fragment, edit form, removal, history and
recommendations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connect import markup, permissions
from connect.boards import reading, service
from connect.communities.archive import Archived
from connect.communities.routes import archived_page
from connect.errors import Forbidden, Invalid, NotFound
from connect.library import reading as library_reading
from connect.messages import reading as messages_reading
from connect.network.relations import blocked_ids
from connect.web import ctx, form_data, form_text, page, redirect, render, viewer


def post_address(thread_id: int, position: int, post_id: int) -> str:
    """The thread page a post is on (`position` posts before it), scrolled to it."""
    page_number = position // reading.POSTS_PER_PAGE + 1
    suffix = f"?page={page_number}" if page_number > 1 else ""
    return f"/threads/{thread_id}{suffix}#post-{post_id}"


async def text_lost(
    request: Request, body: str, *, files: bool = False, editing: bool = False
) -> Response:
    """The thread or post went away (removed, hidden) while a reply or an edit was typed: a
    404 that still shows the typed text, to copy. Worded alike whether it ever existed."""
    context = {"body": body, "files": files, "editing": editing}
    return await render(request, "boards/text_lost.html", context, status=404)


@page
async def post_link(request: Request) -> Response:
    """A post's permanent address: the thread page it is on, scrolled to it (to its
    "removed" placeholder once it is removed)."""
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"], removed=True
        )
        position = await reading.position_of(session, current, post, community)
    return RedirectResponse(post_address(thread.id, position, post.id), status_code=303)


@page
async def post_fragment(request: Request) -> Response:
    """One post rendered as on the thread page, for live updates to insert in place (a
    removed one as its placeholder)."""
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"], removed=True
        )
        parents = await reading.parents_of(session, current, community, [post])
        mine = await reading.recommended_by(session, current, [post])
        message_authors = await messages_reading.messageable(session, current, [post.author])
        blocked = await blocked_ids(session, current.id) if current.signed_in else set()
        attachments = await library_reading.attachments_by_post(session, current, community, [post])
        position = await reading.position_of(session, current, post, community)
    return await render(
        request,
        "boards/post_fragment.html",
        {
            "post": post,
            "thread": thread,
            "community": community,
            "parents": parents,
            "attachments": attachments,
            "page": position // reading.POSTS_PER_PAGE + 1,  # the page it is on, for its links
            "recommended": mine,
            "message_authors": message_authors,
            "blocked": blocked,
            "can_reply": permissions.can_reply(current, community, locked=thread.locked),
            "can_recommend": permissions.can_recommend(current, community),
            "can_edit": lambda p: permissions.can_edit_post(
                current, community, author_id=p.author_id
            ),
            "can_remove": lambda p: permissions.can_delete_post(
                current, community, author_id=p.author_id
            ),
        },
    )


@page
async def edit_post_page(request: Request) -> Response:
    """Edit a post; the first post's page also retitles the thread, for its author and the
    community's moderators."""
    current = await viewer(request)
    post_id = request.path_params["post_id"]
    form = await form_data(request) if request.method == "POST" else None
    typed = form_text(form, "body") if form is not None else None
    try:
        async with ctx(request).db.read() as session:
            post, thread, community = await reading.get_post(session, current, post_id)
    except NotFound:
        if typed is None:
            raise
        return await text_lost(request, typed, editing=True)
    if permissions.is_archived(community):
        return await archived_page(
            request,
            community,
            heading="Edit a post",
            back=f"/posts/{post.id}",
            back_label="To the post",
            unsent=typed or "",
            label="Your changes (not saved)",
        )
    if not permissions.can_edit_post(current, community, author_id=post.author_id):
        raise Forbidden("You can only edit your own posts.")
    retitles = post.id == thread.first_post_id and (
        current.id == thread.author_id or permissions.can_moderate(current, community)
    )
    body, title, errors, status = post.body, thread.title, {}, 200
    if typed is not None:
        body = typed
        if retitles and "title" in form:
            title = form_text(form, "title")
        try:
            # Fresh names, as in new_thread_page: a rollback expires what the transaction loaded.
            async with ctx(request).db.transaction() as session:
                target, target_thread, target_community = await reading.get_post(
                    session, current, post_id
                )
                if retitles and title != target_thread.title:
                    await service.update_thread(
                        session, current, target_thread, target_community, {"title": title}
                    )
                await service.edit_post(session, current, target, target_community, body=body)
        except Archived:  # archived between the read above and the write
            return await archived_page(
                request,
                community,
                heading="Edit a post",
                back=f"/posts/{post_id}",
                back_label="To the post",
                unsent=body,
                label="Your changes (not saved)",
            )
        except Invalid as exc:
            errors, status = exc.fields, exc.status
        except NotFound:
            return await text_lost(request, body, editing=True)
        else:
            return redirect(request, f"/posts/{post_id}", message="Your changes are saved.")
    return await render(
        request,
        "boards/edit_post.html",
        {
            "post": post,
            "thread": thread,
            "community": community,
            "body": body,
            "title": title if retitles else None,
            "errors": errors,
        },
        status=status,
    )


@page
async def delete_post_action(request: Request) -> Response:
    current = await viewer(request)
    await form_data(request)
    async with ctx(request).db.transaction() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        await service.delete_post(session, current, post, thread, community)
    if post.id == thread.first_post_id:
        return redirect(request, f"/c/{community.slug}", message="The thread is removed.")
    return redirect(request, f"/threads/{thread.id}", message="The post is removed.")


@page
async def history_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        revisions = await reading.revisions(session, post)
    return await render(
        request,
        "boards/history.html",
        {
            "post": post,
            "thread": thread,
            "community": community,
            "revisions": [(r, markup.render(r.body)) for r in revisions],
        },
    )


@page
async def recommend_action(request: Request) -> Response:
    current = await viewer(request)
    form = await form_data(request)
    async with ctx(request).db.transaction() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        await service.recommend(session, current, post, community, on=form_text(form, "on") == "1")
    return redirect(request, f"/posts/{post.id}")


@page
async def recommenders_page(request: Request) -> Response:
    current = await viewer(request)
    async with ctx(request).db.read() as session:
        post, thread, community = await reading.get_post(
            session, current, request.path_params["post_id"]
        )
        people = await reading.recommenders(session, post)
    return await render(
        request,
        "boards/recommenders.html",
        {"post": post, "thread": thread, "community": community, "people": people},
    )


routes = [
    Route("/posts/{post_id:int}", post_link),
    Route("/posts/{post_id:int}/fragment", post_fragment),
    Route("/posts/{post_id:int}/edit", edit_post_page, methods=["GET", "POST"]),
    Route("/posts/{post_id:int}/delete", delete_post_action, methods=["POST"]),
    Route("/posts/{post_id:int}/history", history_page),
    Route("/posts/{post_id:int}/recommend", recommend_action, methods=["POST"]),
    Route("/posts/{post_id:int}/recommendations", recommenders_page),
]
