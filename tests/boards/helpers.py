"""Helpers for the boards tests: a community with members, threads, replies, listings."""

from __future__ import annotations

import re


def open_board(site, admin, *members, slug="cataloging", **settings):
    """A community `admin` creates and `members` join (the owner approves them where it is
    closed); returns (owner client, member clients)."""
    owner = site.signed_in(admin)
    site.community(owner, slug, **settings)
    clients = []
    for m in members:
        c = site.signed_in(m)
        joined = c.post(f"/api/v1/communities/{slug}/join")
        assert joined.status_code == 200, joined.text
        if joined.json()["status"] == "pending":  # closed: the owner approves
            approved = owner.put(
                f"/api/v1/communities/{slug}/members/{m.username}", json={"role": "member"}
            )
            assert approved.status_code == 200, approved.text
        clients.append(c)
    return owner, clients


def start(client, slug="cataloging", title="Subject headings", body="Which ones?"):
    answer = client.post(f"/api/v1/communities/{slug}/threads", json={"title": title, "body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def reply(client, thread, body="An answer"):
    answer = client.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def listed_threads(html: str) -> list[int]:
    """The thread ids a board or home page lists, in order."""
    return [int(i) for i in re.findall(r'class="thread-title" href="/threads/(\d+)"', html)]
