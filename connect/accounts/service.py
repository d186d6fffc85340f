"""Account operations: register, sign in, sessions and tokens, password reset."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connect import events, markup, security
from connect.accounts.models import PasswordReset, Token, User
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, Invalid, NotFound, NotSignedIn
from connect.members.models import Profile
from connect.notifications.mail import queue_mail

USERNAME_RE = re.compile(r"[a-z0-9_-]{2,40}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
RESERVED_USERNAMES = frozenset({"api", "me", "new", "edit", "setup", "static", "system"})
# Deleted accounts are renamed deleted-<id> (connect.accounts.deletion): nobody signs up so,
# and nobody else goes by their name.
RESERVED_PREFIX = "deleted-"
FORMER_MEMBER = "Former member"
RESET_VALID_FOR = timedelta(hours=2)
BAD_CREDENTIALS = "The username/email or password is not right."


def former_username_key(secret_key: str, username: str) -> str:
    """What a deleted account keeps of its username: enough to refuse it to new accounts."""
    return security.sign(secret_key, "former-username", username)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def display_name_problem(display_name: str) -> str | None:
    """What is wrong with a name members would see, or None."""
    if not display_name.strip():
        return "Enter the name other members will see."
    if len(display_name) > 100:
        return "Use at most 100 characters."
    if display_name.strip().casefold() == FORMER_MEMBER.casefold():
        return f"“{FORMER_MEMBER}” stands for deleted accounts; choose another name."
    return None


def check_registration(username: str, email: str, display_name: str) -> dict[str, str]:
    """Field problems with a new account's details (empty when all is well)."""
    problems: dict[str, str] = {}
    if not USERNAME_RE.fullmatch(username):
        problems["username"] = (
            "Use 2 to 40 characters: lowercase letters, digits, hyphens and underscores."
        )
    elif username in RESERVED_USERNAMES or username.startswith(RESERVED_PREFIX):
        problems["username"] = "That username is reserved; choose another."
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        problems["email"] = "Enter an email address like name@example.org."
    if problem := display_name_problem(display_name):
        problems["display_name"] = problem
    return problems


async def register(
    context,
    *,
    username: str,
    email: str,
    password: str,
    display_name: str = "",
    site_role: str = "member",
    first: bool = False,
) -> User:
    """A new account. `first`: only while the site has none (the setup page), decided in the
    same transaction as the insert, so that of two setups racing one wins."""
    username = username.strip().lower() if isinstance(username, str) else ""
    email = normalize_email(email) if isinstance(email, str) else ""
    display_name = (
        markup.one_line(display_name or username) if isinstance(display_name, str) else ""
    )
    password = password if isinstance(password, str) else ""
    problems = check_registration(username, email, display_name)
    password_problem = security.check_password_rules(password, username=username, email=email)
    if password_problem:
        problems["password"] = password_problem
    if problems:
        raise Invalid("Some details need another look.", fields=problems)
    async with context.db.read() as session:
        taken = await _taken_fields(session, context.secret_key, username, email)
    if taken:
        raise Conflict("That account already exists.", fields=taken)
    password_hash = await context.passwords.hash(password)
    try:
        async with context.db.transaction() as session:
            if first:
                if not context.db.is_sqlite:  # SQLite's write transactions already queue
                    await session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
                if not await site_is_empty(session):
                    raise NotFound("The site is already set up.")
            user = User(
                username=username,
                email=email,
                password_hash=password_hash,
                display_name=display_name,
                site_role=site_role,
                created_at=utcnow(),
            )
            user.profile = Profile()
            session.add(user)
            await session.flush()
            await events.record(
                session,
                "member.created",
                actor_id=user.id,
                subject_id=user.id,
                data={"username": user.username},
            )
    except IntegrityError:
        # Two sign-ups raced for the same name: the database kept one.
        raise Conflict(
            "That account already exists.", fields={"username": "That username is taken."}
        ) from None
    return user


