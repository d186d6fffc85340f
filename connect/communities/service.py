"""Community operations: create, configure, join, leave, invite, roles and removal."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.communities.models import MODERATION_MODES, ROLES, VISIBILITIES, Community, Membership
from connect.db import contains_pattern, utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn
from connect.moderation import audit, limits
from connect.permissions import Role, Viewer

SLUG_RE = re.compile(r"[a-z0-9_-]{2,40}")
RESERVED_SLUGS = frozenset({"new", "api", "static"})


def community_json(community: Community, viewer: Viewer) -> dict:
    m = viewer.memberships.get(community.id)
    membership = None
    if m is not None:
        membership = m.role if m.status == "active" else m.status
    return {
        "id": community.id,
        "slug": community.slug,
        "name": community.name,
        "description": community.description,
        "visibility": community.visibility,
        "moderation": community.moderation,
        "member_count": community.member_count,
        "created_at": community.created_at.isoformat(),
        "membership": membership,
        "url": f"/c/{community.slug}",
        **(
            {"settings": settings_json(community)}
            if permissions.can_manage(viewer, community)
            else {}
        ),
    }


def settings_json(community: Community) -> dict:
    """The moderation settings in force: flag threshold and the community's own limits."""
    return {
        "flag_threshold": limits.flag_threshold(community),
        "limits": limits.community_limits(community),
    }


def membership_json(m: Membership) -> dict:
    return {
        "username": m.user.username,
        "display_name": m.user.display_name,
        "role": m.role,
        "status": m.status,
        "since": m.created_at.isoformat(),
    }


async def get_visible(session: AsyncSession, viewer: Viewer, slug: str) -> Community:
    """The community by slug, or NotFound if it does not exist for this viewer."""
    community = (
        await session.execute(select(Community).where(Community.slug == slug.lower()))
    ).scalar_one_or_none()
    if community is None or not permissions.can_see_community(viewer, community):
        raise NotFound("There is no community at this address.")
    return community


async def get_readable(session: AsyncSession, viewer: Viewer, slug: str) -> Community:
    community = await get_visible(session, viewer, slug)
    if not permissions.can_read_community(viewer, community):
        if community.visibility == "private":
            raise NotFound("There is no community at this address.")
        raise Forbidden("Only members of this community can see this. Ask to join first.")
    return community


async def viewer_of(session: AsyncSession, user: User) -> Viewer:
    """`user` as the permissions see them: their memberships (not their sanctions)."""
    rows = await session.execute(
        select(Membership.community_id, Membership.role, Membership.status).where(
            Membership.user_id == user.id
        )
    )
    return Viewer(user=user, memberships={c: Role(r, s) for c, r, s in rows})


def _check_settings(values: dict, *, creating: bool) -> tuple[dict, dict[str, str]]:
    clean: dict = {}
    problems: dict[str, str] = {}
    if creating or "slug" in values:
        slug = values.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug.strip()):
            problems["slug"] = "Use 2 to 40 characters: lowercase letters, digits, - and _."
        elif slug.strip() in RESERVED_SLUGS:
            problems["slug"] = "That address is reserved; choose another."
        else:
            clean["slug"] = slug.strip()
    if creating or "name" in values:
        name = markup.one_line(values["name"]) if isinstance(values.get("name"), str) else ""
        if not name:
            problems["name"] = "Name the community."
        elif len(name) > 120:
            problems["name"] = "Use at most 120 characters."
        else:
            clean["name"] = name
    if "description" in values:
        description = values["description"]
        if not isinstance(description, str):
            problems["description"] = "Must be text."
        elif len(description) > 10_000:
            problems["description"] = "Use at most 10,000 characters."
        else:
            clean["description"] = description.strip()
    for key, allowed in (("visibility", VISIBILITIES), ("moderation", MODERATION_MODES)):
        if key in values or creating:
            value = values.get(key, "open" if key == "visibility" else "none")
            if value not in allowed:
                problems[key] = f"Choose one of: {', '.join(allowed)}."
            else:
                clean[key] = value
    return clean, problems


