"""Changing an account's email address: asked for with the password, done from a link sent
to the new address (so a typo cannot lock anyone out), with a notice to the old one."""

from __future__ import annotations

import base64
import hmac
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connect import security
from connect.accounts.models import User
from connect.accounts.service import EMAIL_RE, check_current_password, normalize_email
from connect.errors import Conflict, Invalid, NotFound
from connect.notifications.mail import queue_mail

VALID_FOR = timedelta(hours=24)
PURPOSE = "email-change"
LINK_PROBLEM = "This link is unknown, used or expired. Ask for the change again."


def _fingerprint(user: User) -> str:
    """Part of the link: it stops working once the address or the password changed."""
    return security.token_hash(f"{user.email}\n{user.password_hash}")[:16]


def change_token(secret_key: str, user: User, new_email: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + VALID_FOR.total_seconds())
    encoded = base64.urlsafe_b64encode(new_email.encode()).decode().rstrip("=")
    value = f"{user.id}.{expires}.{encoded}.{_fingerprint(user)}"
    return f"{value}.{security.sign(secret_key, PURPOSE, value)[:32]}"


def _read_token(secret_key: str, token: str) -> tuple[int, str, str]:
    """(user id, new address, fingerprint of the address it replaces), or NotFound."""
    try:
        user_id, expires, encoded, fingerprint, signature = token.split(".")
        value = token.rsplit(".", 1)[0]
        expected = security.sign(secret_key, PURPOSE, value)[:32]
        valid = hmac.compare_digest(signature, expected) and int(expires) > time.time()
        new_email = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        number = int(user_id)
    except (ValueError, UnicodeDecodeError):
        raise NotFound(LINK_PROBLEM) from None
    if not valid:
        raise NotFound(LINK_PROBLEM)
    return number, new_email, fingerprint


async def request_change(context, user: User, *, email, password, ip: str) -> str:
    """Check the password and the new address, then mail a confirmation link to it and a
    notice to the current one. Returns the new address; nothing changes until the link."""
    email = normalize_email(email) if isinstance(email, str) else ""
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise Invalid(
            "Enter the new address, like name@example.org.",
            fields={"email": "Enter an email address like name@example.org."},
        )
    await check_current_password(context, user, password, ip=ip, field="password")
    if email == user.email:
        raise Invalid("That is already your address.", fields={"email": "Already yours."})
    site = context.settings.site_name
    async with context.db.transaction() as session:
        taken = await session.scalar(select(User.id).where(User.email == email))
        if taken is not None:
            raise Conflict(
                "Another account uses that address.", fields={"email": "Used by another account."}
            )
        link = (
            f"{context.settings.base_url}/settings/email/confirm/"
            f"{change_token(context.secret_key, user, email)}"
        )
        queue_mail(
            session,
            to=email,
            user_id=user.id,
            subject=f"Confirm your new {site} address",
            body=f"Hello {user.display_name},\n\n"
            f"Open this link within 24 hours to use this address for the {site} account "
            f"'{user.username}':\n\n{link}\n\n"
            "If you did not ask for this, ignore this message; nothing changes.\n",
        )
        queue_mail(
            session,
            to=user.email,
            user_id=user.id,
            subject=f"Your {site} address is about to change",
            body=f"Hello {user.display_name},\n\n"
            f"Someone signed in as '{user.username}' asked to change the account's email "
            f"address to {email}. It changes only if the link sent there is opened.\n\n"
            "If this was not you, change your password now: the link then stops working.\n",
        )
    return email


async def check_link(context, token: str) -> tuple[User, str]:
    """The account and new address a link is for, while it may still be used."""
    user_id, new_email, fingerprint = _read_token(context.secret_key, token)
    async with context.db.read() as session:
        user = await session.get(User, user_id)
    if user is None or _fingerprint(user) != fingerprint:
        raise NotFound(LINK_PROBLEM)
    return user, new_email


async def confirm_change(context, token: str) -> User:
    """Use a confirmation link: the account's address becomes the new one."""
    user_id, new_email, fingerprint = _read_token(context.secret_key, token)
    try:
        async with context.db.transaction() as session:
            user = await session.get(User, user_id)
            if user is None or _fingerprint(user) != fingerprint:
                raise NotFound(LINK_PROBLEM)
            taken = await session.scalar(
                select(User.id).where(User.email == new_email, User.id != user.id)
            )
            if taken is not None:
                raise Conflict("Another account has used that address since; ask again.")
            user.email = new_email
    except IntegrityError:
        raise Conflict("Another account has used that address since; ask again.") from None
    return user
