"""Pages for the professional network: My network, the contact and block buttons, the feeds.

The JSON API lives in connect.network.api; `routes` here holds both. The profile page
and the home page (owned by connect.members and connect.app) ask `profile_extras` and
`home_extras` for what the network adds to them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connect import events, permissions
from connect.accounts.models import User
from connect.accounts.routes import safe_next
from connect.members.service import get_member
from connect.network import feeds, service
from connect.network.api import routes as api_routes
from connect.network.completeness import completeness
from connect.network.relations import relation
from connect.network.suggestions import suggestions
from connect.permissions import Viewer
from connect.web import ctx, form_data, form_text, page, page_params, redirect, render, viewer

# What the network adds to other pages ------------------------------------------------------


async def profile_extras(session, current: Viewer, user: User, *, page: int = 1) -> dict:
    """For a profile page: the viewer's standing with the member, their activity, and (for
    the owner only) how complete the profile is."""
    standing, can_connect = None, False
    if current.signed_in and current.id != user.id:
        standing = await relation(session, current.id, user.id)
        can_connect = permissions.can_request_contact(
            current, user, standing, policy=user.profile.contact_policy
        )
    activity, activity_total = await feeds.profile_activity(session, current, user, page=page)
    own = current.signed_in and current.id == user.id
    return {
        "standing": standing,
        "can_connect": can_connect,
        "activity": activity,
        "activity_total": activity_total,
        "activity_page": page,
        "activity_per_page": feeds.PER_PAGE,
        "completeness": await completeness(session, user) if own else None,
    }


async def home_extras(session, current: Viewer, *, page: int = 1, count: bool = True) -> dict:
    """For the home page: the feed "From your network and communities" (live: `feed.item`).
    The home page shows no page count, so it asks for `count=False`."""
    if not current.signed_in:
        return {"feed": [], "feed_total": 0}
    items, total = await feeds.home_feed(session, current, page=page, count=count)
    return {
        "feed": items,
        "feed_total": total,
        "feed_page": page,
        "feed_per_page": feeds.PER_PAGE,
        "live_cursor": await events.latest_id(session),
    }


# My network ------------------------------------------------------------------------------------

SHOWN = 100  # of each list on the page; the API pages through all of them


@page
async def network_page(request: Request) -> Response:
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/network")
    async with ctx(request).db.read() as session:
        lists = {
            status: await service.contacts_of(session, current, status=status, per_page=SHOWN)
            for status in service.LISTS
        }
        blocked = await service.blocks_of(session, current, per_page=SHOWN)
        people = await suggestions(session, current)
    return await render(
        request,
        "network/network.html",
        {
            # (rows, total) pairs: the page shows the first SHOWN of each list.
            "contacts": lists["accepted"],
            "incoming": lists["incoming"],
            "outgoing": lists["outgoing"],
            "blocked": blocked,
            "suggestions": people,
        },
    )


async def _act(request: Request, verb) -> Response:
    """Run one contact or block verb from a form, then go back where the form was.

    `verb` answers the message to flash, in which {name} is the other member's name.
    """
    current = await viewer(request)
    form = await form_data(request)
    if not current.signed_in:
        return redirect(request, f"/login?next={request.url.path}")
    async with ctx(request).db.transaction() as session:
        other = await get_member(session, request.path_params["username"])
        message = await verb(session, current, other, form)
    text = message.format(name=other.display_name)
    return redirect(request, safe_next(form_text(form, "next") or "/network"), message=text)


@page
async def request_action(request: Request) -> Response:
    async def verb(session, current, other, form):
        status = await service.request_contact(
            session,
            current,
            other,
            note=form_text(form, "note"),
            per_day=service.request_limit(ctx(request).settings),
        )
        if status == "accepted":
            return "{name} had asked you already: you are now contacts."
        return "Your request is sent to {name}."

    return await _act(request, verb)


@page
async def remove_action(request: Request) -> Response:
    async def verb(session, current, other, form):
        done = await service.remove_contact(session, current, other)
        return {
            "declined": "You declined the request from {name}.",
            "cancelled": "You cancelled your request to {name}.",
            "removed": "{name} is no longer one of your contacts.",
        }[done]

    return await _act(request, verb)


def _simple_action(do, message: str):
    """A contact or block form whose service call has one outcome, told as `message`."""

    @page
    async def action(request: Request) -> Response:
        async def verb(session, current, other, form):
            await do(session, current, other)
            return message

        return await _act(request, verb)

    return action


accept_action = _simple_action(service.accept_contact, "You and {name} are now contacts.")
ignore_action = _simple_action(
    service.ignore_contact, "The request from {name} is set aside; they are not told."
)
block_action = _simple_action(service.block, "You blocked {name}. They are not told.")
unblock_action = _simple_action(service.unblock, "You unblocked {name}.")


# The home feed, live ----------------------------------------------------------------------------


@page
async def feed_fragment(request: Request) -> Response:
    """The newest home-feed items as list items, for live updates to insert at the top."""
    current = await viewer(request)
    if not current.signed_in:
        return Response(status_code=204)
    async with ctx(request).db.read() as session:
        items, _ = await feeds.home_feed(session, current, count=False)
    return await render(request, "network/_feed_fragment.html", {"items": items})


@page
async def feed_page(request: Request) -> Response:
    """Later pages of the home feed (the home page shows the first)."""
    current = await viewer(request)
    if not current.signed_in:
        return redirect(request, "/login?next=/feed")
    page_number, _ = page_params(request)
    async with ctx(request).db.read() as session:
        extras = await home_extras(session, current, page=page_number)
    return await render(request, "network/feed.html", extras)


routes = [
    Route("/network", network_page),
    Route("/network/contacts/{username}/request", request_action, methods=["POST"]),
    Route("/network/contacts/{username}/accept", accept_action, methods=["POST"]),
    Route("/network/contacts/{username}/ignore", ignore_action, methods=["POST"]),
    Route("/network/contacts/{username}/remove", remove_action, methods=["POST"]),
    Route("/network/blocks/{username}", block_action, methods=["POST"]),
    Route("/network/blocks/{username}/remove", unblock_action, methods=["POST"]),
    Route("/feed", feed_page),
    Route("/feed/fragment", feed_fragment),
    *api_routes,
]
