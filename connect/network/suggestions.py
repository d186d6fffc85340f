"""People you may know: listed members who share communities, an organization or interests.

Each kind of overlap is gathered by its own bounded query, then scored together: one
point per shared community, per shared interest, and for the same organization. Only
what the candidate shows publicly (organization, interests) is matched against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from connect import permissions
from connect.accounts.models import User
from connect.communities.models import Membership
from connect.db import casefold
from connect.members.models import Profile, interest_clause, public_field_clause
from connect.network.models import Contact
from connect.network.relations import Relation
from connect.network.service import blocked_either_way
from connect.permissions import Viewer

LIMIT = 10
POOL = 200  # candidates read per kind of overlap
MAX_INTERESTS = 10  # of the viewer's, matched against others'


@dataclass
class Suggestion:
    user: User
    communities: int = 0
    organization: bool = False
    interests: list[str] = field(default_factory=list)
    can_connect: bool = False

    @property
    def score(self) -> int:
        return self.communities + int(self.organization) + len(self.interests)

    @property
    def reasons(self) -> list[str]:
        said = []
        if self.communities:
            n = self.communities
            said.append(f"{n} communit{'ies' if n != 1 else 'y'} in common")
        if self.organization:
            said.append(f"also at {self.user.profile.organization}")
        if self.interests:
            said.append("also into " + ", ".join(self.interests))
        return said


async def _excluded(session: AsyncSession, user_id: int) -> set[int]:
    """Oneself, anyone with a contact or request either way, and blocks either way."""
    rows = await session.execute(
        select(Contact.requester_id, Contact.addressee_id).where(
            or_(Contact.requester_id == user_id, Contact.addressee_id == user_id)
        )
    )
    linked = {b if a == user_id else a for a, b in rows}
    return {user_id} | linked | await blocked_either_way(session, user_id)


async def suggestions(
    session: AsyncSession, viewer: Viewer, *, limit: int = LIMIT
) -> list[Suggestion]:
    if not viewer.signed_in:
        return []
    me = viewer.user
    excluded = await _excluded(session, me.id)
    same_organization: set[int] = set()
    common_interests: dict[int, list[str]] = {}

    mine, theirs = aliased(Membership), aliased(Membership)
    shared = await session.execute(
        select(theirs.user_id, func.count())
        .select_from(mine)
        .join(theirs, theirs.community_id == mine.community_id)
        .join(Profile, Profile.user_id == theirs.user_id)
        .where(
            mine.user_id == me.id,
            mine.status == "active",
            theirs.status == "active",
            theirs.user_id.not_in(excluded),
            Profile.listed.is_(True),
        )
        .group_by(theirs.user_id)
        .order_by(func.count().desc(), theirs.user_id)
        .limit(POOL)
    )
    communities: dict[int, int] = {user_id: count for user_id, count in shared}

    candidates = select(Profile.user_id, Profile.interests).where(
        Profile.listed.is_(True), Profile.user_id.not_in(excluded)
    )
    organization = me.profile.organization.strip()
    if organization:
        rows = await session.execute(
            candidates.where(
                casefold(Profile.organization) == organization.casefold(),
                public_field_clause("organization"),
            ).limit(POOL)
        )
        same_organization.update(user_id for user_id, _ in rows)
    interests = {i.casefold() for i in me.profile.interest_list[:MAX_INTERESTS]}
    if interests:
        rows = await session.execute(
            candidates.where(or_(*(interest_clause(i) for i in sorted(interests)))).limit(POOL)
        )
        for user_id, theirs_text in rows:
            common = [
                i.strip() for i in theirs_text.split(",") if i.strip().casefold() in interests
            ]
            common_interests[user_id] = common

    found = set(communities) | same_organization | set(common_interests)
    if not found:
        return []
    users = await session.execute(select(User).where(User.id.in_(found)))
    ranked = sorted(
        (
            Suggestion(
                user=user,
                communities=communities.get(user.id, 0),
                organization=user.id in same_organization,
                interests=common_interests.get(user.id, []),
            )
            for user in users.scalars().unique()
        ),
        key=lambda s: (-s.score, s.user.display_name.lower(), s.user.id),
    )[:limit]
    for s in ranked:
        standing = Relation(viewer_id=me.id, other_id=s.user.id, shared_communities=s.communities)
        s.can_connect = permissions.can_request_contact(
            viewer, s.user, standing, policy=s.user.profile.contact_policy
        )
    return ranked
