"""The moderation log: every moderator and admin action, written in the action's transaction.

Rows are only ever added (models.AuditEntry refuses updates and deletes). Moderators read
the rows of the communities they moderate; site moderators and admins read them all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Forbidden, NotFound
from connect.moderation.models import AuditEntry
from connect.permissions import Viewer

ACTIONS = {
    # content
    "thread.approve": "approved a held thread",
    "thread.reject": "rejected a held thread",
    "post.approve": "approved a post",
    "post.reject": "rejected a post",
    "entry.approve": "approved a library entry",
    "entry.reject": "rejected a library entry",
    "post.hide": "hid a post",
    "post.restore": "restored a post",
    "post.delete": "removed someone's post",
    "post.edit": "edited someone's post",
    "entry.hide": "hid a library entry",
    "entry.restore": "restored a library entry",
    "entry.edit": "edited someone's library entry",
    "entry.delete": "removed someone's library entry",
    "thread.pin": "pinned a thread",
    "thread.unpin": "unpinned a thread",
    "thread.lock": "locked a thread",
    "thread.unlock": "unlocked a thread",
    "thread.retitle": "retitled someone's thread",
    "thread.update": "changed a thread",
    "thread.move": "moved a thread",
    "thread.merge": "merged two threads",
    "thread.split": "split replies into a new thread",
    "flag.create": "flagged an item as a moderator",
    "flags.dismiss": "dismissed flags",
    # people
    "ban.create": "banned a member",
    "ban.lift": "lifted a ban",
    "suspension.create": "suspended a member",
    "suspension.lift": "lifted a suspension",
    "require_approval.create": "required approval for a member",
    "require_approval.lift": "lifted an approval requirement",
    "flag_bar.create": "barred a member from flagging",
    "flag_bar.lift": "lifted a flagging bar",
    "member.approve": "approved a join request",
    "member.decline": "declined a join request",
    "member.add": "added a member",
    "member.invite": "invited a member",
    "member.uninvite": "withdrew an invitation",
    "member.role": "changed a member's role",
    "member.remove": "removed a member",
    "profile.edit": "edited someone's profile",
    # settings
    "community.create": "created a community",
    "community.update": "changed community settings",
    "community.archive": "archived a community",
    "community.unarchive": "unarchived a community",
    "site.limits": "changed the site's posting limits",
    "site.role": "changed a member's site role",
    "mail.retry": "sent a failed email again",
    # private messages (readable by site moderators only once a participant reports them)
    "conversation.read": "read a reported private conversation",
    "conversation.close_report": "closed the report on a private conversation",
}


# Said instead of the name of a community the reader of the log may not know exists.
HIDDEN_COMMUNITY = "a community you cannot see"


@dataclass
class LogEntry:
    """One row as a given reader sees it: communities they cannot see are not named."""

    id: int
    created_at: datetime
    actor_name: str
    community_slug: str
    action: str
    target_kind: str
    target_id: int | None
    target_name: str
    summary: str
    reason: str
    before: dict
    after: dict
    community_hidden: bool = False


async def record(
    session: AsyncSession,
    actor: Viewer | None,
    action: str,
    *,
    community: Community | None = None,
    target_kind: str = "",
    target_id: int | None = None,
    target_user: User | None = None,
    summary: str = "",
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Add one row to the caller's transaction (actor None: the system acted)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown moderation action {action!r}")
    user = actor.user if actor is not None else None
    entry = AuditEntry(
        created_at=utcnow(),
        actor_id=user.id if user else None,
        actor_name=user.username if user else "",
        community_id=community.id if community else None,
        community_slug=community.slug if community else "",
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        target_user_id=target_user.id if target_user else None,
        target_name=target_user.username if target_user else "",
        summary=summary[:300],
        reason=reason or "",
        before=before or {},
        after=after or {},
    )
    session.add(entry)
    return entry


async def moderated_ids(session: AsyncSession, viewer: Viewer) -> list[int] | None:
    """The communities whose log the viewer reads (None: all, for site moderators)."""
    if viewer.is_site_moderator:
        return None
    if not viewer.signed_in or viewer.suspended:
        return []
    return [
        cid
        for cid, m in viewer.memberships.items()
        if m.status == "active" and m.role in ("moderator", "owner")
    ]


def _mentioned(entry: AuditEntry) -> set[str]:
    """The community slugs a row names: where it happened, and where a thread went from/to."""
    slugs = {entry.community_slug}
    for side in (entry.before, entry.after):
        if isinstance(side, dict) and isinstance(side.get("community"), str):
            slugs.add(side["community"])
    return slugs - {""}


async def _unseen(session: AsyncSession, viewer: Viewer, rows: list[AuditEntry]) -> set[str]:
    """The slugs among the rows' that name a community the viewer cannot see (or gone)."""
    slugs = set().union(*(_mentioned(r) for r in rows)) if rows else set()
    if not slugs:
        return set()
    found = await session.execute(select(Community).where(Community.slug.in_(slugs)))
    return slugs - {c.slug for c in found.scalars() if permissions.can_see_community(viewer, c)}


