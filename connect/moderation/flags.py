"""Flags: members report posts and library entries; enough of them hide the item for review.

A flag from a moderator, or from `flag_threshold` distinct members (a community setting,
3 by default), hides the item at once until a moderator decides. Flaggers hear the outcome.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotSignedIn
from connect.moderation import audit, notices
from connect.moderation.limits import check_not_banned, flag_threshold
from connect.moderation.models import FLAG_REASONS, Flag
from connect.permissions import Viewer

NOTE_MAX = 1000


def _clean(reason, note) -> tuple[str, str]:
    if reason not in FLAG_REASONS:
        raise Invalid(
            f"reason is one of {', '.join(FLAG_REASONS)}.",
            fields={"reason": "Choose a reason."},
        )
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > NOTE_MAX:
        raise Invalid(
            f"Use at most {NOTE_MAX} characters.",
            fields={"note": f"At most {NOTE_MAX} characters."},
        )
    if reason == "other" and not note:
        raise Invalid("Say what is wrong.", fields={"note": "Say what is wrong."})
    return reason, note


def check_can_flag(
    viewer: Viewer, community: Community, *, status: str, author_id, kind: str = "post"
) -> None:
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to flag posts.")
    if viewer.id == author_id:
        noun = "document" if kind == "entry" else "post"
        raise Forbidden(f"You cannot flag your own {noun}.")
    bar = viewer.sanction_in(community.id, "flag_bar")
    if bar is not None:
        until = bar.ends_at.strftime("%Y-%m-%d") if bar.ends_at else "further notice"
        raise Forbidden(
            f"You are barred from flagging until {until}. Reason: {bar.reason}",
            code="flag_barred",
        )
    if not permissions.can_flag(viewer, community, status=status, author_id=author_id):
        if status in ("pending", "hidden"):
            raise Conflict("A moderator is already reviewing this.")
        check_not_banned(viewer, community)  # suspended or banned: say so, and why
        raise Forbidden("You cannot flag this.")


async def flag_item(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    kind: str,
    item,
    title: str,
    reason,
    note="",
    hide,
) -> tuple[Flag, bool]:
    """Record the viewer's flag; returns it and whether the item is now hidden.

    `hide(actor_id)` hides the item (the caller knows how, for posts or entries).
    """
    check_can_flag(viewer, community, status=item.status, author_id=item.author_id, kind=kind)
    reason, note = _clean(reason, note)
    existing = await session.execute(
        select(Flag.id).where(
            Flag.item_kind == kind, Flag.item_id == item.id, Flag.user_id == viewer.id
        )
    )
    if existing.first() is not None:
        raise Conflict("You have flagged this already.")
    flag = Flag(
        community_id=community.id,
        item_kind=kind,
        item_id=item.id,
        item_author_id=item.author_id,
        user_id=viewer.id,
        reason=reason,
        note=note,
        created_at=utcnow(),
    )
    session.add(flag)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # a double click raced
        raise Conflict("You have flagged this already.") from None
    moderator = permissions.can_moderate(viewer, community)
    count = await open_count(session, kind, item.id)
    hidden = False
    if moderator or count >= flag_threshold(community):
        hidden = await hide(viewer.id if moderator else None)
    if moderator:
        await audit.record(
            session,
            viewer,
            "flag.create",
            community=community,
            target_kind=kind,
            target_id=item.id,
            target_user=item.author,
            summary=f"“{title}” ({reason}); hidden for review",
            reason=note,
        )
    elif hidden:
        await audit.record(
            session,
            None,
            f"{kind}.hide",
            community=community,
            target_kind=kind,
            target_id=item.id,
            target_user=item.author,
            summary=f"“{title}” hidden automatically after {count} flags",
            reason=f"{count} members flagged it",
        )
    await notices.changed(session, community, kind=kind, item_id=item.id, action="flagged")
    return flag, hidden


async def open_count(session: AsyncSession, kind: str, item_id: int) -> int:
    return (
        await session.execute(
            select(func.count(func.distinct(Flag.user_id))).where(
                Flag.item_kind == kind, Flag.item_id == item_id, Flag.status == "open"
            )
        )
    ).scalar()


async def resolve(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    kind: str,
    item_id: int,
    title: str,
    *,
    upheld: bool,
) -> int:
    """Close the item's open flags as upheld or dismissed and tell the flaggers."""
    rows = await session.execute(
        select(Flag.user_id).where(
            Flag.item_kind == kind, Flag.item_id == item_id, Flag.status == "open"
        )
    )
    flaggers = list(rows.scalars())
    if not flaggers:
        return 0
    await session.execute(
        update(Flag)
        .where(Flag.item_kind == kind, Flag.item_id == item_id, Flag.status == "open")
        .values(
            status="upheld" if upheld else "dismissed",
            resolved_at=utcnow(),
            resolved_by_id=viewer.id,
        )
    )
    await notices.flags_resolved(
        session,
        viewer,
        community,
        flagger_ids=flaggers,
        outcome="upheld" if upheld else "dismissed",
        kind=kind,
        item_id=item_id,
        title=title,
    )
    return len(flaggers)


async def move(session: AsyncSession, post_ids: list[int], target: Community) -> None:
    """Flags on moved posts follow them to their new community's queue."""
    if post_ids:
        await session.execute(
            update(Flag)
            .where(Flag.item_kind == "post", Flag.item_id.in_(post_ids))
            .values(community_id=target.id)
        )


async def open_flags(session: AsyncSession, items: list[tuple[str, int]]) -> dict:
    """Open flags per (kind, id), oldest first, with their flaggers loaded (one query)."""
    if not items:
        return {}
    ids_by_kind: dict[str, list[int]] = {}
    for kind, item_id in items:
        ids_by_kind.setdefault(kind, []).append(item_id)
    found: dict[tuple[str, int], list[Flag]] = {}
    for kind, ids in ids_by_kind.items():
        rows = await session.execute(
            select(Flag)
            .where(Flag.item_kind == kind, Flag.item_id.in_(ids), Flag.status == "open")
            .order_by(Flag.id)
        )
        for flag in rows.scalars().unique():
            found.setdefault((kind, flag.item_id), []).append(flag)
    return found


async def flagger_records(session: AsyncSession, user_ids: list[int]) -> dict[int, dict]:
    """How each flagger's earlier flags ended (to spot flagging in bad faith)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Flag.user_id, Flag.status, func.count(Flag.id))
        .where(Flag.user_id.in_(user_ids))
        .group_by(Flag.user_id, Flag.status)
    )
    records: dict[int, dict] = {u: {"open": 0, "upheld": 0, "dismissed": 0} for u in user_ids}
    for user_id, status, count in rows:
        records[user_id][status] = count
    return records


def flag_json(flag: Flag, record: dict | None = None) -> dict:
    return {
        "id": flag.id,
        "by": flag.user.username if flag.user else None,
        "reason": flag.reason,
        "note": flag.note,
        "created_at": flag.created_at.isoformat(),
        "flagger_record": record,
    }
