"""Passwords, tokens, CSRF, sign-in throttling and the security headers on every response."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from connect.errors import Invalid, RateLimited

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


# Passwords -------------------------------------------------------------------


class Passwords:
    """argon2id hashing off the event loop, with a cap on how many run at once."""

    def __init__(self, max_concurrent: int = 2, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()  # RFC 9106 low-memory profile
        self._slots = asyncio.Semaphore(max(1, max_concurrent))
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check a password; an unknown user is checked against a dummy hash (same timing)."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("connect").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def check_password_rules(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why the password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is among the most common ones; choose another."
    if username and lowered == username.lower() or email and lowered == email.lower():
        return "Your password must differ from your username and email."
    return None


def validate_password(password: str, *, username: str = "", email: str = "") -> None:
    problem = check_password_rules(password, username=username, email=email)
    if problem:
        raise Invalid(problem, fields={"password": problem})


# Tokens ----------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret_key: str, purpose: str, value: str) -> str:
    """An HMAC of value for one purpose; purposes never share signatures."""
    return hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret_key: str, session_key: str) -> str:
    """The CSRF token for a browser: bound to its session (or its anonymous nonce)."""
    return sign(secret_key, "csrf", session_key)


def csrf_matches(secret_key: str, session_key: str | None, presented: str | None) -> bool:
    if not session_key or not presented:
        return False
    return hmac.compare_digest(csrf_token(secret_key, session_key), presented)


# Sign-in throttling ------------------------------------------------------------


class Throttle:
    """Slows repeated failures per key with exponential backoff, never a hard lockout.

    A key (an IP, an account, an account from one IP) gets `free` failures in
    `window` seconds; each later failure doubles the wait, up to `cap` seconds.
    The account-wide cap is short, so an attacker can slow an account but not
    lock its owner out; the tighter limits follow the attacker's own address.
    """

    def __init__(self, *, free: int, cap: float, window: float = 900.0) -> None:
        self.free, self.cap, self.window = free, cap, window
        self._failures: dict[str, tuple[int, float]] = {}

    def retry_after(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        count, last = self._failures.get(key, (0, 0.0))
        if count <= self.free or now - last > self.window:
            return 0.0
        wait = min(self.cap, 2 ** (count - self.free))
        return max(0.0, last + wait - now)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        count, last = self._failures.get(key, (0, 0.0))
        if now - last > self.window:
            count = 0
        self._failures[key] = (count + 1, now)
        if len(self._failures) > 100_000:
            self._forget_old(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key, (_, last) in list(self._failures.items()):
            if now - last > self.window:
                del self._failures[key]


class LoginThrottle:
    """Counts failed sign-ins per address, per login text and per account.

    The login text (username or email, even one no account has) and the account it
    resolves to are both counted, so switching from username to email starts no new count.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.by_ip = Throttle(free=20, cap=900)
        self.by_account_ip = Throttle(free=5, cap=900)
        self.by_account = Throttle(free=50, cap=30)

    def _keys(self, login: str, ip: str, account: int | None) -> list[tuple[Throttle, str]]:
        login = login.strip().lower()
        keys = [
            (self.by_ip, ip),
            (self.by_account_ip, f"{login}|{ip}"),
            (self.by_account, login),
        ]
        if account is not None:
            # "#" never starts a username or an email address, so the keys cannot collide.
            keys += [(self.by_account_ip, f"#{account}|{ip}"), (self.by_account, f"#{account}")]
        return keys

    def check(self, login: str, ip: str, account: int | None = None) -> None:
        if not self.enabled:
            return
        wait = max(t.retry_after(k) for t, k in self._keys(login, ip, account))
        if wait > 0:
            raise RateLimited(
                "Too many failed sign-in attempts. Wait a little and try again.",
                retry_after=int(wait) + 1,
            )

    def failed(self, login: str, ip: str, account: int | None = None) -> None:
        for throttle, key in self._keys(login, ip, account):
            throttle.failed(key)

    def succeeded(self, logins: list[str], ip: str, account: int | None = None) -> None:
        """Forget the account's failures under each of its logins (not the address's)."""
        for login in logins:
            for throttle, key in self._keys(login, ip, account)[1:]:
                throttle.succeeded(key)


# Security headers --------------------------------------------------------------

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self' ws: wss:; form-action 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

# For user-supplied files (avatars, downloads): nothing inside may run or load anything.
FILE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; sandbox; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (a route may set a stricter CSP)."""

    def __init__(self, app, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLimit:
    """At most `per` requests for a key in `window` seconds (e.g. reset mails to one address)."""

    def __init__(self, *, per: int, window: float, enabled: bool = True) -> None:
        self.per, self.window, self.enabled = per, window, enabled
        self._times: dict[str, list[float]] = {}

    def check(self, key: str, now: float | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        recent = [t for t in self._times.get(key, []) if now - t < self.window]
        if len(recent) >= self.per:
            raise RateLimited(
                "Too many requests for this address. Try again later.",
                retry_after=int(self.window - (now - recent[0])) + 1,
            )
        recent.append(now)
        self._times[key] = recent
        if len(self._times) > 100_000:
            self._times = {k: v for k, v in self._times.items() if now - v[-1] < self.window}