def _shown(entry: AuditEntry, unseen: set[str]) -> LogEntry:
    values = {f.name: getattr(entry, f.name) for f in fields(LogEntry) if hasattr(entry, f.name)}
    shown = LogEntry(**values)
    for side in ("before", "after"):
        data = getattr(entry, side)
        if isinstance(data, dict) and data.get("community") in unseen:
            setattr(shown, side, {**data, "community": HIDDEN_COMMUNITY})
    for slug in unseen:  # a move's summary ends with where the thread went
        if shown.summary.endswith(f" to {slug}"):
            shown.summary = shown.summary[: -len(slug)] + HIDDEN_COMMUNITY
    if entry.community_slug in unseen:
        shown.community_slug, shown.community_hidden = "", True
    return shown


async def read_log(
    session: AsyncSession,
    viewer: Viewer,
    *,
    community_slug: str = "",
    action: str = "",
    actor: str = "",
    target: str = "",
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[LogEntry], int]:
    """A page of the log the viewer may read, newest first, filtered; communities the viewer
    cannot see are not named in it."""
    allowed = await moderated_ids(session, viewer)
    if allowed is not None and not allowed:
        raise Forbidden("Only moderators can read the moderation log.")
    query = select(AuditEntry)
    if allowed is not None:
        query = query.where(AuditEntry.community_id.in_(allowed))
    if community_slug:
        community = (
            await session.execute(select(Community).where(Community.slug == community_slug))
        ).scalar_one_or_none()
        if community is None or not permissions.can_see_community(viewer, community):
            raise NotFound("There is no community at this address.")
        if allowed is not None and community.id not in allowed:
            raise Forbidden("You do not moderate this community.")
        query = query.where(AuditEntry.community_id == community.id)
    if action:  # "post.hide" exactly, or "post" for every post action
        exact = AuditEntry.action == action
        query = query.where(exact if "." in action else AuditEntry.action.like(f"{action}.%"))
    if actor:
        query = query.where(AuditEntry.actor_name == actor.lower())
    if target:
        query = query.where(AuditEntry.target_name == target.lower())
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
    rows = await session.execute(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    found = list(rows.scalars())
    unseen = await _unseen(session, viewer, found)
    return [_shown(r, unseen) for r in found], total


def entry_json(entry: LogEntry) -> dict:
    return {
        "id": entry.id,
        "created_at": entry.created_at.isoformat(),
        "actor": entry.actor_name or None,
        "action": entry.action,
        "description": ACTIONS.get(entry.action, entry.action),
        "community": HIDDEN_COMMUNITY if entry.community_hidden else entry.community_slug or None,
        "target": {
            "kind": entry.target_kind or None,
            "id": entry.target_id,
            "username": entry.target_name or None,
        },
        "summary": entry.summary,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
    }
