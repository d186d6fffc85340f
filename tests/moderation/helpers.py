"""Helpers for moderation tests: boards with members, posting, deciding, reading rows."""

from __future__ import annotations

from functools import partial

from sqlalchemy import select

from connect.moderation.models import AuditEntry
from connect.notifications.models import Notification, OutgoingMail
from tests.boards.helpers import open_board

# A community owned by the first member that the others join; returns (owner, clients).
board = partial(open_board, slug="youth")


def hand_over(site, admin_client, slug, member, role="owner"):
    """Give a member a role in a community (site admins create communities); their client."""
    answer = admin_client.put(
        f"/api/v1/communities/{slug}/members/{member.username}", json={"role": role}
    )
    assert answer.status_code == 200, answer.text
    return site.signed_in(member)


def start(client, slug="youth", title="Reading club", body="Who is in?", status=201):
    answer = client.post(f"/api/v1/communities/{slug}/threads", json={"title": title, "body": body})
    assert answer.status_code == status, answer.text
    return answer.json()


def reply(client, thread_id, body="An answer", status=201):
    answer = client.post(f"/api/v1/threads/{thread_id}/posts", json={"body": body})
    assert answer.status_code == status, answer.text
    return answer.json()


def queue(client, **params) -> dict:
    answer = client.get("/api/v1/moderation/queue", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def queue_keys(client, **params) -> list[tuple[str, int]]:
    return [(i["kind"], i["id"]) for i in queue(client, **params)["items"]]


def approve(client, kind, item_id, status=200, **body):
    answer = client.post(f"/api/v1/moderation/items/{kind}/{item_id}/approve", json=body)
    assert answer.status_code == status, answer.text
    return answer


def reject(client, kind, item_id, reason="Not for this board", status=200):
    answer = client.post(
        f"/api/v1/moderation/items/{kind}/{item_id}/reject", json={"reason": reason}
    )
    assert answer.status_code == status, answer.text
    return answer


def flag(client, post_id, reason="spam", note="", status=201):
    answer = client.post(f"/api/v1/posts/{post_id}/flags", json={"reason": reason, "note": note})
    assert answer.status_code == status, answer.text
    return answer.json()


def log_rows(site) -> list[AuditEntry]:
    async def load():
        async with site.ctx.db.read() as session:
            return list(
                (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
            )

    return site.call(load)


def notifications(site, member) -> list[Notification]:
    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(Notification)
                .where(Notification.user_id == member.id, Notification.kind == "moderation")
                .order_by(Notification.id)
            )
            return list(rows.scalars().unique())

    return site.call(load)


def mail_to(site, member) -> list[OutgoingMail]:
    async def load():
        async with site.ctx.db.read() as session:
            rows = await session.execute(
                select(OutgoingMail)
                .where(OutgoingMail.to == member.email)
                .order_by(OutgoingMail.id)
            )
            return list(rows.scalars())

    return site.call(load)
