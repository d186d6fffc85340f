"""How two members stand to each other: contact state, blocks, shared communities.

Loaded once per request that needs it and handed to the pure checks in
connect.permissions (can_request_contact, can_message).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
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


async def relation(session: AsyncSession, viewer_id: int, other_id: int) -> Relation:
    low, high = pair(viewer_id, other_id)
    contact = await session.scalar(
        select(Contact).where(Contact.low_id == low, Contact.high_id == high)
    )
    state = None
    if contact is not None:
        if contact.status == "accepted":
            state = "accepted"
        elif contact.requester_id == viewer_id:
            state = "outgoing"  # pending or ignored: the asker cannot tell
        elif contact.status == "pending":
            state = "incoming"
    blocks = (
        await session.execute(
            select(Block.blocker_id).where(
                or_(
                    and_(Block.blocker_id == viewer_id, Block.blocked_id == other_id),
                    and_(Block.blocker_id == other_id, Block.blocked_id == viewer_id),
                )
            )
        )
    ).scalars()
    blockers = set(blocks)
    mine, theirs = aliased(Membership), aliased(Membership)
    shared = await session.scalar(
        select(func.count())
        .select_from(mine)
        .join(theirs, theirs.community_id == mine.community_id)
        .where(
            mine.user_id == viewer_id,
            mine.status == "active",
            theirs.user_id == other_id,
            theirs.status == "active",
        )
    )
    return Relation(
        viewer_id=viewer_id,
        other_id=other_id,
        contact=state,
        blocked_by_viewer=viewer_id in blockers,
        blocks_viewer=other_id in blockers,
        shared_communities=shared or 0,
    )


async def blocked_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Members this one blocks (their posts collapse for them)."""
    rows = await session.scalars(select(Block.blocked_id).where(Block.blocker_id == user_id))
    return set(rows)
