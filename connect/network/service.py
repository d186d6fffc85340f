"""Contacts and blocks: asking to connect, answering, removing, blocking, and their lists.

A contact row joins two members whichever asked first (connect.network.models). The
addressee hears about a request on their `me` channel; the asker never learns that it
was ignored, and nobody is ever told that they were blocked.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.accounts.models import User
from connect.boards.reading import author_json
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn, RateLimited
from connect.events import Event
from connect.network.models import Block, Contact
from connect.network.relations import pair, relation
from connect.permissions import Viewer

NOTE_LIMIT = 500
# GET /me/contacts?status=...: contacts, requests to the viewer, requests by the viewer.
LISTS = ("accepted", "incoming", "outgoing")


def request_limit(settings) -> int | None:
    """Contact requests per day, or None when CONNECT_RATE_LIMITS is off."""
    return settings.contact_requests_per_day if settings.rate_limits else None


def state_for(contact: Contact, viewer_id: int) -> str:
    """accepted, incoming or outgoing, as this member sees the row (ignored looks pending)."""
    if contact.status == "accepted":
        return "accepted"
    return "outgoing" if contact.requester_id == viewer_id else "incoming"


def contact_json(contact: Contact, other: User, viewer_id: int) -> dict:
    return {
        "member": author_json(other),
        "status": state_for(contact, viewer_id),
        "note": contact.note,
        "created_at": contact.created_at.isoformat(),
        "accepted_at": contact.accepted_at.isoformat() if contact.accepted_at else None,
    }


def _signed_in(viewer: Viewer) -> None:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to manage your contacts.")


def _not_self(viewer: Viewer, other: User, what: str) -> None:
    if viewer.id == other.id:
        raise Invalid(f"You cannot {what} yourself.", fields={"username": "That is you."})


async def _row(session: AsyncSession, a: int, b: int) -> Contact | None:
    low, high = pair(a, b)
    return await session.scalar(
        select(Contact).where(Contact.low_id == low, Contact.high_id == high)
    )


# Asking and answering ---------------------------------------------------------------------


def _clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise Invalid("The note must be text.", fields={"note": "Must be text."})
    note = note.replace("\r\n", "\n").strip()
    if len(note) > NOTE_LIMIT:
        raise Invalid(
            "The note is too long.", fields={"note": f"Use at most {NOTE_LIMIT} characters."}
        )
    return note


async def request_contact(
    session: AsyncSession,
    viewer: Viewer,
    other: User,
    *,
    note=None,
    per_day: int | None = None,
) -> str:
    """Ask `other` to connect; if they had asked first, this accepts. Returns the status."""
    _signed_in(viewer)
    _not_self(viewer, other, "connect with")
    note = _clean_note(note)
    if viewer.suspended:
        raise Forbidden("Your account is suspended; you cannot send contact requests.")
    row = await _row(session, viewer.id, other.id)
    if row is not None:
        if row.status == "accepted":
            raise Conflict("You are already contacts.")
        if row.requester_id == viewer.id:
            raise Conflict("You have asked already; the request is waiting for an answer.")
        await _accept(session, viewer, row)
        return "accepted"
    found = await relation(session, viewer.id, other.id)
    if not permissions.can_request_contact(
        viewer, other, found, policy=other.profile.contact_policy
    ):
        if found.blocked_by_viewer:
            raise Forbidden("You blocked this member; unblock them first.", code="blocked")
        raise Forbidden(
            f"{other.display_name} does not accept contact requests from you.",
            code="not_accepting",
        )
    await _check_rate(session, viewer, per_day)
    low, high = pair(viewer.id, other.id)
    contact = Contact(
        requester_id=viewer.id,
        addressee_id=other.id,
        low_id=low,
        high_id=high,
        note=note,
        created_at=utcnow(),
    )
    session.add(contact)
    try:
        await session.flush()
    except IntegrityError:  # they asked at the same moment
        raise Conflict("A request between you two was just made; reload and answer it.") from None
    await events.record(
        session,
        "contact.requested",
        actor_id=viewer.id,
        audience="user",
        target_user_id=other.id,
        subject_id=contact.id,
        data={"from": author_json(viewer.user), "note": note, "url": "/network"},
    )
    return "pending"


async def _check_rate(session: AsyncSession, viewer: Viewer, per_day: int | None) -> None:
    """At most `per_day` requests in 24 hours, counted from the event log (declined ones too)."""
    if per_day is None or viewer.is_site_moderator:
        return
    now = utcnow()
    count, oldest = (
        await session.execute(
            select(func.count(Event.id), func.min(Event.created_at)).where(
                Event.type == "contact.requested",
                Event.actor_id == viewer.id,
                Event.created_at > now - timedelta(days=1),
            )
        )
    ).one()
    if count >= per_day:
        retry = int(((oldest or now) + timedelta(days=1) - now).total_seconds()) + 1
        hours = max(1, round(retry / 3600))
        raise RateLimited(
            f"You have sent {per_day} contact requests today, the most this site allows. "
            f"Try again in about {hours} hour{'s' if hours != 1 else ''}.",
            retry_after=retry,
        )


async def _accept(session: AsyncSession, viewer: Viewer, row: Contact) -> None:
    row.status = "accepted"
    row.accepted_at = utcnow()
    await events.record(
        session,
        "contact.accepted",
        actor_id=viewer.id,
        audience="user",
        target_user_id=row.requester_id,
        subject_id=row.id,
        data={"by": author_json(viewer.user), "url": f"/members/{viewer.user.username}"},
    )


async def _incoming(session: AsyncSession, viewer: Viewer, other: User) -> Contact:
    row = await _row(session, viewer.id, other.id)
    if row is None or row.requester_id != other.id:
        raise NotFound("This member has not asked to connect with you.")
    return row


async def accept_contact(session: AsyncSession, viewer: Viewer, other: User) -> Contact:
    """Accept their request (a request already accepted stays so)."""
    _signed_in(viewer)
    row = await _incoming(session, viewer, other)
    if row.status != "accepted":
        await _accept(session, viewer, row)
    return row


async def ignore_contact(session: AsyncSession, viewer: Viewer, other: User) -> Contact:
    """Put their request aside: it leaves the viewer's list, the asker still sees it pending."""
    _signed_in(viewer)
    row = await _incoming(session, viewer, other)
    if row.status == "accepted":
        raise Conflict("You are contacts already; remove the contact instead.")
    row.status = "ignored"
    return row


