"""Profile completeness: what a member has filled in, what is missing and where to fix it.

One checklist serves the owner's progress bar and the directory's "most complete" sort;
the sort counts only what others can see, so hidden fields cannot be probed through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect.accounts.models import User
from connect.boards.models import Post
from connect.communities.models import Membership
from connect.members.models import Profile, public_field_clause

TEXT_FIELDS = ("title", "organization", "bio", "interests")


@dataclass(frozen=True)
class Step:
    key: str
    label: str  # what to do, as a link text
    url: str


@dataclass(frozen=True)
class Completeness:
    done: tuple[str, ...]
    missing: tuple[Step, ...]

    @property
    def total(self) -> int:
        return len(self.done) + len(self.missing)

    @property
    def percent(self) -> int:
        return round(100 * len(self.done) / self.total)


def _steps(username: str) -> list[Step]:
    edit = f"/members/{username}/edit"
    return [
        Step("photo", "Add a photo", f"{edit}#f-avatar"),
        Step("title", "Add your job title", f"{edit}#f-title"),
        Step("organization", "Name your organization", f"{edit}#f-organization"),
        Step("bio", "Write a short bio", f"{edit}#f-bio"),
        Step("interests", "List your interests", f"{edit}#f-interests"),
        Step("post", "Write your first post", "/communities"),
        Step("community", "Join your first community", "/communities"),
    ]


def _has_post(user_id) -> ColumnElement[bool]:
    return exists().where(Post.author_id == user_id, Post.status == "published")


def _has_community(user_id) -> ColumnElement[bool]:
    return exists().where(Membership.user_id == user_id, Membership.status == "active")


async def completeness(session: AsyncSession, user: User) -> Completeness:
    """The owner's checklist (every field counts, public or not)."""
    profile = user.profile
    has_post, has_community = (
        await session.execute(select(_has_post(user.id), _has_community(user.id)))
    ).one()
    filled = {
        "photo": bool(profile.avatar_sha256),
        **{name: bool(getattr(profile, name).strip()) for name in TEXT_FIELDS},
        "post": bool(has_post),
        "community": bool(has_community),
    }
    steps = _steps(user.username)
    return Completeness(
        done=tuple(s.key for s in steps if filled[s.key]),
        missing=tuple(s for s in steps if not filled[s.key]),
    )


def score() -> ColumnElement[int]:
    """SQL (over User joined with Profile): how many steps are done, as others see them."""
    parts = [case((Profile.avatar_sha256.is_not(None), 1), else_=0)]
    for name in TEXT_FIELDS:
        parts.append(
            case((and_(getattr(Profile, name) != "", public_field_clause(name)), 1), else_=0)
        )
    parts.append(case((_has_post(User.id), 1), else_=0))
    parts.append(case((_has_community(User.id), 1), else_=0))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
