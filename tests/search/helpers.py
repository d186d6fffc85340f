"""Helpers for search tests: a board with content, and searching as someone."""

from __future__ import annotations

from connect import events
from connect.boards.models import Post, Thread


def search(client, q: str = "", **params) -> dict:
    answer = client.get("/api/v1/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def ids(answer: dict, kind: str | None = None) -> set[int]:
    return {i["id"] for i in answer["items"] if kind is None or i["type"] == kind}


def community(site, owner, slug: str, *members, **settings) -> list:
    """A community owned by `owner` (a client) that `members` join (open ones only)."""
    site.community(owner, slug, **settings)
    clients = []
    for m in members:
        c = site.signed_in(m)
        if settings.get("visibility", "open") == "open":
            assert c.post(f"/api/v1/communities/{slug}/join").status_code == 200
        else:
            assert (
                owner.put(
                    f"/api/v1/communities/{slug}/members/{m.username}", json={"role": "member"}
                ).status_code
                == 200
            )
        clients.append(c)
    return clients


def thread(client, slug: str, title: str, body: str) -> dict:
    answer = client.post(f"/api/v1/communities/{slug}/threads", json={"title": title, "body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def reply(client, thread_id: int, body: str) -> dict:
    answer = client.post(f"/api/v1/threads/{thread_id}/posts", json={"body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def moderate(site, kind: str, item_id: int, status: str) -> None:
    """Set a thread's or post's status as moderation will, with its event."""
    model = Thread if kind == "thread" else Post

    async def run():
        async with site.ctx.db.transaction() as session:
            row = await session.get(model, item_id)
            row.status = status
            await events.record(
                session,
                f"{kind}.{status}",
                community_id=row.community_id,
                audience="moderators",
                subject_id=item_id,
            )

    site.call(run)


def markers(answer: dict) -> set[str]:
    """The marker words (mk...) found in the items' titles and snippets."""
    import re

    found = set()
    for item in answer["items"]:
        text = re.sub(r"<[^>]+>", "", item["title"] + " " + (item["snippet"] or ""))
        found.update(w.lower() for w in re.findall(r"\bmk\w+", text, re.IGNORECASE))
    return found
