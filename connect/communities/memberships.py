"""Memberships: joining, leaving, join requests, invitations, roles and removal."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, permissions
from connect.accounts.models import User
from connect.communities.archive import Archived, check_not_archived
from connect.communities.models import ROLES, Community, Membership
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn
from connect.moderation import audit, limits
from connect.permissions import Viewer


async def _membership(
    session: AsyncSession, community: Community, user_id: int
) -> Membership | None:
    return (
        await session.execute(
            select(Membership).where(
                Membership.community_id == community.id, Membership.user_id == user_id
            )
        )
    ).scalar_one_or_none()


async def _recount(session: AsyncSession, community: Community) -> None:
    count = (
        await session.execute(
            select(func.count(Membership.id)).where(
                Membership.community_id == community.id, Membership.status == "active"
            )
        )
    ).scalar()
    await session.execute(
        update(Community).where(Community.id == community.id).values(member_count=count)
    )
    community.member_count = count


async def _joined(session, viewer_id, community, user_id, role) -> None:
    await _recount(session, community)
    await events.record(
        session,
        "member.joined",
        actor_id=viewer_id,
        community_id=community.id,
        audience="members",
        target_user_id=user_id,
        subject_id=user_id,
        data={"community": community.slug, "role": role},
    )


async def join(session: AsyncSession, viewer: Viewer, community: Community) -> str:
    """Join an open community, ask to join a closed one, or accept an invitation."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in to join communities.")
    if viewer.role_in(community):
        return "member"
    if viewer.suspended:
        raise Forbidden("Your account is suspended; you cannot join communities.")
    limits.check_not_banned(viewer, community)
    existing = await _membership(session, community, viewer.id)
    if community.visibility == "private" and (existing is None or existing.status != "invited"):
        raise NotFound("There is no community at this address.")
    check_not_archived(community)  # no joins, requests or accepted invitations
    if existing is not None and existing.status == "pending" and community.visibility == "closed":
        return "pending"  # (a request left from when an open community was closed: joins)
    if community.visibility == "closed" and existing is None:
        session.add(
            Membership(
                community_id=community.id,
                user_id=viewer.id,
                role="member",
                status="pending",
                created_at=utcnow(),
            )
        )
        await events.record(
            session,
            "membership.requested",
            actor_id=viewer.id,
            community_id=community.id,
            audience="moderators",
            subject_id=viewer.id,
            data={"community": community.slug, "username": viewer.user.username},
        )
        return "pending"
    if existing is None:
        existing = Membership(community_id=community.id, user_id=viewer.id, created_at=utcnow())
        session.add(existing)
    existing.status = "active"
    existing.role = existing.role or "member"
    await session.flush()
    await _joined(session, viewer.id, community, viewer.id, existing.role)
    return "member"


async def accept_pending(session: AsyncSession, viewer: Viewer, community: Community) -> int:
    """Let in everyone who asked to join: the community has just become open. Their count."""
    rows = await session.execute(
        select(Membership).where(
            Membership.community_id == community.id, Membership.status == "pending"
        )
    )
    pending = list(rows.scalars().unique())
    for m in pending:
        await audit.record(
            session,
            viewer,
            "member.approve",
            community=community,
            target_kind="member",
            target_id=m.user_id,
            target_user=m.user,
            summary=f"{m.user.username} as member, as the community became open",
            before={"role": None, "status": "pending"},
            after={"role": "member", "status": "active"},
        )
        m.role, m.status = "member", "active"
    await session.flush()
    for m in pending:
        await _joined(session, viewer.id, community, m.user_id, "member")
    return len(pending)


async def leave(session: AsyncSession, viewer: Viewer, community: Community) -> str | None:
    """Leave, cancel a join request, or decline an invitation; returns which it was (the
    membership's status before: active, pending or invited), None if there was nothing."""
    if not viewer.signed_in:
        raise NotSignedIn("Sign in first.")
    existing = await _membership(session, community, viewer.id)
    if existing is None:
        return None
    if existing.status == "active" and existing.role == "owner":
        owners = (
            await session.execute(
                select(func.count(Membership.id)).where(
                    Membership.community_id == community.id,
                    Membership.role == "owner",
                    Membership.status == "active",
                )
            )
        ).scalar()
        if owners <= 1:
            raise Conflict("You are this community's only owner: make someone else owner first.")
    was = existing.status
    was_active = was == "active"
    await session.delete(existing)
    await session.flush()
    if was_active:
        await _recount(session, community)
        await events.record(
            session,
            "member.left",
            actor_id=viewer.id,
            community_id=community.id,
            audience="members",
            target_user_id=viewer.id,
            subject_id=viewer.id,
            data={"community": community.slug},
        )
    return was