async def create_community(session: AsyncSession, viewer: Viewer, values: dict) -> Community:
    if not permissions.can_create_community(viewer):
        raise Forbidden("Only site administrators can create communities.")
    clean, problems = _check_settings(values, creating=True)
    if problems:
        raise Invalid("Some settings need another look.", fields=problems)
    taken = await session.execute(select(Community.id).where(Community.slug == clean["slug"]))
    if taken.first():
        raise Conflict("That address is taken.", fields={"slug": "That address is taken."})
    community = Community(**clean, created_by_id=viewer.id, created_at=utcnow(), member_count=1)
    session.add(community)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "That address is taken.", fields={"slug": "That address is taken."}
        ) from None
    session.add(
        Membership(community_id=community.id, user_id=viewer.id, role="owner", created_at=utcnow())
    )
    await audit.record(
        session,
        viewer,
        "community.create",
        community=community,
        target_kind="community",
        target_id=community.id,
        after={k: v for k, v in clean.items() if k != "description"},
    )
    await events.record(
        session,
        "community.created",
        actor_id=viewer.id,
        community_id=community.id,
        audience=_audience(community),
        subject_id=community.id,
        data={"slug": community.slug},
    )
    return community


def _audience(community: Community) -> str:
    return "public" if community.visibility == "open" else "members"


async def update_community(
    session: AsyncSession, viewer: Viewer, community: Community, values: dict
) -> Community:
    if not permissions.can_manage(viewer, community):
        raise Forbidden("Only this community's moderators can change its settings.")
    unknown = set(values) - {"name", "description", "visibility", "moderation", "settings"}
    if unknown:
        raise Invalid(
            "Unknown settings.", fields={k: "Not a community setting." for k in sorted(unknown)}
        )
    clean, problems = _check_settings(values, creating=False)
    if "settings" in values:
        moderation, more = limits.clean_community_settings(values["settings"])
        problems.update(more)
        merged = {**(community.settings or {}), **moderation}
        clean["settings"] = {k: v for k, v in merged.items() if v is not None}
    if problems:
        raise Invalid("Some settings need another look.", fields=problems)
    before = {k: getattr(community, k) for k in clean}
    for key, value in clean.items():
        setattr(community, key, value)
    changed = {k for k in clean if before[k] != clean[k]}
    if changed:
        await audit.record(
            session,
            viewer,
            "community.update",
            community=community,
            target_kind="community",
            target_id=community.id,
            summary=", ".join(sorted(changed)),
            before={k: before[k] for k in changed},
            after={k: clean[k] for k in changed},
        )
    await events.record(
        session,
        "community.updated",
        actor_id=viewer.id,
        community_id=community.id,
        audience="members",
        subject_id=community.id,
        data={"slug": community.slug, "before": before, "after": clean},
    )
    return community


async def list_communities(
    session: AsyncSession, viewer: Viewer, *, q: str = "", page: int = 1, per_page: int = 20
) -> tuple[list[Community], int]:
    query = select(Community).where(permissions.visible_communities_clause(viewer))
    if q.strip():
        like = contains_pattern(q.strip().lower()[:100])
        query = query.where(
            or_(
                func.lower(Community.name).like(like, escape="\\"),
                func.lower(Community.description).like(like, escape="\\"),
            )
        )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
    rows = await session.execute(
        query.order_by(func.lower(Community.name)).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows.scalars()), total


async def communities_of(session: AsyncSession, viewer: Viewer, user: User) -> list[Community]:
    """The communities a member belongs to, as far as the viewer may know."""
    rows = await session.execute(
        select(Community)
        .join(Membership, Membership.community_id == Community.id)
        .where(
            Membership.user_id == user.id,
            Membership.status == "active",
            permissions.visible_communities_clause(viewer),
        )
        .order_by(func.lower(Community.name))
    )
    return list(rows.scalars())


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
    if existing is not None and existing.status == "pending":
        return "pending"
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
        await session.execute(select(User).where(User.username == str(username).lower()))
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
    from connect.moderation.sanctions import active_sanctions  # it imports this module

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
    role_order = {"owner": 0, "moderator": 1, "member": 2}
    rows = await session.execute(
        query.join(User, User.id == Membership.user_id)
        .order_by(func.lower(User.display_name))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    members = list(rows.scalars().unique())
    members.sort(key=lambda m: role_order.get(m.role, 3))
    return members, total
