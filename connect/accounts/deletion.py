"""Deleting one's own account (Settings → Delete account, DELETE /api/v1/me).

The users row stays, because posts, threads, library entries and messages point at it and
stay readable; it is anonymised ("Former member") and everything personal goes, in one
short write transaction. A `member.deleted` event tells the search indexer (the member's
document goes, what they wrote loses their name) and the live hub (their sockets close).
"""

from __future__ import annotations

import logging
import re
import secrets

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, storage
from connect.accounts.models import Token, User
from connect.accounts.service import (
    FORMER_MEMBER,
    RESERVED_PREFIX,
    check_current_password,
    former_username_key,
    void_resets,
)
from connect.boards.models import Subscription, ThreadRead
from connect.communities import memberships
from connect.db import utcnow
from connect.errors import Conflict, NotFound
from connect.events import Event
from connect.members.models import PROFILE_FIELDS
from connect.messages.models import Participant
from connect.network.models import Block, Contact
from connect.notifications.models import DigestRun, Notification, OutgoingMail

log = logging.getLogger("connect.accounts")
# Not an argon2 hash: every password checked against it fails.
UNUSABLE_PASSWORD_HASH = "!deleted"


def placeholder_email(user_id: int) -> str:
    """Unique, and no address anyone can sign up with or change to (accounts.EMAIL_RE wants
    a dot in the domain), so the real one is free for a new account."""
    return f"{RESERVED_PREFIX}{user_id}@invalid"


async def refusal(session: AsyncSession, user: User, *, lock: bool = False) -> Conflict | None:
    """Why the account may not be deleted yet, or None. `lock` (in the deleting
    transaction): two administrators or co-owners deleting at once cannot both pass."""
    if user.site_role == "admin":
        admins = select(User.id).where(User.site_role == "admin")
        found = (await session.execute(admins.with_for_update() if lock else admins)).all()
        if len(found) <= 1:
            return Conflict(
                "You are the site's only administrator. Make another member an administrator "
                "(Moderation → Site staff) before deleting your account.",
                code="last_administrator",
            )
    sole = await memberships.solely_owned(session, user.id, lock=lock)
    if sole:
        return Conflict(
            f"You are the only owner of {', '.join(sole)}. Hand ownership over first: make "
            "another member an owner on the community's Members page, then delete your account.",
            code="sole_owner",
        )
    return None


async def delete_account(context, user: User, *, password, ip: str) -> None:
    """Check the password, then anonymise the account and end all it had; the avatar's file
    goes after the commit."""
    await check_current_password(context, user, password, ip=ip, field="password")
    async with context.db.transaction() as session:
        account = await session.get(User, user.id)
        if account is None or account.is_deleted:
            raise NotFound("No member has that username.")
        refused = await refusal(session, account, lock=True)
        if refused is not None:
            raise refused
        avatar = account.profile.avatar_sha256 if account.profile else None
        former = account.username
        await _end_everything(session, account)
        await _anonymise(session, account, former_username_key(context.secret_key, former))
        await _scrub_replayable_events(
            session, account, former, context.settings.live_replay_events
        )
        await events.record(session, "member.deleted", actor_id=account.id, subject_id=account.id)
    if avatar:
        try:
            await storage.forget(context.db, context.storage, avatar)
        except OSError:  # the account is gone all the same; `connect gc` removes the file
            log.warning("could not remove the avatar of deleted account %s", user.id)


