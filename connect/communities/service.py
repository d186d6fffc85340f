"""Community operations: create, configure, join, leave, invite, roles and removal."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.communities import memberships
from connect.communities.models import MODERATION_MODES, VISIBILITIES, Community, Membership
from connect.db import contains_pattern, utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound
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
        "archived_at": community.archived_at.isoformat() if community.archived_at else None,
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
        clean["settings"] = limits.merged_community_settings(community, moderation)
    if problems:
        raise Invalid("Some settings need another look.", fields=problems)
    before = {k: getattr(community, k) for k in clean}
    for key, value in clean.items():
        setattr(community, key, value)
    changed = {k for k in clean if before[k] != clean[k]}
    # Opening a community lets its pending requests in (not while archived: it takes no one).
    opened = "visibility" in changed and community.visibility == "open"
    if opened and not permissions.is_archived(community):
        await memberships.accept_pending(session, viewer, community)
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
    # Active communities first, then archived ones, each by name.
    order = (Community.archived_at.is_not(None), func.lower(Community.name), Community.id)
    rows = await session.execute(
        query.order_by(*order).offset((page - 1) * per_page).limit(per_page)
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
        .order_by(Community.archived_at.is_not(None), func.lower(Community.name))
    )
    return list(rows.scalars())
