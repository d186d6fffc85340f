"""Outgoing mail: a queue in the database, sent through SMTP (aiosmtplib) when
CONNECT_SMTP_URL is set, else written as .eml files. A message leaves the queue
once it was accepted, or fails for good: at once when the server refuses it (5xx),
after CONNECT_MAIL_GIVE_UP_AFTER hours of temporary failures (4xx, no connection)
retried with backoff.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import os
import secrets
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connect.db import utcnow
from connect.notifications.models import OutgoingMail
from connect.settings import Settings

log = logging.getLogger("connect.mail")
HEADERS_UNFOLDED = email.policy.default.clone(max_line_length=998)
MAX_BACKOFF = timedelta(hours=6)
CLAIM_FOR = timedelta(minutes=10)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = settings.path("mail")

    def compose(
        self, to: str, subject: str, text: str, *, headers: dict[str, str] | None = None
    ) -> EmailMessage:
        # Headers fold at 998 characters (RFC 5322's limit), not 78: folded, a long
        # List-Unsubscribe address turns into encoded words mail clients cannot use.
        message = EmailMessage(policy=HEADERS_UNFOLDED)
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = " ".join(subject.split())  # a line break would refuse the mail
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="connect.local")
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        return message

    async def send(
        self, to: str, subject: str, text: str, *, headers: dict[str, str] | None = None
    ) -> None:
        message = self.compose(to, subject, text, headers=headers)
        if self.settings.smtp_url:
            await self._send_smtp(message)
        else:
            await asyncio.to_thread(self._write_eml, message)

    async def _send_smtp(self, message: EmailMessage) -> None:
        url = urlsplit(self.settings.smtp_url)
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            # smtps: TLS from the start. smtp: STARTTLS whenever the server offers it (port
            # 587's submission servers want it before a password).
            use_tls=url.scheme == "smtps",
            start_tls=False if url.scheme == "smtps" else None,
            # The server's certificate is checked against the system's authorities before
            # a password goes to it, and always with smtps. Without a password (a relay on
            # this machine or network, which often offers STARTTLS with a self-signed
            # certificate) the upgrade encrypts without checking, as relays do between them.
            validate_certs=url.scheme == "smtps" or url.password is not None,
            timeout=20,
        )

    def _write_eml(self, message: EmailMessage) -> Path:
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(6)}.eml"
        final = self.outbox / name
        tmp = self.outbox / f".{name}.tmp"
        with open(tmp, "wb") as out:
            out.write(bytes(message))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
        return final


def queue_mail(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    body: str,
    user_id: int | None = None,
    headers: dict[str, str] | None = None,
) -> OutgoingMail:
    """Add a message to the queue in the caller's transaction."""
    mail = OutgoingMail(
        user_id=user_id,
        to=to,
        subject=subject[:300],
        body=body,
        headers=headers or {},
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    session.add(mail)
    return mail


def smtp_failure(exc: BaseException) -> tuple[bool, str]:
    """(permanent, what went wrong) for a failed send: the server's code and words, trimmed.

    A 5xx answer about the message (its sender, a recipient, its content) is permanent.
    A 5xx answer about the session with the relay (greeting, HELO, authentication) is not:
    it fails every message alike until the administrator fixes the settings, so it keeps
    the backoff like 4xx answers, refused connections, timeouts and TLS errors.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]  # one recipient per message
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        session = (
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPConnectResponseError,
            aiosmtplib.SMTPHeloError,
        )
        permanent = 500 <= exc.code < 600 and not isinstance(exc, session)
        return permanent, _trim(f"{exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException) and str(exc):
        return False, _trim(str(exc))
    return False, _trim(f"{exc.__class__.__name__}: {exc}".rstrip(": "))


def _trim(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def send_due_mail(context, *, limit: int = 50) -> int:
    """Send queued mail that is due; returns how many were accepted.

    Each message is claimed first (its next attempt moved ahead), so two
    processes never send the same one; a temporary failure is retried with backoff
    until the give-up time, a permanent one marks the message failed at once.
    """
    now = utcnow()
    async with context.db.read() as session:
        due = list(
            (
                await session.execute(
                    select(OutgoingMail)
                    .where(
                        OutgoingMail.sent_at.is_(None),
                        OutgoingMail.failed_at.is_(None),
                        OutgoingMail.next_attempt_at <= now,
                    )
                    .order_by(OutgoingMail.id)
                    .limit(limit)
                )
            ).scalars()
        )
    sent = 0
    for mail in due:
        async with context.db.transaction() as session:
            claimed = await session.execute(
                update(OutgoingMail)
                .where(
                    OutgoingMail.id == mail.id,
                    OutgoingMail.sent_at.is_(None),
                    OutgoingMail.failed_at.is_(None),
                    OutgoingMail.next_attempt_at == mail.next_attempt_at,
                )
                .values(next_attempt_at=utcnow() + CLAIM_FOR)
            )
        if claimed.rowcount != 1:
            continue  # another process has it
        try:
            await context.mailer.send(mail.to, mail.subject, mail.body, headers=mail.headers)
        except Exception as exc:  # any SMTP or network failure
            values = _after_failure(context.settings, mail, exc)
        else:
            sent += 1
            values = {"sent_at": utcnow(), "attempts": mail.attempts + 1, "last_error": None}
        async with context.db.transaction() as session:
            await session.execute(
                update(OutgoingMail).where(OutgoingMail.id == mail.id).values(**values)
            )
    return sent


def _after_failure(settings: Settings, mail: OutgoingMail, exc: Exception) -> dict:
    """The row's new values after a failed attempt: failed for good, or the next attempt."""
    permanent, error = smtp_failure(exc)
    now = utcnow()
    attempts = mail.attempts + 1
    give_up_at = mail.created_at + timedelta(hours=settings.mail_give_up_after)
    if not permanent and now >= give_up_at:
        error = _trim(f"Gave up after {settings.mail_give_up_after} hours: {error}")
    if permanent or now >= give_up_at:
        log.warning(
            "mail failed id=%s to=%s attempts=%s permanent=%s error=%r",
            mail.id,
            mail.to,
            attempts,
            "yes" if permanent else "no",
            error,
        )
        return {"attempts": attempts, "failed_at": now, "last_error": error}
    # 30 s doubling up to MAX_BACKOFF (the exponent capped: a huge one overflows timedelta);
    # the last try comes at the give-up time, not a backoff step beyond it.
    delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(mail.attempts, 20)))
    next_attempt = min(now + delay, give_up_at)
    log.warning(
        "mail deferred id=%s to=%s attempts=%s retry_at=%s error=%r",
        mail.id,
        mail.to,
        attempts,
        next_attempt.isoformat(timespec="seconds"),
        error,
    )
    return {"attempts": attempts, "next_attempt_at": next_attempt, "last_error": error}