async def _end_everything(session: AsyncSession, account: User) -> None:
    user_id = account.id
    await session.execute(delete(Token).where(Token.user_id == user_id))
    await void_resets(session, user_id)
    # Pending email changes need nothing: their links stop working once the address or the
    # password hash changes (connect.accounts.email_change).
    await memberships.end_all(session, user_id)
    await session.execute(
        delete(Contact).where(or_(Contact.requester_id == user_id, Contact.addressee_id == user_id))
    )
    await session.execute(
        delete(Block).where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id))
    )
    for model in (Subscription, ThreadRead, Notification, DigestRun):
        await session.execute(delete(model).where(model.user_id == user_id))
    await session.execute(
        delete(OutgoingMail).where(OutgoingMail.user_id == user_id, OutgoingMail.sent_at.is_(None))
    )
    # Their conversations stay for the others, as if they had left them.
    await session.execute(
        update(Participant)
        .where(Participant.user_id == user_id, Participant.left_at.is_(None))
        .values(left_at=utcnow())
    )
    # Notifications they caused name them first ("Ann Lee replied to you ..."), and an
    # accepted contact request leads to their profile: neither any more.
    caused = update(Notification).execution_options(synchronize_session=False)
    renamed = literal(FORMER_MEMBER) + func.substr(
        Notification.title, len(account.display_name) + 1
    )
    await session.execute(
        caused.where(
            Notification.actor_id == user_id,
            Notification.title.startswith(account.display_name + " ", autoescape=True),
        ).values(title=func.substr(renamed, 1, 300))
    )
    await session.execute(
        caused.where(
            Notification.actor_id == user_id, Notification.url == f"/members/{account.username}"
        ).values(url="/notifications")
    )
    await _rename_in_unsent_mail(session, account.display_name)


async def _rename_in_unsent_mail(session: AsyncSession, name: str) -> None:
    """Mail to others not sent yet repeats those notifications' titles: a notice's subject
    and first line, a digest's items ("- Ann Lee replied ...")."""
    starts = re.compile(rf"(?m)^(- )?{re.escape(name)}(?= )")
    rows = await session.execute(
        select(OutgoingMail.id, OutgoingMail.subject, OutgoingMail.body).where(
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.body.contains(name, autoescape=True),
        )
    )
    for mail_id, subject, body in rows.all():
        renamed = starts.sub(lambda m: (m.group(1) or "") + FORMER_MEMBER, body)
        if subject.startswith(name + " "):
            subject = (FORMER_MEMBER + subject[len(name) :])[:300]
        if renamed != body:
            await session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == mail_id)
                .values(subject=subject, body=renamed)
            )


async def _anonymise(session: AsyncSession, account: User, former_key: str) -> None:
    name = f"{RESERVED_PREFIX}{account.id}"
    if await session.scalar(select(User.id).where(User.username == name, User.id != account.id)):
        name = f"{name}-{secrets.token_hex(4)}"  # an account from before the prefix was kept
    account.username = name
    account.email = placeholder_email(account.id)
    account.password_hash = UNUSABLE_PASSWORD_HASH
    account.display_name = FORMER_MEMBER
    account.site_role = "member"
    account.last_login_at = None
    account.suspended_until = None
    account.suspension_reason = None
    account.deleted_at = utcnow()
    account.former_username_key = former_key
    profile = account.profile
    if profile is not None:
        for field in PROFILE_FIELDS:
            setattr(profile, field, "")
        profile.avatar_sha256 = None
        profile.public_fields = []
        profile.listed = False
        profile.preferences = {}


async def _scrub_replayable_events(
    session: AsyncSession, account: User, former: str, window: int
) -> None:
    """Live clients that reconnect are sent the events they missed, up to `window` of the
    newest: in those the member caused, their name and avatar become the former member's."""
    latest = await events.latest_id(session)
    rows = await session.execute(
        select(Event.id, Event.data).where(Event.actor_id == account.id, Event.id > latest - window)
    )
    for event_id, data in rows.all():
        scrubbed, changed = _scrub(data, former, account)
        if changed:
            await session.execute(update(Event).where(Event.id == event_id).values(data=scrubbed))


def _scrub(value, former: str, account: User):
    """`value` with every author block ({"username": former, ...}) naming the former member
    instead, and whether anything changed."""
    if isinstance(value, dict):
        if value.get("username") == former:
            return {
                **value,
                "username": account.username,
                "display_name": FORMER_MEMBER,
                "avatar_url": None,
            }, True
        changed = False
        out = {}
        for key, item in value.items():
            out[key], hit = _scrub(item, former, account)
            changed |= hit
        return out, changed
    if isinstance(value, list):
        pairs = [_scrub(item, former, account) for item in value]
        return [item for item, _ in pairs], any(hit for _, hit in pairs)
    return value, False
