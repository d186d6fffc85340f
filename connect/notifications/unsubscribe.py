"""One-click unsubscribe links (RFC 8058): signed per member and scope, no sign-in needed."""

from __future__ import annotations

import hmac

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect import security
from connect.accounts.models import User
from connect.boards.models import NOT_FOLLOWING, Subscription
from connect.errors import NotFound
from connect.notifications.models import Notification
from connect.notifications.preferences import preferences_of


def unsubscribe_token(secret_key: str, user_id: int, scope: str) -> str:
    """A signed token for one user and one scope: "t<thread>", "c<community>" or "replies"."""
    value = f"{user_id}.{scope}"
    return f"{value}.{security.sign(secret_key, 'unsubscribe', value)[:32]}"


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[int, str]:
    try:
        user_id, scope, signature = token.split(".")
        expected = unsubscribe_token(secret_key, int(user_id), scope).rsplit(".", 1)[1]
    except ValueError:
        raise NotFound("This unsubscribe link is not valid.") from None
    if not hmac.compare_digest(signature, expected):
        raise NotFound("This unsubscribe link is not valid.")
    return int(user_id), scope


# What each link stops, in words: "replies" and "messages" (their real-time mail), "digest"
# (the digest mail, whatever it gathers), "t<thread>" and "c<community>" (a follow).
SCOPE_WORDS = {
    "replies": "emails about replies to you and mentions of you",
    "messages": "emails about private messages to you",
    "digest": "digest emails",
    "t": "emails from this thread",
    "c": "emails about new threads on this board",
}


def scope_words(scope: str) -> str:
    """What an unsubscribe link's scope stops, in words (NotFound for a scope we never sign)."""
    words = SCOPE_WORDS.get(scope) or (SCOPE_WORDS.get(scope[:1]) if scope[1:].isdigit() else None)
    if words is None:
        raise NotFound("This unsubscribe link is not valid.")
    return words


async def unsubscribe(session: AsyncSession, user_id: int, scope: str) -> str:
    """Apply an unsubscribe link; returns what stopped, in words."""
    words = scope_words(scope)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("This unsubscribe link is not valid.")
    if scope in ("replies", "messages"):
        prefs = dict(user.profile.preferences or {})
        prefs[f"email_{scope}"] = "in_app"
        user.profile.preferences = prefs
        return words
    if scope == "digest":
        await _stop_digests(session, user)
        return words
    kind, raw_id = scope[0], scope[1:]
    column = Subscription.thread_id if kind == "t" else Subscription.community_id
    query = select(Subscription).where(Subscription.user_id == user_id, column == int(raw_id))
    if kind == "c":
        query = query.where(Subscription.thread_id.is_(None))
    for sub in (await session.execute(query)).scalars():
        if kind == "t":
            sub.mode = NOT_FOLLOWING  # kept, so that a later reply does not follow it again
        else:
            await session.delete(sub)
    return words


async def _stop_digests(session: AsyncSession, user: User) -> None:
    """No more digest mail: every preference and follow in digest mode becomes in-app only,
    and what waits for the next digest stays in the app."""
    prefs = preferences_of(user)
    user.profile.preferences = {k: "in_app" if v == "digest" else v for k, v in prefs.items()}
    await session.execute(
        update(Subscription)
        .where(Subscription.user_id == user.id, Subscription.mode == "digest")
        .values(mode="in_app")
    )
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.email_mode == "digest",
            Notification.emailed_at.is_(None),
        )
        .values(email_mode="in_app")
    )
