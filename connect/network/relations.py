"""How two members stand to each other: contact state, blocks, shared communities.

Loaded once per request that needs it and handed to the pure checks in
connect.permissions (can_request_contact, can_message).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from connect.communities.models import Membership
from connect.network.models import Block, Contact


@dataclass(frozen=True)
class Relation:
    viewer_id: int
    other_id: int
    # None, "accepted", "outgoing" (the viewer asked) or "incoming" (the other asked).
    contact: str | None = None
    blocked_by_viewer: bool = False
    blocks_viewer: bool = False
    shared_communities: int = 0

    @property
    def contacts(self) -> bool:
        return self.contact == "accepted"

    @property
    def blocked(self) -> bool:
        """Either one blocks the other."""
        return self.blocked_by_viewer or self.blocks_viewer


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _relation_statement():
    """Contact status and requester, blocks either way and the count of shared communities.

    Built once: a profile page asks it on every view, and building it (two aliases of the
    memberships table among it) cost more than running it."""
    viewer, other = bindparam("viewer"), bindparam("other")
    the_contact = and_(Contact.low_id == bindparam("low"), Contact.high_id == bindparam("high"))

    def blocks(blocker, blocked):
        return exists().where(Block.blocker_id == blocker, Block.blocked_id == blocked)

    mine, theirs = aliased(Membership), aliased(Membership)
    shared = (
        select(func.count())
        .select_from(mine)
        .join(theirs, theirs.community_id == mine.community_id)
        .where(
            mine.user_id == viewer,
            mine.status == "active",
            theirs.user_id == other,
            theirs.status == "active",
        )
    )
    return select(
        select(Contact.status).where(the_contact).scalar_subquery(),
        select(Contact.requester_id).where(the_contact).scalar_subquery(),
        blocks(viewer, other),
        blocks(other, viewer),
        shared.scalar_subquery(),
    )


_RELATION = _relation_statement()


async def relation(session: AsyncSession, viewer_id: int, other_id: int) -> Relation:
    """The relation, in one statement."""
    low, high = pair(viewer_id, other_id)
    status, requester, blocked_by_viewer, blocks_viewer, shared_count = (
        await session.execute(
            _RELATION, {"viewer": viewer_id, "other": other_id, "low": low, "high": high}
        )
    ).one()
    state = None
    if status == "accepted":
        state = "accepted"
    elif status is not None and requester == viewer_id:
        state = "outgoing"  # pending or ignored: the asker cannot tell
    elif status == "pending":
        state = "incoming"
    return Relation(
        viewer_id=viewer_id,
        other_id=other_id,
        contact=state,
        blocked_by_viewer=bool(blocked_by_viewer),
        blocks_viewer=bool(blocks_viewer),
        shared_communities=shared_count or 0,
    )


async def blocked_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Members this one blocks (their posts collapse for them)."""
    rows = await session.scalars(select(Block.blocked_id).where(Block.blocker_id == user_id))
    return set(rows)
