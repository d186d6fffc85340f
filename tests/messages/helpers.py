"""Helpers for message tests: conversations over the API, and network rows put in directly.

Blocks, contacts and privacy settings belong to connect.network; these tests insert its
rows themselves so that they test private messages, not the contact pages.
"""

from __future__ import annotations

from sqlalchemy import select

from connect import events
from connect.messages.models import Conversation, Message, Participant
from connect.moderation.models import AuditEntry
from connect.network.models import Block, Contact
from connect.network.relations import pair
from connect.notifications.models import Notification, OutgoingMail


def start(client, to, body="Hello there", status=201, **extra) -> dict:
    """Start a conversation with `to` (a username or a list); the answer's JSON."""
    names = [to] if isinstance(to, str) else list(to)
    answer = client.post("/api/v1/conversations", json={"to": names, "body": body, **extra})
    assert answer.status_code == status, answer.text
    return answer.json()


def write(client, conversation_id, body="A reply", status=201) -> dict:
    answer = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": body})
    assert answer.status_code == status, answer.text
    return answer.json()


def read(client, conversation_id, status=200, **params) -> dict:
    answer = client.get(f"/api/v1/conversations/{conversation_id}", params=params)
    assert answer.status_code == status, answer.text
    return answer.json()


def inbox(client, **params) -> dict:
    answer = client.get("/api/v1/conversations", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def leave(client, conversation_id, status=204) -> None:
    answer = client.delete(f"/api/v1/conversations/{conversation_id}")
    assert answer.status_code == status, answer.text


def report(client, conversation_id, reason="Harassment", status=201) -> dict:
    answer = client.post(f"/api/v1/conversations/{conversation_id}/report", json={"reason": reason})
    assert answer.status_code == status, answer.text
    return answer.json()


# The network's rows --------------------------------------------------------------------------


def _write(site, fn):
    async def run():
        async with site.ctx.db.transaction() as session:
            await fn(session)

    site.call(run)


def block(site, blocker, blocked) -> None:
    async def add(session):
        session.add(Block(blocker_id=blocker.id, blocked_id=blocked.id))

    _write(site, add)


def befriend(site, a, b) -> None:
    """An accepted contact between two members."""
    low, high = pair(a.id, b.id)

    async def add(session):
        session.add(
            Contact(
                requester_id=a.id, addressee_id=b.id, low_id=low, high_id=high, status="accepted"
            )
        )

    _write(site, add)


def set_policy(site, member, policy: str) -> None:
    """Who may message the member: anyone, communities or contacts (as they set it)."""
    changed = site.signed_in(member).patch(
        f"/api/v1/members/{member.username}", json={"message_policy": policy}
    )
    assert changed.status_code == 200, changed.text


def community_with(site, owner_client, slug, *members, **settings) -> None:
    """An open community that these members join (so that they share one)."""
    site.community(owner_client, slug, **settings)
    for m in members:
        assert site.signed_in(m).post(f"/api/v1/communities/{slug}/join").status_code == 200


def marker(site, member) -> None:
    """An event for the member's `me` channel: what came before it has been delivered."""

    async def add(session):
        await events.record(
            session, "test.marker", audience="user", target_user_id=member.id, data={}
        )

    _write(site, add)


# Reading rows ---------------------------------------------------------------------------------


def rows(site, model) -> list:
    async def load():
        async with site.ctx.db.read() as session:
            return list(
                (await session.execute(select(model).order_by(*model.__table__.primary_key)))
                .scalars()
                .unique()
            )

    return site.call(load)


def counts(site) -> dict[str, int]:
    """How many conversations, participants, messages there are (nothing written on errors)."""
    return {
        "conversations": len(rows(site, Conversation)),
        "participants": len(rows(site, Participant)),
        "messages": len(rows(site, Message)),
    }


def audit_rows(site, action: str | None = None) -> list[AuditEntry]:
    found = rows(site, AuditEntry)
    return [r for r in found if action is None or r.action == action]


def notifications(site, member) -> list[Notification]:
    return [n for n in rows(site, Notification) if n.user_id == member.id]


def queued_mail(site, member=None) -> list[OutgoingMail]:
    return [m for m in rows(site, OutgoingMail) if member is None or m.user_id == member.id]
