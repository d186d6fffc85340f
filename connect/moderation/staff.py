"""Site staff: who are the site's administrators and moderators, and appointing them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.accounts.models import User
from connect.errors import Conflict, Forbidden, Invalid
from connect.moderation import audit
from connect.moderation.content import clean_reason
from connect.permissions import Viewer

SITE_ROLES = ("member", "moderator", "admin")
ROLE_WORDS = {
    "member": "Member (no site role)",
    "moderator": "Site moderator: moderates every community, sanctions members site-wide",
    "admin": "Administrator: everything a site moderator does, plus limits and staff",
}


async def list_staff(session: AsyncSession) -> list[User]:
    """The site's administrators, then its moderators, by username."""
    rows = await session.execute(
        select(User)
        .where(User.site_role.in_(("admin", "moderator")))
        .order_by(User.site_role, User.username)
    )
    return list(rows.scalars().unique())


async def set_site_role(
    session: AsyncSession, viewer: Viewer, user: User, role, *, reason=""
) -> User:
    """Appoint `user` to `role` (administrators only); the site always keeps an administrator."""
    if not permissions.can_set_site_role(viewer):
        raise Forbidden("Only site administrators can appoint site staff.")
    if role not in SITE_ROLES:
        raise Invalid(
            f"Choose one of: {', '.join(SITE_ROLES)}.",
            fields={"role": f"One of: {', '.join(SITE_ROLES)}."},
        )
    reason = clean_reason(reason)
    before = user.site_role
    if role == before:
        return user
    if before == "admin":
        admins = await session.scalar(select(func.count(User.id)).where(User.site_role == "admin"))
        if admins <= 1:
            raise Conflict(
                "The site needs an administrator: appoint another before this one steps down.",
                fields={"role": "The last administrator stays one."},
            )
    user.site_role = role
    await audit.record(
        session,
        viewer,
        "site.role",
        target_kind="member",
        target_id=user.id,
        target_user=user,
        summary=f"{before} → {role}",
        reason=reason,
        before={"site_role": before},
        after={"site_role": role},
    )
    await events.record(
        session,
        "member.site_role_changed",
        actor_id=viewer.id,
        target_user_id=user.id,
        subject_id=user.id,
        audience="user",
        data={"username": user.username, "site_role": role},
    )
    return user