async def _taken_fields(
    session: AsyncSession, secret_key: str, username: str, email: str
) -> dict[str, str]:
    taken: dict[str, str] = {}
    former = former_username_key(secret_key, username)
    rows = await session.execute(
        select(User.username, User.email, User.former_username_key).where(
            (User.username == username)
            | (User.email == email)
            | (User.former_username_key == former)
        )
    )
    for row_username, row_email, row_former in rows:
        if row_username == username or row_former == former:
            taken["username"] = "That username is taken."
        if row_email == email:
            taken["email"] = "An account with that email already exists."
    return taken


async def site_is_empty(session: AsyncSession) -> bool:
    # One row looked at, not a count of every member: the home page asks each time.
    return (await session.execute(_ANY_USER)).first() is None


_ANY_USER = select(User.id).limit(1)


async def create_first_admin(
    context, *, username: str, email: str, password: str, display_name: str = ""
) -> User:
    """The setup page's action: works only while the site has no account."""
    async with context.db.read() as session:
        if not await site_is_empty(session):
            raise NotFound("The site is already set up.")
    return await register(
        context,
        username=username,
        email=email,
        password=password,
        display_name=display_name,
        site_role="admin",
        first=True,
    )


async def authenticate(context, *, login: str, password: str, ip: str) -> User:
    """The user for these credentials; the same error, in similar time, for any mistake."""
    login = login.strip().lower() if isinstance(login, str) else ""
    password = password if isinstance(password, str) else ""
    throttle = context.login_throttle
    throttle.check(login, ip)
    user = None
    if login and len(login) <= 254:
        async with context.db.read() as session:
            column = User.email if "@" in login else User.username
            user = (await session.execute(select(User).where(column == login))).scalar_one_or_none()
    if user is not None and user.is_deleted:
        user = None  # checked against the dummy hash: answered like an unknown account
    account = user.id if user else None
    throttle.check(login, ip, account)
    ok = await context.passwords.verify(user.password_hash if user else None, password[:1024])
    if not ok or user is None:
        throttle.failed(login, ip, account)
        raise NotSignedIn(BAD_CREDENTIALS, code="bad_credentials")
    throttle.succeeded([user.username, user.email], ip, account)
    new_hash = None
    if context.passwords.needs_rehash(user.password_hash):
        new_hash = await context.passwords.hash(password)
    async with context.db.transaction() as session:
        fresh = await session.get(User, user.id)
        fresh.last_login_at = utcnow()
        if new_hash:
            fresh.password_hash = new_hash
    return fresh


