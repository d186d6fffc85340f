"""Posting limits and spam checks: how fast members may post and upload, and what is held.

Site-wide limits (defaults below, changed by site admins) count a member's posts everywhere;
a community may add its own (counted in that community). Members in their first week get
the stricter `new_member_*` limits, and their posts with many links are held, as is the
same text posted again in another thread. Moderators and site staff are never limited, and
CONNECT_RATE_LIMITS=off turns the rate limits off (the spam checks still hold posts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.boards.models import Post
from connect.communities.models import Community
from connect.db import utcnow
from connect.errors import Forbidden, Invalid, RateLimited
from connect.moderation.models import SiteSetting
from connect.permissions import Viewer

NEW_MEMBER_DAYS = 7
DUPLICATE_WINDOW = timedelta(days=7)
DEFAULT_FLAG_THRESHOLD = 3
DEFAULT_LIMITS = {
    "posts_per_minute": 10,
    "posts_per_day": 500,
    "new_member_posts_per_minute": 5,
    "new_member_posts_per_day": 50,
    "new_member_max_links": 2,
    "uploads_per_day": 100,
    "new_member_uploads_per_day": 20,
}
# Short texts ("Thanks!", "+1") may repeat; longer ones, or any with a link, are held.
DUPLICATE_MIN_LENGTH = 40
LIMIT_LABELS = {
    "posts_per_minute": "Posts per minute",
    "posts_per_day": "Posts per day",
    "new_member_posts_per_minute": "Posts per minute in a member's first week",
    "new_member_posts_per_day": "Posts per day in a member's first week",
    "new_member_max_links": "Links a first-week member's post may hold before it is held",
    "uploads_per_day": "Uploads per day",
    "new_member_uploads_per_day": "Uploads per day in a member's first week",
}
LIMIT_MAX = 100_000
LINK_RE = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]]+")


@dataclass(frozen=True)
class PostChecks:
    """What a web request asks the boards to check before a post is written."""

    rate_limits: bool = True
    uploads: int = 0  # files attached to the post (they count towards uploads per day)


def post_checks(settings, *, uploads: int = 0) -> PostChecks:
    return PostChecks(rate_limits=settings.rate_limits, uploads=uploads)


# Settings --------------------------------------------------------------------------------


def flag_threshold(community: Community) -> int:
    value = (community.settings or {}).get("flag_threshold")
    return value if isinstance(value, int) and value > 0 else DEFAULT_FLAG_THRESHOLD


def community_limits(community: Community) -> dict[str, int]:
    """The community's own limits (only those it set)."""
    stored = (community.settings or {}).get("limits") or {}
    return {k: v for k, v in stored.items() if k in DEFAULT_LIMITS and isinstance(v, int)}


async def site_limits(session: AsyncSession) -> dict[str, int]:
    row = await session.get(SiteSetting, "limits")
    stored = row.value if row is not None else {}
    return {k: stored.get(k, v) for k, v in DEFAULT_LIMITS.items()}


def _whole_number(value, *, low: int, high: int) -> int | None:
    """An int from JSON or a form field; None when empty; ValueError when not a number."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError  # int() would quietly make 1.5 a 1
    number = int(value)
    if not low <= number <= high:
        raise ValueError
    return number


def clean_limits(values, *, allow_empty: bool) -> tuple[dict[str, int | None], dict[str, str]]:
    if not isinstance(values, dict):
        return {}, {"limits": "An object of limits."}
    clean, problems = {}, {}
    for key, value in values.items():
        if key not in DEFAULT_LIMITS:
            problems[key] = "Not a limit."
            continue
        try:
            number = _whole_number(value, low=0, high=LIMIT_MAX)
        except (TypeError, ValueError):
            problems[key] = f"A whole number from 0 to {LIMIT_MAX:,}."
            continue
        if number is None and not allow_empty:
            problems[key] = "Enter a number."
        elif number is not None or allow_empty:
            clean[key] = number  # None (allowed): clear it, back to the site's limit
    return clean, problems


def clean_community_settings(values) -> tuple[dict, dict[str, str]]:
    """A community's `settings` object: flag_threshold (1-50) and its own limits."""
    if not isinstance(values, dict):
        return {}, {"settings": "An object with flag_threshold and limits."}
    clean: dict = {}
    problems: dict[str, str] = {}
    for key in set(values) - {"flag_threshold", "limits"}:
        problems[key] = "Not a community setting."
    if "flag_threshold" in values:
        try:
            threshold = _whole_number(values["flag_threshold"], low=1, high=50)
        except (TypeError, ValueError):
            problems["flag_threshold"] = "A whole number from 1 to 50."
        else:
            clean["flag_threshold"] = threshold  # None: back to the default
    if "limits" in values:
        limits, limit_problems = clean_limits(values["limits"], allow_empty=True)
        problems.update({f"limit_{k}": v for k, v in limit_problems.items()})
        clean["limits"] = limits
    return clean, problems


