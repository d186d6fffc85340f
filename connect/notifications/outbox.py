"""The outgoing mail queue as administrators see it: what waits, what failed and why, and
sending a failed message again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connect import permissions
from connect.accounts.models import User
from connect.db import utcnow
from connect.errors import Conflict, Forbidden, NotFound
from connect.moderation import audit
from connect.notifications.models import OutgoingMail
from connect.permissions import Viewer

RECENT = timedelta(days=7)
ONLY_ADMINS = "Only site administrators can see and manage the outgoing mail."
NOTICES_NOT_AGAIN = (
    "Notices of members' posts and digests are not sent again: by now they may speak of "
    "discussions the member can no longer read. They wait on the member's Notifications page."
)


@dataclass
class MailQueue:
    waiting: int
    oldest_waiting_at: datetime | None  # when the oldest message still waiting was queued
    failed_recently: int  # in the last RECENT
    failures: list[OutgoingMail]  # a page of failed messages, the latest first
    failures_total: int


def _check(viewer: Viewer) -> None:
    if not permissions.can_manage_mail(viewer):
        raise Forbidden(ONLY_ADMINS)


async def mail_queue(
    session: AsyncSession, viewer: Viewer, *, page: int = 1, per_page: int = 20
) -> MailQueue:
    _check(viewer)
    waiting = (OutgoingMail.sent_at.is_(None), OutgoingMail.failed_at.is_(None))
    count, oldest = (
        await session.execute(
            select(func.count(OutgoingMail.id), func.min(OutgoingMail.created_at)).where(*waiting)
        )
    ).one()
    failed = OutgoingMail.failed_at.is_not(None)
    recent = await session.scalar(
        select(func.count(OutgoingMail.id)).where(
            failed, OutgoingMail.failed_at > utcnow() - RECENT
        )
    )
    total = await session.scalar(select(func.count(OutgoingMail.id)).where(failed))
    rows = await session.execute(
        select(OutgoingMail)
        .where(failed)
        .order_by(OutgoingMail.failed_at.desc(), OutgoingMail.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return MailQueue(count, oldest, recent, list(rows.scalars()), total)


async def retry_mail(session: AsyncSession, viewer: Viewer, mail_id: int) -> OutgoingMail:
    """Queue a failed message again, due now (audited). It counts as newly queued: should
    the server defer it again, it is given CONNECT_MAIL_GIVE_UP_AFTER hours once more."""
    _check(viewer)
    mail = await session.get(OutgoingMail, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound("There is no such message in the outgoing mail.")
    if mail.failed_at is None:
        state = "was sent" if mail.sent_at is not None else "is still waiting to be sent"
        raise Conflict(f"This message has not failed: it {state}.")
    if mail.is_notice:
        raise Conflict(NOTICES_NOT_AGAIN)
    user = await session.get(User, mail.user_id) if mail.user_id else None
    if mail.user_id is not None and (user is None or user.is_deleted or user.email != mail.to):
        raise Conflict(
            "The member's address has changed since, or the account is gone: this message "
            "is not sent again."
        )
    # Not the error's words in the log: a server's answer may quote the member's address.
    before = {"failed_at": mail.failed_at.isoformat(), "attempts": mail.attempts}
    now = utcnow()
    mail.failed_at, mail.created_at, mail.next_attempt_at, mail.attempts = None, now, now, 0
    await audit.record(
        session,
        viewer,
        "mail.retry",
        target_kind="mail",
        target_id=mail.id,
        target_user=user,
        summary="queued again",
        before=before,
    )
    return mail


def mail_json(mail: OutgoingMail) -> dict:
    """A message as administrators see it: never its body."""
    return {
        "id": mail.id,
        "to": mail.to,
        "subject": mail.subject,
        "queued_at": mail.created_at.isoformat(),
        "attempts": mail.attempts,
        "last_error": mail.last_error,
        "failed_at": mail.failed_at.isoformat() if mail.failed_at else None,
        "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
        "next_attempt_at": None
        if mail.failed_at or mail.sent_at
        else mail.next_attempt_at.isoformat(),
        "notice": mail.is_notice,
    }


def queue_json(found: MailQueue) -> dict:
    return {
        "waiting": found.waiting,
        "oldest_waiting_at": found.oldest_waiting_at.isoformat()
        if found.oldest_waiting_at
        else None,
        "failed_last_7_days": found.failed_recently,
    }