async def remove_contact(session: AsyncSession, viewer: Viewer, other: User) -> str:
    """Decline their request, cancel one's own, or end the contact; says which it was."""
    _signed_in(viewer)
    row = await _row(session, viewer.id, other.id)
    if row is None:
        raise NotFound("You have no contact or request with this member.")
    done = {"accepted": "removed", "incoming": "declined", "outgoing": "cancelled"}[
        state_for(row, viewer.id)
    ]
    await session.delete(row)
    if done == "removed":  # a declined or cancelled request ends without a word
        await events.record(
            session,
            "contact.removed",
            actor_id=viewer.id,
            audience="user",
            target_user_id=other.id,
            subject_id=row.id,
            data={"username": viewer.user.username},
        )
    return done


# Blocking --------------------------------------------------------------------------------


async def block(session: AsyncSession, viewer: Viewer, other: User) -> None:
    """Block `other`: no requests nor messages either way, their posts collapse for the viewer.

    Any contact or request between the two goes, silently: the blocked member is told nothing.
    """
    _signed_in(viewer)
    _not_self(viewer, other, "block")
    low, high = pair(viewer.id, other.id)
    await session.execute(delete(Contact).where(Contact.low_id == low, Contact.high_id == high))
    exists = await session.get(Block, (viewer.id, other.id))
    if exists is None:
        session.add(Block(blocker_id=viewer.id, blocked_id=other.id, created_at=utcnow()))
        try:
            await session.flush()
        except IntegrityError:  # the same block from another tab: done either way
            raise Conflict("This member is blocked already.") from None
    await _network_changed(session, viewer, other)


async def _network_changed(session: AsyncSession, viewer: Viewer, other: User) -> None:
    """For the live hub only (it reloads both members' networks); never delivered."""
    await events.record(
        session, "network.changed", actor_id=viewer.id, audience="user", target_user_id=other.id
    )


async def unblock(session: AsyncSession, viewer: Viewer, other: User) -> None:
    _signed_in(viewer)
    removed = await session.execute(
        delete(Block).where(Block.blocker_id == viewer.id, Block.blocked_id == other.id)
    )
    if removed.rowcount:
        await _network_changed(session, viewer, other)


# Lists ---------------------------------------------------------------------------------------


def _list_clause(viewer_id: int, status: str):
    if status == "accepted":
        return and_(
            Contact.status == "accepted",
            or_(Contact.requester_id == viewer_id, Contact.addressee_id == viewer_id),
        )
    if status == "incoming":
        return and_(Contact.addressee_id == viewer_id, Contact.status == "pending")
    return and_(Contact.requester_id == viewer_id, Contact.status.in_(("pending", "ignored")))


async def contacts_of(
    session: AsyncSession,
    viewer: Viewer,
    *,
    status: str = "accepted",
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[tuple[Contact, User]], int]:
    """One of the viewer's lists (LISTS): contacts by name, requests newest first."""
    _signed_in(viewer)
    if status not in LISTS:
        raise Invalid("Unknown list.", fields={"status": f"One of: {', '.join(LISTS)}."})
    other_id = case(
        (Contact.requester_id == viewer.id, Contact.addressee_id), else_=Contact.requester_id
    )
    condition = _list_clause(viewer.id, status)
    total = await session.scalar(select(func.count(Contact.id)).where(condition))
    if status == "accepted":
        order = (func.lower(User.display_name), User.id)
    else:
        order = (Contact.created_at.desc(), Contact.id.desc())
    rows = await session.execute(
        select(Contact, User)
        .join(User, User.id == other_id)
        .where(condition)
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [(c, u) for c, u in rows.unique().all()], total or 0


async def contact_ids(session: AsyncSession, user_id: int) -> set[int]:
    """The member's accepted contacts (for feeds and suggestions)."""
    rows = await session.execute(
        select(Contact.requester_id, Contact.addressee_id).where(_list_clause(user_id, "accepted"))
    )
    return {b if a == user_id else a for a, b in rows}


async def blocks_of(
    session: AsyncSession, viewer: Viewer, *, page: int = 1, per_page: int = 50
) -> tuple[list[tuple[Block, User]], int]:
    _signed_in(viewer)
    condition = Block.blocker_id == viewer.id
    total = await session.scalar(select(func.count()).select_from(Block).where(condition))
    rows = await session.execute(
        select(Block, User)
        .join(User, User.id == Block.blocked_id)
        .where(condition)
        .order_by(func.lower(User.display_name), User.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [(b, u) for b, u in rows.unique().all()], total or 0


async def blocked_either_way(session: AsyncSession, user_id: int) -> set[int]:
    """Members this one blocks or is blocked by: kept out of their feed and suggestions."""
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            or_(Block.blocker_id == user_id, Block.blocked_id == user_id)
        )
    )
    return {b if a == user_id else a for a, b in rows}
