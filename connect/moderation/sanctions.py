"""Sanctions: community bans, site suspensions, "require approval" marks and flagging bars.

Each has a reason the member sees and an end date (or none: permanent). The viewer carries
those in force (`active_sanctions`, read once per request); permissions.py applies them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.accounts.models import User
from connect.communities.models import Community
from connect.communities.service import viewer_of
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound
from connect.moderation import audit, notices
from connect.moderation.models import SANCTION_KINDS, Sanction
from connect.permissions import ActiveSanction, Viewer

REASON_MAX = 1000
COMMUNITY_KINDS = ("ban", "require_approval", "flag_bar")
SITE_KINDS = ("suspension", "require_approval", "flag_bar")
KIND_WORDS = {
    "ban": "banned from posting",
    "suspension": "suspended",
    "require_approval": "required to have posts approved",
    "flag_bar": "barred from flagging",
}


async def active_sanctions(
    session: AsyncSession, user_id: int, now: datetime | None = None
) -> list[ActiveSanction]:
    """The sanctions in force on a member (one query; suspensions are on the user row)."""
    rows = await session.execute(_ACTIVE, {"user_id": user_id, "now": now or utcnow()})
    return [ActiveSanction(*row) for row in rows]


# Built once: every signed-in request asks.
_ACTIVE = select(
    Sanction.id, Sanction.kind, Sanction.community_id, Sanction.reason, Sanction.ends_at
).where(
    Sanction.user_id == bindparam("user_id"),
    Sanction.lifted_at.is_(None),
    Sanction.kind != "suspension",
    or_(Sanction.ends_at.is_(None), Sanction.ends_at > bindparam("now")),
)


def parse_until(value, *, required: bool = False) -> datetime | None:
    """An end date from JSON or a form: ISO date (end of that day, UTC) or date-time."""
    if value in (None, ""):
        if required:
            raise Invalid("Give an end date.", fields={"until": "Give an end date."})
        return None
    if not isinstance(value, str):
        raise Invalid("until is an ISO 8601 date.", fields={"until": "A date, YYYY-MM-DD."})
    try:
        if len(value) == 10:
            parsed = datetime.combine(datetime.fromisoformat(value).date(), time(23, 59, 59))
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "until is an ISO 8601 date.", fields={"until": "A date, YYYY-MM-DD."}
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed <= utcnow():
        raise Invalid("The end date is in the past.", fields={"until": "A date in the future."})
    return parsed


def clean_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("Give a reason: the member sees it.", fields={"reason": "Give a reason."})
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise Invalid(
            f"Use at most {REASON_MAX} characters.",
            fields={"reason": f"At most {REASON_MAX} characters."},
        )
    return reason


async def user_by_name(session: AsyncSession, username) -> User:
    user = (
        await session.execute(
            select(User).where(User.username == str(username).lower(), User.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("No member has that username.", fields={"username": "Unknown member."})
    return user


async def _check_target(
    session: AsyncSession, viewer: Viewer, user: User, community: Community | None
) -> None:
    if user.id == viewer.id:
        raise Forbidden("You cannot sanction yourself.")
    if user.is_site_moderator and not (viewer.is_admin and not user.is_admin):
        raise Forbidden("Site staff can only be sanctioned by a site administrator.")
    if community is not None and not user.is_site_moderator:
        target = await viewer_of(session, user)
        if permissions.can_moderate(target, community):
            raise Forbidden("Moderators cannot be sanctioned here: change their role first.")


def check_allowed(viewer: Viewer, kind: str, community: Community | None) -> None:
    if kind not in SANCTION_KINDS:
        raise Invalid(
            f"kind is one of {', '.join(SANCTION_KINDS)}.", fields={"kind": "Unknown kind."}
        )
    if community is None:
        if kind not in SITE_KINDS:
            raise Invalid("A ban is for one community.", fields={"kind": "Not site-wide."})
        if not permissions.can_suspend(viewer):
            raise Forbidden("Only site moderators can impose site-wide sanctions.")
    else:
        if kind not in COMMUNITY_KINDS:
            raise Invalid("Suspensions are site-wide.", fields={"kind": "Not per community."})
        if not permissions.can_moderate(viewer, community):
            raise Forbidden("Only this community's moderators can sanction its members.")


async def impose(
    session: AsyncSession,
    viewer: Viewer,
    *,
    kind: str,
    user: User,
    community: Community | None,
    reason,
    until: datetime | None,
) -> Sanction:
    """Impose a sanction (replacing one of the same kind in force), audited and announced."""
    check_allowed(viewer, kind, community)
    reason = clean_reason(reason)
    if kind == "suspension" and until is None:
        raise Invalid("A suspension needs an end date.", fields={"until": "Give an end date."})
    await _check_target(session, viewer, user, community)
    now = utcnow()
    before = {}
    for old in await _in_force(session, user.id, kind, community):
        before = {"reason": old.reason, "ends_at": _iso(old.ends_at)}
        old.lifted_at, old.lifted_by_id, old.lift_reason = now, viewer.id, "Replaced."
    sanction = Sanction(
        user_id=user.id,
        community_id=community.id if community else None,
        kind=kind,
        reason=reason,
        created_at=now,
        ends_at=until,
        created_by_id=viewer.id,
    )
    session.add(sanction)
    if kind == "suspension":
        user.suspended_until, user.suspension_reason = until, reason
    await session.flush()
    await session.refresh(sanction, ["user", "created_by"])
    await audit.record(
        session,
        viewer,
        f"{kind}.create",
        community=community,
        target_kind="member",
        target_id=user.id,
        target_user=user,
        summary=f"{user.username} {KIND_WORDS[kind]} until {_iso(until) or 'further notice'}",
        reason=reason,
        before=before,
        after={"ends_at": _iso(until)},
    )
    await _announce(session, viewer, sanction, user, community, "sanction.created")
    return sanction


async def lift(session: AsyncSession, viewer: Viewer, sanction: Sanction, *, reason="") -> Sanction:
    community = (
        await session.get(Community, sanction.community_id) if sanction.community_id else None
    )
    check_allowed(viewer, sanction.kind, community)
    if not sanction.active():
        raise Conflict("This sanction is no longer in force.")
    user = await session.get(User, sanction.user_id)
    sanction.lifted_at, sanction.lifted_by_id = utcnow(), viewer.id
    sanction.lift_reason = reason.strip()[:REASON_MAX] if isinstance(reason, str) else ""
    if sanction.kind == "suspension":
        user.suspended_until, user.suspension_reason = None, None
    await audit.record(
        session,
        viewer,
        f"{sanction.kind}.lift",
        community=community,
        target_kind="member",
        target_id=user.id,
        target_user=user,
        summary=f"{user.username} no longer {KIND_WORDS[sanction.kind]}",
        reason=sanction.lift_reason,
        before={"reason": sanction.reason, "ends_at": _iso(sanction.ends_at)},
    )
    await _announce(session, viewer, sanction, user, community, "sanction.lifted")
    return sanction


async def find_active(
    session: AsyncSession, user: User, kind: str, community: Community | None
) -> Sanction:
    found = await _in_force(session, user.id, kind, community)
    if not found:
        raise NotFound(f"{user.display_name} is not {KIND_WORDS.get(kind, kind)} here.")
    return found[0]


async def get_sanction(session: AsyncSession, viewer: Viewer, sanction_id: int) -> Sanction:
    """A sanction by id, for those who may lift it (else NotFound)."""
    sanction = await session.get(Sanction, sanction_id)
    if sanction is None:
        raise NotFound("There is no such sanction.")
    community = (
        await session.get(Community, sanction.community_id) if sanction.community_id else None
    )
    allowed = (
        permissions.can_moderate(viewer, community)
        if community
        else permissions.can_suspend(viewer)
    )
    if not allowed:
        raise NotFound("There is no such sanction.")
    return sanction


async def _in_force(
    session: AsyncSession, user_id: int, kind: str, community: Community | None
) -> list[Sanction]:
    rows = await session.execute(
        select(Sanction).where(
            Sanction.user_id == user_id,
            Sanction.kind == kind,
            Sanction.community_id == community.id if community else Sanction.community_id.is_(None),
            Sanction.lifted_at.is_(None),
            or_(Sanction.ends_at.is_(None), Sanction.ends_at > utcnow()),
        )
    )
    return list(rows.scalars().unique())


async def list_sanctions(
    session: AsyncSession,
    viewer: Viewer,
    *,
    community: Community | None = None,
    user_ids: list[int] | None = None,
    in_force_only: bool = True,
    page: int = 1,
    per_page: int = 200,
) -> tuple[list[Sanction], int]:
    """A page of the sanctions in a community (its moderators) or site-wide ones (site
    moderators), newest first, and how many there are in all."""
    if community is not None and not permissions.can_moderate(viewer, community):
        raise Forbidden("Only this community's moderators can see its sanctions.")
    if community is None and not permissions.can_suspend(viewer):
        raise Forbidden("Only site moderators can see site-wide sanctions.")
    query = select(Sanction).where(
        Sanction.community_id == community.id if community else Sanction.community_id.is_(None)
    )
    if user_ids is not None:
        query = query.where(Sanction.user_id.in_(user_ids))
    if in_force_only:
        query = query.where(
            Sanction.lifted_at.is_(None),
            or_(Sanction.ends_at.is_(None), Sanction.ends_at > utcnow()),
        )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
    rows = await session.execute(
        query.order_by(Sanction.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows.scalars().unique()), total


async def standing_of(session: AsyncSession, user: User) -> list[tuple[Sanction, Community | None]]:
    """A member's own sanctions in force, for them to read (reason and end date)."""
    rows = await session.execute(
        select(Sanction, Community)
        .outerjoin(Community, Community.id == Sanction.community_id)
        .where(
            Sanction.user_id == user.id,
            Sanction.lifted_at.is_(None),
            or_(Sanction.ends_at.is_(None), Sanction.ends_at > utcnow()),
        )
        .order_by(Sanction.id.desc())
    )
    return [(s, c) for s, c in rows.unique().all()]