async def issue_token(
    session: AsyncSession, user: User, *, kind: str, name: str = "", days: int | None = None
) -> tuple[str, Token]:
    """A new session or API token; only its hash is stored, the raw value is returned once."""
    raw = security.new_token()
    now = utcnow()
    token = Token(
        user_id=user.id,
        kind=kind,
        token_hash=security.token_hash(raw),
        name=name[:100],
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(token)
    await session.flush()
    return raw, token


async def list_tokens(session: AsyncSession, user: User) -> list[Token]:
    """The member's sessions and tokens that still work (expired ones sign nobody in)."""
    rows = await session.execute(
        select(Token)
        .where(
            Token.user_id == user.id,
            (Token.expires_at.is_(None)) | (Token.expires_at > utcnow()),
        )
        .order_by(Token.created_at.desc())
    )
    return list(rows.scalars())


async def revoke_token(session: AsyncSession, user: User, token_id: int) -> None:
    token = await session.get(Token, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    await session.delete(token)


async def revoke_by_raw(session: AsyncSession, raw: str) -> None:
    await session.execute(delete(Token).where(Token.token_hash == security.token_hash(raw)))


async def request_password_reset(context, *, email: str) -> None:
    """Queue a one-time reset link if the address has an account; say nothing either way.

    The caller sends the queue after answering, so timing does not tell whether
    an account exists. A few requests per address an hour, then 429.
    """
    email = normalize_email(email) if isinstance(email, str) else ""
    if not EMAIL_RE.fullmatch(email):
        raise Invalid(
            "Enter the email address of your account.", fields={"email": "Enter an email address."}
        )
    context.reset_throttle.check(email)
    raw = security.new_token()
    async with context.db.transaction() as session:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            return
        now = utcnow()
        session.add(
            PasswordReset(
                user_id=user.id,
                token_hash=security.token_hash(raw),
                created_at=now,
                expires_at=now + RESET_VALID_FOR,
            )
        )
        link = f"{context.settings.base_url}/password/reset/{raw}"
        queue_mail(
            session,
            to=user.email,
            user_id=user.id,
            subject=f"Reset your {context.settings.site_name} password",
            body=f"Hello {user.display_name},\n\n"
            f"Someone (hopefully you) asked to reset the password of the account "
            f"'{user.username}'. Open this link within two hours to choose a new one:\n\n"
            f"{link}\n\nIf you did not ask for this, ignore this message; nothing changes.\n",
        )


async def reset_password(context, *, token: str, password: str) -> User:
    """Use a reset link once: set the new password and end every session and token."""
    async with context.db.read() as session:
        reset = await _valid_reset(session, token)
        user = await session.get(User, reset.user_id)
    security.validate_password(password, username=user.username, email=user.email)
    password_hash = await context.passwords.hash(password)
    async with context.db.transaction() as session:
        reset = await _valid_reset(session, token)
        reset.used_at = utcnow()
        user = await session.get(User, reset.user_id)
        user.password_hash = password_hash
        # Whoever knew the old password is locked out: every session and API token ends,
        # and other reset links for this account stop working.
        await session.execute(delete(Token).where(Token.user_id == user.id))
        await void_resets(session, user.id)
    return user


async def void_resets(session: AsyncSession, user_id: int) -> None:
    """Every unused reset link of the account stops working: one asked for before its
    password changed must not change it back."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )


async def check_reset_token(context, token: str) -> None:
    async with context.db.read() as session:
        await _valid_reset(session, token)


async def _valid_reset(session: AsyncSession, token: str) -> PasswordReset:
    reset = (
        await session.execute(
            select(PasswordReset).where(PasswordReset.token_hash == security.token_hash(token))
        )
    ).scalar_one_or_none()
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise NotFound("This reset link is unknown, used or expired. Ask for a new one.")
    return reset


async def check_current_password(context, user: User, password, *, ip: str, field: str) -> None:
    """Forbidden unless `password` is the member's; wrong guesses count with the sign-in
    throttle (429 after a few), so a signed-in page cannot be used to guess it."""
    context.login_throttle.check(user.username, ip, user.id)
    given = password[:1024] if isinstance(password, str) else ""
    if not await context.passwords.verify(user.password_hash, given):
        context.login_throttle.failed(user.username, ip, user.id)
        raise Forbidden("Your current password is not right.", fields={field: "Not right."})
    context.login_throttle.succeeded([user.username, user.email], ip, user.id)


async def change_password(
    context, user: User, *, current: str, new: str, ip: str, keep_token_id: int | None
) -> int:
    """Set a new password and end the member's other browser sessions (not this one).

    API tokens stay: the member sees them listed and decides. Reset links asked for before
    stop working. Wrong guesses at the current password count with the sign-in throttle.
    Returns how many sessions ended.
    """
    await check_current_password(context, user, current, ip=ip, field="current_password")
    security.validate_password(new, username=user.username, email=user.email)
    password_hash = await context.passwords.hash(new)
    async with context.db.transaction() as session:
        fresh = await session.get(User, user.id)
        fresh.password_hash = password_hash
        await void_resets(session, user.id)
        others = delete(Token).where(Token.user_id == user.id, Token.kind == "session")
        if keep_token_id is not None:
            others = others.where(Token.id != keep_token_id)
        ended = await session.execute(others)
    return ended.rowcount or 0