def merged_community_settings(community: Community, changes: dict) -> dict:
    """The community's settings with cleaned `changes` applied: limits key by key, and a
    None (a limit or the flag threshold) clears that one."""
    merged = {**(community.settings or {}), **changes}
    if "limits" in changes:
        both = {**community_limits(community), **changes["limits"]}
        merged["limits"] = {k: v for k, v in both.items() if v is not None}
    return {k: v for k, v in merged.items() if v is not None}


async def set_site_limits(session: AsyncSession, viewer: Viewer, values) -> dict[str, int]:
    """Site admins change the site-wide limits (audited with before and after)."""
    from connect.moderation import audit

    if not permissions.can_set_site_limits(viewer):
        raise Forbidden("Only site administrators can change the site's limits.")
    clean, problems = clean_limits(values, allow_empty=False)
    if problems:
        raise Invalid("Some limits need another look.", fields=problems)
    before = await site_limits(session)
    row = await session.get(SiteSetting, "limits")
    merged = {**before, **clean}
    if row is None:
        session.add(SiteSetting(key="limits", value=merged, updated_by_id=viewer.id))
    else:
        row.value, row.updated_at, row.updated_by_id = merged, utcnow(), viewer.id
    changed = {k for k in merged if merged[k] != before[k]}
    await audit.record(
        session,
        viewer,
        "site.limits",
        summary=", ".join(sorted(changed)) or "no change",
        before={k: before[k] for k in changed},
        after={k: merged[k] for k in changed},
    )
    return merged


# Checks ------------------------------------------------------------------------------------


def check_not_banned(viewer: Viewer, community: Community) -> None:
    """A suspended or banned member is told why and until when (rather than "join first")."""
    if viewer.suspended:
        user = viewer.user
        until = user.suspended_until.strftime("%Y-%m-%d %H:%M UTC")
        reason = f" Reason: {user.suspension_reason}" if user.suspension_reason else ""
        raise Forbidden(f"Your account is suspended until {until}.{reason}", code="suspended")
    ban = viewer.sanction_in(community.id, "ban") if viewer.signed_in else None
    if ban is not None:
        until = ban.ends_at.strftime("%Y-%m-%d %H:%M UTC") if ban.ends_at else "further notice"
        raise Forbidden(
            f"You are banned from posting in {community.name} until {until}. Reason: {ban.reason}",
            code="banned",
        )


async def held(
    session: AsyncSession, community: Community, *, kind: str, item_id: int, why: str | None
) -> None:
    """A new post or thread waits for approval: the community's moderators see it live."""
    from connect.moderation import notices

    await notices.changed(
        session, community, kind=kind, item_id=item_id, action=f"held:{why or 'rule'}"
    )


def is_new_member(user: User, now: datetime | None = None) -> bool:
    return (now or utcnow()) - user.created_at < timedelta(days=NEW_MEMBER_DAYS)


def exempt(viewer: Viewer, community: Community) -> bool:
    """Moderators of the community and site staff are never limited nor held as spam."""
    return permissions.can_moderate(viewer, community)


def count_links(body: str) -> int:
    return len(LINK_RE.findall(body))