def sanction_json(sanction: Sanction, community: Community | None = None) -> dict:
    return {
        "id": sanction.id,
        "kind": sanction.kind,
        "username": sanction.user.username if sanction.user else None,
        "community": community.slug if community else None,
        "reason": sanction.reason,
        "created_at": sanction.created_at.isoformat(),
        "until": _iso(sanction.ends_at),
        "by": sanction.created_by.username if sanction.created_by else None,
        "active": sanction.active(),
        "lifted_at": _iso(sanction.lifted_at),
    }


def describe(kind: str, community_name: str | None, ends_at: datetime | None, reason: str) -> str:
    """The sentence a member reads about their own sanction."""
    where = f" in {community_name}" if community_name else ""
    until = f" until {ends_at.strftime('%Y-%m-%d %H:%M UTC')}" if ends_at else " permanently"
    return f"You are {KIND_WORDS[kind]}{where}{until}. Reason: {reason}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _announce(
    session: AsyncSession,
    viewer: Viewer,
    sanction: Sanction,
    user: User,
    community: Community | None,
    type: str,
) -> None:
    data = {
        "id": sanction.id,
        "kind": sanction.kind,
        "community": community.slug if community else None,
        "community_name": community.name if community else None,
        "reason": sanction.reason,
        "until": _iso(sanction.ends_at),
        "lift_reason": sanction.lift_reason,
    }
    await events.record(
        session,
        type,
        actor_id=viewer.id,
        community_id=community.id if community else None,
        audience="user",
        target_user_id=user.id,
        subject_id=sanction.id,
        data=data,
    )
    if sanction.kind == "suspension":
        await events.record(
            session,
            "member.suspended",
            actor_id=viewer.id,
            target_user_id=user.id,
            subject_id=user.id,
            audience="user",
            data={"username": user.username, "until": _iso(user.suspended_until)},
        )
    if community is not None:
        await notices.changed(session, community, kind="sanction", item_id=sanction.id, action=type)
