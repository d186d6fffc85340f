"""The events moderation records for others to hear: queue changes for moderators (live),
outcomes for authors and flaggers (the notifier turns those into notifications and mail)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from connect import events
from connect.communities.models import Community
from connect.permissions import Viewer


async def changed(
    session: AsyncSession, community: Community, *, kind: str, item_id: int | None, action: str
) -> None:
    """Tell the community's moderators (and only them) that their queue changed."""
    await events.record(
        session,
        "moderation.changed",
        community_id=community.id,
        audience="moderators",
        subject_id=item_id,
        data={"community": community.slug, "kind": kind, "id": item_id, "action": action},
    )


async def decided(
    session: AsyncSession,
    viewer: Viewer | None,
    community: Community,
    *,
    author_id: int | None,
    outcome: str,
    kind: str,
    item_id: int,
    title: str,
    reason: str = "",
    url: str = "",
    excerpt: str = "",
) -> None:
    """Tell an author what a moderator decided about their post, thread, entry or request.

    outcome: approved, rejected, hidden, restored, removed, edited, moved, merged.
    """
    if author_id is None or (viewer is not None and viewer.id == author_id):
        return
    await events.record(
        session,
        "moderation.decided",
        actor_id=viewer.id if viewer else None,
        community_id=community.id,
        audience="user",
        target_user_id=author_id,
        subject_id=item_id,
        data={
            "outcome": outcome,
            "kind": kind,
            "id": item_id,
            "title": title,
            "reason": reason,
            "url": url or f"/c/{community.slug}",
            "excerpt": excerpt,
            "community": community.slug,
            "community_name": community.name,
        },
    )


async def flags_resolved(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    flagger_ids: list[int],
    outcome: str,
    kind: str,
    item_id: int,
    title: str,
) -> None:
    """Tell the flaggers how their flags ended (upheld: the item is gone; dismissed: it stays)."""
    if not flagger_ids:
        return
    await events.record(
        session,
        "flags.resolved",
        actor_id=viewer.id,
        community_id=community.id,
        audience="moderators",
        subject_id=item_id,
        data={
            "flagger_ids": sorted(set(flagger_ids)),
            "outcome": outcome,
            "kind": kind,
            "id": item_id,
            "title": title,
            "community": community.slug,
            "community_name": community.name,
        },
    )


# Words for the notifier ------------------------------------------------------------------

OUTCOME_WORDS = {
    "approved": "was approved",
    "rejected": "was not approved",
    "hidden": "was hidden by a moderator",
    "restored": "was restored",
    "removed": "was removed by a moderator",
    "moved": "was moved",
    "merged": "was merged into another thread",
}
KIND_WORDS = {"thread": "Your thread", "post": "Your post", "entry": "Your document"}


def describe_decision(data: dict) -> tuple[str, str]:
    """(title, text) of the notice an author gets about a moderator's decision."""
    outcome, kind = data.get("outcome", ""), data.get("kind", "post")
    if kind == "join":
        title = f"Your request to join {data.get('community_name')} was declined"
    elif kind == "post" and str(data.get("title", "")).startswith("your reply"):
        title = (
            f"{data['title'][0].upper()}{data['title'][1:]} {OUTCOME_WORDS.get(outcome, outcome)}"
        )
    else:
        title = (
            f"{KIND_WORDS.get(kind, 'Your post')} “{data.get('title', '')}” "
            f"{OUTCOME_WORDS.get(outcome, outcome)}"
        )
    lines = []
    if data.get("reason"):
        lines.append(f"Reason: {data['reason']}")
    if data.get("excerpt") and outcome in ("rejected", "removed", "hidden"):
        lines.append(f"What you wrote: {data['excerpt']}")
    return title, "\n".join(lines)


def describe_flags(data: dict) -> tuple[str, str]:
    title = data.get("title", "")
    if data.get("outcome") == "upheld":
        return (
            f"Thank you: a moderator acted on your flag on “{title}”",
            "The item you flagged was removed or hidden.",
        )
    return (
        f"A moderator reviewed your flag on “{title}”",
        "They decided the item may stay.",
    )


def describe_sanction(type: str, data: dict) -> tuple[str, str]:
    from connect.moderation.sanctions import KIND_WORDS as SANCTION_WORDS

    where = f" in {data['community_name']}" if data.get("community_name") else ""
    words = SANCTION_WORDS.get(data.get("kind", ""), data.get("kind", ""))
    if type == "sanction.lifted":
        return f"You are no longer {words}{where}", data.get("lift_reason") or ""
    until = f" until {data['until'][:16].replace('T', ' ')} UTC" if data.get("until") else ""
    return f"You are {words}{where}{until}", f"Reason: {data.get('reason', '')}"