async def _user_by_name(session: AsyncSession, username: str) -> User:
    user = (
        await session.execute(
            select(User).where(User.username == str(username).lower(), User.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("No member has that username.")
    return user


async def set_role(
    session: AsyncSession, viewer: Viewer, community: Community, username: str, role: str
) -> Membership:
    """Set a member's role at once: approves a request, adds a member, or promotes/demotes."""
    if role not in ROLES:
        raise Invalid(f"Choose a role: {', '.join(ROLES)}.", fields={"role": "Unknown role."})
    user = await _user_by_name(session, username)
    existing = await _membership(session, community, user.id)
    current = existing.role if existing and existing.status == "active" else None
    # A new member (added or approved): those who could otherwise are told why not.
    could = viewer.is_admin or permissions.can_moderate(viewer, community)
    if current is None and permissions.is_archived(community) and could:
        raise Archived()
    if not permissions.can_set_role(viewer, community, current=current, new=role):
        raise Forbidden("You may not give that role in this community.")
    if user.is_suspended():
        raise Conflict("That member is suspended.")
    if existing is None:
        # Set the relationship (not just user_id): callers render membership.user afterwards.
        existing = Membership(
            community_id=community.id, user=user, created_at=utcnow(), invited_by_id=viewer.id
        )
        session.add(existing)
    if current == "owner" and role != "owner":
        await _keep_an_owner(session, community, user.id)
    newly_active = existing.status != "active"
    if not newly_active:
        action = "member.role"
    else:
        action = "member.approve" if existing.status == "pending" else "member.add"
    if action != "member.role" or current != role:
        await audit.record(
            session,
            viewer,
            action,
            community=community,
            target_kind="member",
            target_id=user.id,
            target_user=user,
            summary=f"{user.username} as {role}",
            before={"role": current, "status": existing.status},
            after={"role": role, "status": "active"},
        )
    existing.role = role
    existing.status = "active"
    await session.flush()
    if newly_active:
        await _joined(session, viewer.id, community, user.id, role)
    else:
        await events.record(
            session,
            "member.role_changed",
            actor_id=viewer.id,
            community_id=community.id,
            audience="members",
            target_user_id=user.id,
            subject_id=user.id,
            data={"community": community.slug, "role": role, "before": current},
        )
    return existing


async def _keep_an_owner(session: AsyncSession, community: Community, leaving_user_id: int) -> None:
    others = (
        await session.execute(
            select(func.count(Membership.id)).where(
                Membership.community_id == community.id,
                Membership.role == "owner",
                Membership.status == "active",
                Membership.user_id != leaving_user_id,
            )
        )
    ).scalar()
    if not others:
        raise Conflict("A community needs at least one owner.")


async def _check_not_sanctioned(session: AsyncSession, user: User, community: Community) -> None:
    """An invitation a banned or suspended member could not use is refused, saying why."""
    from connect.moderation.sanctions import active_sanctions  # it imports communities

    def until(moment) -> str:
        return moment.strftime("%Y-%m-%d") if moment else "further notice"

    if user.is_suspended(utcnow()):
        raise Conflict(
            f"{user.display_name} is suspended until {until(user.suspended_until)}: "
            "invite them once the suspension ends."
        )
    for sanction in await active_sanctions(session, user.id):
        if sanction.kind == "ban" and sanction.community_id == community.id:
            raise Conflict(
                f"{user.display_name} is banned from this community until "
                f"{until(sanction.ends_at)}: lift the ban first to invite them."
            )


async def invite(
    session: AsyncSession, viewer: Viewer, community: Community, username: str
) -> Membership:
    """Invite a member; they join by accepting (private communities are found this way)."""
    if not permissions.can_moderate(viewer, community):
        raise Forbidden("Only moderators can invite members.")
    check_not_archived(community)
    user = await _user_by_name(session, username)
    await _check_not_sanctioned(session, user, community)
    existing = await _membership(session, community, user.id)
    if existing is not None and existing.status == "active":
        raise Conflict(f"{user.display_name} is already a member.")
    if existing is not None and existing.status == "pending":
        # They asked already: an invitation from a moderator is an approval.
        return await set_role(session, viewer, community, user.username, "member")
    if existing is None:
        existing = Membership(
            community_id=community.id,
            user=user,
            role="member",
            status="invited",
            created_at=utcnow(),
            invited_by_id=viewer.id,
        )
        session.add(existing)
        await session.flush()
        await audit.record(
            session,
            viewer,
            "member.invite",
            community=community,
            target_kind="member",
            target_id=user.id,
            target_user=user,
        )
        await events.record(
            session,
            "membership.invited",
            actor_id=viewer.id,
            community_id=community.id,
            audience="user",
            target_user_id=user.id,
            subject_id=user.id,
            data={"community": community.slug, "name": community.name},
        )
    return existing


async def remove_member(
    session: AsyncSession, viewer: Viewer, community: Community, username: str, *, reason: str = ""
) -> None:
    """Remove a member, decline a join request or withdraw an invitation."""
    user = await _user_by_name(session, username)
    existing = await _membership(session, community, user.id)
    if existing is None:
        raise NotFound("That member is not in this community.")
    role = existing.role if existing.status == "active" else "member"
    if not permissions.can_remove_member(viewer, community, role=role):
        raise Forbidden("You may not remove that member.")
    if existing.status == "active" and role == "owner":
        await _keep_an_owner(session, community, user.id)
    was_active = existing.status == "active"
    action = {"active": "member.remove", "pending": "member.decline"}.get(
        existing.status, "member.uninvite"
    )
    await audit.record(
        session,
        viewer,
        action,
        community=community,
        target_kind="member",
        target_id=user.id,
        target_user=user,
        reason=reason,
        before={"role": existing.role, "status": existing.status},
    )
    await session.delete(existing)
    await session.flush()
    if was_active:
        await _recount(session, community)
    await events.record(
        session,
        "member.removed" if was_active else "membership.declined",
        actor_id=viewer.id,
        community_id=community.id,
        audience="members" if was_active else "moderators",
        target_user_id=user.id,
        subject_id=user.id,
        data={"community": community.slug},
    )


async def list_members(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    status: str = "active",
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Membership], int]:
    if not permissions.can_read_community(viewer, community):
        # As get_readable: a listed (closed) community is forbidden, a private one absent.
        if community.visibility == "private":
            raise NotFound("There is no community at this address.")
        raise Forbidden("Only members of this community can see this. Ask to join first.")
    if status != "active" and not permissions.can_moderate(viewer, community):
        raise Forbidden("Only moderators can see requests and invitations.")
    query = select(Membership).where(
        Membership.community_id == community.id, Membership.status == status
    )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
    # Owners, then moderators, then members, each by name, across pages (sorted before paging).
    role_order = case({"owner": 0, "moderator": 1, "member": 2}, value=Membership.role, else_=3)
    rows = await session.execute(
        query.join(User, User.id == Membership.user_id)
        .order_by(role_order, func.lower(User.display_name), Membership.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows.scalars().unique()), total


# A deleted account ------------------------------------------------------------------


async def solely_owned(session: AsyncSession, user_id: int, *, lock: bool = False) -> list[str]:
    """The names of the communities this member is the only owner of, by name. `lock`
    (in a write transaction): two owners leaving at once cannot both pass."""
    owned = select(Membership.community_id).where(
        Membership.user_id == user_id, Membership.role == "owner", Membership.status == "active"
    )
    query = select(Membership.community_id).where(
        Membership.community_id.in_(owned),
        Membership.role == "owner",
        Membership.status == "active",
    )
    rows = (await session.execute(query.with_for_update() if lock else query)).all()
    owners = Counter(community_id for (community_id,) in rows)
    sole = [community_id for community_id, count in owners.items() if count == 1]
    if not sole:
        return []
    names = await session.execute(
        select(Community.name).where(Community.id.in_(sole)).order_by(Community.name)
    )
    return list(names.scalars())


async def end_all(session: AsyncSession, user_id: int) -> None:
    """A deleted account's memberships, join requests and invitations go, and so do the
    invitations it sent that are still open; member counts stay right."""
    left = list(
        (
            await session.execute(
                select(Membership.community_id).where(
                    Membership.user_id == user_id, Membership.status == "active"
                )
            )
        ).scalars()
    )
    await session.execute(
        delete(Membership).where(
            or_(
                Membership.user_id == user_id,
                and_(Membership.invited_by_id == user_id, Membership.status == "invited"),
            )
        )
    )
    if left:
        active = (
            select(func.count(Membership.id))
            .where(Membership.community_id == Community.id, Membership.status == "active")
            .scalar_subquery()
        )
        await session.execute(
            update(Community)
            .where(Community.id.in_(left))
            .values(member_count=active)
            .execution_options(synchronize_session=False)
        )