async def screen_post(
    session: AsyncSession,
    viewer: Viewer,
    community: Community,
    *,
    body: str,
    thread_id: int | None,
    checks: PostChecks | None,
) -> str | None:
    """Raise RateLimited past a limit; return why the post must be held as spam, or None."""
    if checks is None or exempt(viewer, community):
        return None
    now = utcnow()
    new = is_new_member(viewer.user, now)
    site = await site_limits(session)
    if checks.rate_limits:
        await _check_posts(session, viewer, community, site, new, now)
        if checks.uploads:
            await _check_uploads(session, viewer, community, site, new, now, checks.uploads)
    max_links = community_limits(community).get(
        "new_member_max_links", site["new_member_max_links"]
    )
    if new and count_links(body) > max_links:
        return "links"
    repeatable = len(body.strip()) < DUPLICATE_MIN_LENGTH and not count_links(body)
    if not repeatable and await _repeated(session, viewer.id, body, thread_id, now):
        return "duplicate"
    return None


async def check_uploads(
    session: AsyncSession, viewer: Viewer, community: Community, *, count: int, enabled: bool
) -> None:
    """For the library: refuse uploads past the day's limit (RateLimited with Retry-After)."""
    if not enabled or count <= 0 or exempt(viewer, community):
        return
    now = utcnow()
    site = await site_limits(session)
    await _check_uploads(
        session, viewer, community, site, is_new_member(viewer.user, now), now, count
    )


def _scopes(site: dict, community: Community):
    """(limits, community id to count in) pairs: the site's everywhere, the community's own."""
    yield site, None
    own = community_limits(community)
    if own:
        yield own, community.id


async def _check_posts(session, viewer, community, site, new, now) -> None:
    for limits, community_id in _scopes(site, community):
        for key, window in (("posts_per_minute", 60), ("posts_per_day", 86_400)):
            limit = limits.get(f"new_member_{key}" if new else key)
            if limit is None:
                continue
            since = now - timedelta(seconds=window)
            query = select(func.count(Post.id), func.min(Post.created_at)).where(
                Post.author_id == viewer.id, Post.created_at > since
            )
            if community_id is not None:
                query = query.where(Post.community_id == community_id)
            count, oldest = (await session.execute(query)).one()
            if count >= limit:
                unit = "minute" if window == 60 else "day"
                who = " in your first week" if new else ""
                _refuse(f"at most {limit} posts a {unit}{who}", oldest, window, now)


async def _check_uploads(session, viewer, community, site, new, now, adding: int) -> None:
    from connect.library.models import FileVersion

    since = now - timedelta(days=1)
    for limits, community_id in _scopes(site, community):
        limit = limits.get("new_member_uploads_per_day" if new else "uploads_per_day")
        if limit is None:
            continue
        query = select(func.count(FileVersion.id), func.min(FileVersion.created_at)).where(
            FileVersion.uploaded_by_id == viewer.id, FileVersion.created_at > since
        )
        if community_id is not None:
            query = query.where(FileVersion.file_id.in_(_files_in(community_id)))
        count, oldest = (await session.execute(query)).one()
        if count + adding > limit:
            who = " in your first week" if new else ""
            _refuse(f"at most {limit} uploads a day{who}", oldest or now, 86_400, now)


def _files_in(community_id: int):
    from connect.library.models import Entry, LibraryFile

    return (
        select(LibraryFile.id)
        .join(Entry, Entry.id == LibraryFile.entry_id)
        .where(Entry.community_id == community_id)
    )


def _refuse(rule: str, oldest: datetime | None, window: int, now: datetime) -> NoReturn:
    retry = int(((oldest or now) + timedelta(seconds=window) - now).total_seconds()) + 1
    raise RateLimited(
        f"You are posting faster than this site allows ({rule}). Try again in {_duration(retry)}.",
        retry_after=retry,
    )


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


async def _repeated(
    session: AsyncSession, user_id: int, body: str, thread_id: int | None, now: datetime
) -> bool:
    """The same text by the same member in another thread lately (spam across threads)."""
    query = select(Post.id).where(
        Post.author_id == user_id,
        Post.body == body,
        Post.created_at > now - DUPLICATE_WINDOW,
        Post.status != "deleted",
    )
    if thread_id is not None:
        query = query.where(Post.thread_id != thread_id)
    return (await session.execute(query.limit(1))).first() is not None
