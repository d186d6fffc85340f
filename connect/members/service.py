"""Member operations: profiles, the directory and avatars."""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, permissions
from connect.accounts.models import User
from connect.accounts.service import display_name_problem
from connect.db import contains_any_case, contains_pattern
from connect.errors import Forbidden, Invalid, NotFound, TooLarge, UnsupportedType
from connect.members.directory import DIRECTORY_EVENTS, DirectoryIndex
from connect.members.models import PROFILE_FIELDS, Profile, interest_clause, public_field_clause
from connect.moderation import audit
from connect.network import completeness
from connect.network.models import POLICIES
from connect.pagecache import ReadCache
from connect.permissions import Viewer

FIELD_LIMITS = {
    "display_name": 100,
    "pronouns": 40,
    "title": 120,
    "organization": 160,
    "location": 120,
    "bio": 10_000,
    "interests": 500,
}
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_MAX_PIXELS = 40_000_000  # larger images are refused before decoding (bombs)
AVATAR_SIZE = 256


def avatar_url(user: User) -> str | None:
    if user.profile and user.profile.avatar_sha256:
        return f"/members/{user.username}/avatar?v={user.profile.avatar_sha256[:12]}"
    return None


def member_json(user: User, viewer: Viewer) -> dict:
    """A member as the viewer may see them: public fields, or all of them for self/admin."""
    profile = user.profile
    shown = permissions.visible_profile_fields(
        viewer, user, profile.public_fields if profile else []
    )
    data = {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": avatar_url(user),
        "joined_at": user.created_at.isoformat(),
        "site_role": user.site_role,
    }
    for name in PROFILE_FIELDS:
        data[name] = (getattr(profile, name) or None) if profile and name in shown else None
    data["interests"] = profile.interest_list if profile and "interests" in shown else []
    if permissions.can_see_private_fields(viewer, user):
        data["email"] = user.email
        data["public_fields"] = list(profile.public_fields) if profile else []
        data["listed"] = profile.listed if profile else True
        data["contact_policy"] = profile.contact_policy if profile else "anyone"
        data["message_policy"] = profile.message_policy if profile else "anyone"
        data["preferences"] = dict(profile.preferences or {}) if profile else {}
        if user.suspended_until:
            data["suspended_until"] = user.suspended_until.isoformat()
    return data


