"""No private message reaches anyone who must not see it, over any way out of the site.

Table-driven: each case arranges who stands where (participants, a member who left, blocks
either way, privacy policies, site moderators before and after a report), has Alice send a
message holding a unique word, and then looks for that word everywhere the watcher could
find it: the API (list, search, conversation), the pages (inbox, conversation), the live
WebSocket, the mail the SMTP server received, and the site search. Positive controls prove
each way out does carry the message to those who may see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.live.test_live import live_socket, subscribe
from tests.messages.conftest import deliver
from tests.messages.helpers import (
    befriend,
    block,
    community_with,
    counts,
    leave,
    marker,
    report,
    set_policy,
    start,
)
from tests.messages.test_live import frames_until_marker

CHANNELS = ("api_list", "api_search", "api_get", "page_inbox", "page_read", "live", "mail")
EVERYWHERE = dict.fromkeys(CHANNELS, True)
NOWHERE = dict.fromkeys(CHANNELS, False)


@dataclass
class World:
    site: object
    members: dict
    clients: dict = field(default_factory=dict)
    conversation_id: int | None = None

    def client(self, name: str):
        if name not in self.clients:
            self.clients[name] = self.site.signed_in(self.members[name])
        return self.clients[name]


@dataclass
class Case:
    name: str
    watcher: str
    to: tuple[str, ...] = ("bob",)
    arrange: Callable[[World], None] = lambda w: None
    reply: bool = False  # write in the arranged conversation instead of starting one
    status: int = 201
    after: Callable[[World], None] = lambda w: None
    sees: dict = field(default_factory=lambda: dict(NOWHERE))


def group(*names):
    def arrange(w: World) -> None:
        w.conversation_id = start(w.client("alice"), list(names), "An innocent start")["id"]

    return arrange


def then(*steps):
    def arrange(w: World) -> None:
        for step in steps:
            step(w)

    return arrange


def blocks(blocker: str, blocked: str):
    return lambda w: block(w.site, w.members[blocker], w.members[blocked])


def leaves(name: str):
    return lambda w: leave(w.client(name), w.conversation_id)


def policy(name: str, value: str):
    return lambda w: set_policy(w.site, w.members[name], value)


def shared_community(w: World) -> None:
    community_with(w.site, w.client("root"), "shared", w.members["alice"], w.members["bob"])


def contacts(w: World) -> None:
    befriend(w.site, w.members["alice"], w.members["bob"])


def reported_by_bob(w: World) -> None:
    report(w.client("bob"), w.conversation_id, reason="Please look")


CASES = [
    Case("participant", watcher="bob", sees=dict(EVERYWHERE)),
    Case("group_participant", watcher="carol", to=("bob", "carol"), sees=dict(EVERYWHERE)),
    Case("outsider", watcher="carol"),
    Case(
        "left_the_conversation",
        watcher="carol",
        arrange=then(group("bob", "carol"), leaves("carol")),
        reply=True,
    ),
    Case("recipient_blocks_sender", watcher="bob", arrange=blocks("bob", "alice"), status=403),
    Case("sender_blocks_recipient", watcher="bob", arrange=blocks("alice", "bob"), status=403),
    Case(
        "blocked_since",
        watcher="bob",
        arrange=then(group("bob"), blocks("bob", "alice")),
        reply=True,
        status=403,
    ),
    Case(
        "blocked_by_one_of_a_group",
        watcher="carol",
        arrange=then(group("bob", "carol"), blocks("carol", "alice")),
        reply=True,
        status=403,
    ),
    Case("moderator_before_report", watcher="mod"),
    Case(
        "moderator_after_report",
        watcher="mod",
        after=lambda w: reported_by_bob(w),
        sees={**NOWHERE, "api_get": True, "page_read": True},
    ),
    Case("admin_before_report", watcher="root"),
    Case(
        "policy_contacts_not_a_contact",
        watcher="bob",
        arrange=policy("bob", "contacts"),
        status=403,
    ),
    Case(
        "policy_contacts_contact",
        watcher="bob",
        arrange=then(policy("bob", "contacts"), contacts),
        sees=dict(EVERYWHERE),
    ),
    Case(
        "policy_communities_nothing_shared",
        watcher="bob",
        arrange=policy("bob", "communities"),
        status=403,
    ),
    Case(
        "policy_communities_shared",
        watcher="bob",
        arrange=then(policy("bob", "communities"), shared_community),
        sees=dict(EVERYWHERE),
    ),
    Case(
        "policy_communities_but_blocked",
        watcher="bob",
        arrange=then(policy("bob", "communities"), shared_community, blocks("bob", "alice")),
        status=403,
    ),
]


def make_world(site) -> World:
    members = {
        "alice": site.member("alice", display_name="Alice Archivist"),
        "bob": site.member("bob", display_name="Bob Bibliographer"),
        "carol": site.member("carol", display_name="Carol Curator"),
        "mod": site.member("mod", role="moderator"),
        "root": site.member("root", role="admin"),
    }
    return World(site, members)


def where_seen(w: World, watcher: str, secret: str, frames: list, mailbox, ids) -> dict:
    client = w.client(watcher)
    seen = {
        "api_list": secret in client.get("/api/v1/conversations").text,
        "api_search": client.get("/api/v1/conversations", params={"q": secret}).json()["total"] > 0,
        "page_inbox": secret in client.get("/messages").text,
        "live": secret in json.dumps(frames),
        "mail": secret in mailbox.text_to(w.members[watcher].email),
        "api_get": False,
        "page_read": False,
    }
    for cid in ids:
        answer = client.get(f"/api/v1/conversations/{cid}")
        assert answer.status_code in (200, 404), answer.text
        seen["api_get"] |= secret in answer.text
        page = client.get(f"/messages/{cid}")
        assert page.status_code in (200, 404), page.text
        seen["page_read"] |= secret in page.text
    return seen


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_who_sees_a_private_message(mail_site, case: Case):
    site, mailbox = mail_site
    w = make_world(site)
    case.arrange(w)
    secret = f"xyzzy{case.name.replace('_', '')}"
    body = f"{secret} is the secret word"
    alice = w.client("alice")
    watcher = w.client(case.watcher)
    before = counts(site)
    with live_socket(watcher) as ws:
        assert subscribe(ws, "me")["op"] == "subscribed"
        if case.reply:
            answer = alice.post(
                f"/api/v1/conversations/{w.conversation_id}/messages", json={"body": body}
            )
            ids = [w.conversation_id]
        else:
            answer = alice.post("/api/v1/conversations", json={"to": list(case.to), "body": body})
            ids = [answer.json()["id"]] if answer.status_code == 201 else []
        assert answer.status_code == case.status, answer.text
        if case.status != 201:
            assert counts(site) == before, "a refused message left rows behind"
            assert answer.json()["error"]["code"] in ("not_accepting_messages", "blocking")
        elif not case.reply:
            w.conversation_id = ids[0]
        case.after(w)
        marker(site, w.members[case.watcher])
        frames = frames_until_marker(ws)
    deliver(site, digests=True)
    seen = where_seen(w, case.watcher, secret, frames, mailbox, ids)
    assert seen == case.sees, case.name
    # The search index never has it, for anyone.
    site.drain()
    for name in ("alice", "bob", "carol", "mod", "root"):
        found = w.client(name).get("/api/v1/search", params={"q": secret})
        assert found.status_code == 200 and found.json()["total"] == 0, name