async def get_member(session: AsyncSession, username: str) -> User:
    """The member with this username; a deleted account has none (404)."""
    user = (
        await session.execute(
            select(User).where(User.username == username.lower(), User.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("No member has that username.")
    return user


def _clean_profile_changes(changes: dict) -> tuple[dict, dict[str, str]]:
    clean: dict = {}
    problems: dict[str, str] = {}
    for name, value in changes.items():
        if name in FIELD_LIMITS:
            if not isinstance(value, str):
                problems[name] = "Must be text."
                continue
            bio = name == "bio"
            value = value.replace("\r\n", "\n").strip() if bio else markup.one_line(value)
            if len(value) > FIELD_LIMITS[name]:
                problems[name] = f"Use at most {FIELD_LIMITS[name]} characters."
                continue
            if name == "display_name" and (problem := display_name_problem(value)):
                problems[name] = problem
                continue
            if name == "interests":
                kept: dict[str, str] = {}  # the first spelling of each interest, in order
                for interest in filter(None, (i.strip() for i in value.split(","))):
                    kept.setdefault(interest.casefold(), interest)
                value = ", ".join(kept.values())
            clean[name] = value
        elif name == "public_fields":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems[name] = "A list of profile field names."
                continue
            unknown = set(value) - set(PROFILE_FIELDS)
            if unknown:
                problems[name] = f"Unknown fields: {', '.join(sorted(unknown))}."
                continue
            clean[name] = [f for f in PROFILE_FIELDS if f in value]
        elif name == "listed":
            if not isinstance(value, bool):
                problems[name] = "true or false."
                continue
            clean[name] = value
        elif name in ("contact_policy", "message_policy"):
            if value not in POLICIES:
                problems[name] = f"One of: {', '.join(POLICIES)}."
                continue
            clean[name] = value
    return clean, problems


async def update_profile(
    session: AsyncSession,
    viewer: Viewer,
    user: User,
    changes: dict,
    *,
    avatar_sha256: str | None = None,
) -> User:
    if not permissions.can_edit_profile(viewer, user):
        raise Forbidden("You can only edit your own profile.")
    clean, problems = _clean_profile_changes(changes)
    if problems:
        raise Invalid("Some profile fields need another look.", fields=problems)
    if avatar_sha256:
        clean["avatar_sha256"] = avatar_sha256
    user = await session.get(User, user.id)
    before = {
        name: user.display_name if name == "display_name" else getattr(user.profile, name)
        for name in clean
    }
    for name, value in clean.items():
        if name == "display_name":
            user.display_name = value
        else:
            setattr(user.profile, name, value)
    if viewer.id != user.id:  # an administrator's edit of someone else's profile
        await audit.record(
            session,
            viewer,
            "profile.edit",
            target_kind="member",
            target_id=user.id,
            target_user=user,
            summary=", ".join(sorted(clean)),
            before=before,
            after=clean,
        )
    await events.record(
        session,
        "member.updated",
        actor_id=viewer.id,
        subject_id=user.id,
        data={"username": user.username},
    )
    return user


def _reencode_avatar(data: bytes) -> bytes:
    """Decode at most AVATAR_MAX_PIXELS, turn upright, crop to a square, re-encode as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ("PNG", "JPEG", "GIF", "WEBP"):
                raise UnsupportedType("Upload a PNG, JPEG, GIF or WebP image.")
            width, height = probe.size
            if width * height > AVATAR_MAX_PIXELS:
                raise TooLarge("That image has too many pixels; use a smaller one.")
            image = _upright(probe).convert("RGBA")
    except Image.DecompressionBombError:
        # Pillow refuses to even open images far past its own pixel limit: still too large.
        raise TooLarge("That image has too many pixels; use a smaller one.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UnsupportedType("That file is not an image we can read.") from None
    side = min(image.size)
    left = (image.width - side) // 2
    top = (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image.thumbnail((AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says: phones store photos sideways."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block: the pixels as stored are still a photo
        return image


async def prepare_avatar(context, data: bytes) -> str:
    """Check, re-encode and store an avatar image; returns the stored blob's sha256."""
    if not data:
        raise Invalid("Choose an image file.", fields={"avatar": "Choose an image file."})
    if len(data) > AVATAR_MAX_BYTES:
        raise TooLarge("The photo is larger than 5 MB.")
    async with context.image_slots:
        png = await asyncio.to_thread(_reencode_avatar, data)
    blob = await asyncio.to_thread(context.storage.put_bytes, png)
    return blob.sha256


_DIRECTORY_VERSION = events.latest_of(DIRECTORY_EVENTS)


async def directory(
    session: AsyncSession,
    viewer: Viewer,
    *,
    cache: ReadCache | None = None,
    index: DirectoryIndex | None = None,
    q: str = "",
    organization: str = "",
    location: str = "",
    interest: str = "",
    sort: str = "name",
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[User], int]:
    """Listed members, filtered by name, organization, location and interest (public fields
    only; `q` looks in names, usernames, titles and organizations), by name or most complete
    profile first.

    Which members are listed, and in what order, is the same for every viewer: with a
    `cache` it is kept for the newest of DIRECTORY_EVENTS, read first in this session, so an
    edit or a sign-up shows to the next request. A filter's matches are kept whole (every
    page of them, for the page and the API alike); the unfiltered list a page at a time.
    With an `index`, filters in name order are matched in memory (connect.members.directory)
    instead of by a scan in SQL. The members' rows are read afresh each time."""
    criteria = (q, organization, location, interest)
    if any("\x00" in value for value in criteria):
        return [], 0  # no text holds NUL (PostgreSQL refuses it in text)
    filtered = any(value.strip() for value in criteria)
    offset = (page - 1) * per_page
    version = None
    if cache is not None or index is not None:
        version = (await session.execute(_DIRECTORY_VERSION)).scalar()
    if filtered:

        async def matches() -> tuple[int, ...]:
            if index is not None and sort == "name":
                return (await index.snapshot(session, version)).matches(*criteria)
            return await _matches(session, *criteria, sort)

        found = await _kept(cache, (version, "matches", *criteria, sort), matches, _ids_size)
        ids, total = found[offset : offset + per_page], len(found)
    else:
        ids, total = await _kept(
            cache,
            (version, "listed", sort, offset, per_page),
            lambda: _listed(session, sort, offset, per_page),
            _page_size,
        )
    if not ids:
        return [], total
    rows = (await session.execute(select(User).where(User.id.in_(ids)))).scalars().unique()
    by_id = {user.id: user for user in rows}
    return [by_id[i] for i in ids if i in by_id], total


async def _kept(cache: ReadCache | None, key: tuple, load, size):
    if cache is None:
        return await load()
    return await cache.get_or_load(key, load, size)


def _ids_size(ids: tuple[int, ...]) -> int:
    return 200 + 40 * len(ids)


def _page_size(value: tuple[tuple[int, ...], int]) -> int:
    return _ids_size(value[0])


def _order(sort: str, name) -> tuple:
    order = (name, User.id)
    if sort == "complete":
        order = (completeness.score().desc(), *order)
    return order


async def _matches(
    session: AsyncSession, q: str, organization: str, location: str, interest: str, sort: str
) -> tuple[int, ...]:
    """The ids of every listed member matching the filters, in the directory's order: one
    scan of the members, the matches sorted (a page of a common name is a slice of it)."""
    query = select(User.id).join(Profile).where(Profile.listed.is_(True))
    if q.strip():
        query = query.where(
            or_(
                # Usernames are lowercase ASCII (accounts.USERNAME_RE): nothing to fold.
                User.username.like(contains_pattern(q.strip().lower()[:100]), escape="\\"),
                contains_any_case(User.display_name, q.strip()[:100]),
                # Titles and organizations, where the member shows them to everyone.
                *(
                    and_(
                        contains_any_case(column, q.strip()[:100]),
                        public_field_clause(name),
                    )
                    for column, name in (
                        (Profile.title, "title"),
                        (Profile.organization, "organization"),
                    )
                ),
            )
        )
    for column, name, value in (
        (Profile.organization, "organization", organization),
        (Profile.location, "location", location),
    ):
        if value.strip():
            # A hidden field must not be searchable by outsiders.
            query = query.where(
                contains_any_case(column, value.strip()[:100]),
                public_field_clause(name),
            )
    if interest.strip():
        query = query.where(interest_clause(interest[:100]))
    # `|| ''` keeps the order and the planner off ix_users_display_name_lower: walking it
    # visits every member to find the few that match.
    rows = await session.execute(query.order_by(*_order(sort, func.lower(User.display_name) + "")))
    return tuple(rows.scalars())


async def _listed(
    session: AsyncSession, sort: str, offset: int, per_page: int
) -> tuple[tuple[int, ...], int]:
    """One page of the unfiltered directory, walked in ix_users_display_name_lower's order,
    and how many members are listed."""
    # Every profile is one member's (its key is the user's): no join needed.
    listed = select(func.count()).select_from(Profile).where(Profile.listed.is_(True))
    total = (await session.execute(listed)).scalar()
    if offset >= total:
        return (), total
    query = select(User.id).join(Profile).where(Profile.listed.is_(True))
    order = _order(sort, func.lower(User.display_name))
    rows = await session.execute(query.order_by(*order).offset(offset).limit(per_page))
    return tuple(rows.scalars()), total
