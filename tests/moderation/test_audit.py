"""The moderation log: every moderator and admin action is one row, readable by the right
people, filterable, and never changed."""

import pytest
from sqlalchemy import select

from connect.db import utcnow
from connect.events import Event
from connect.moderation.audit import ACTIONS
from connect.moderation.models import AuditEntry
from connect.notifications.mail import queue_mail
from tests.conftest import error_code
from tests.live.test_live import live_socket, next_event, subscribe
from tests.moderation.helpers import (
    approve,
    board,
    flag,
    hand_over,
    log_rows,
    reject,
    reply,
    start,
)


def upload(client, slug="youth", name="notes.txt"):
    answer = client.post(
        f"/api/v1/communities/{slug}/library/entries",
        files={"file": (name, b"Plain text notes for the library.", "text/plain")},
        data={"title": name},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def ok(answer, status=(200, 201, 204)):
    assert answer.status_code in status, answer.text
    return answer


@pytest.fixture
def world(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    site.community(owner, "archive")
    site.community(owner, "council", visibility="closed")
    assert site.signed_in(bob).post("/api/v1/communities/archive/join").status_code == 200
    return {"owner": owner, "a": a, "b": b}


def test_every_action_writes_exactly_one_row(site, world, admin, alice, bob):
    owner, a, b = world["owner"], world["a"], world["b"]
    carol = site.member("carol")
    dave = site.member("dave")
    steps = {}

    def step(action):
        def register(fn):
            steps[action] = fn
            return fn

        return register

    t = start(a, title="Base thread")

    @step("community.create")
    def _():
        return lambda: ok(owner.post("/api/v1/communities", json={"slug": "made", "name": "Made"}))

    @step("community.update")
    def _():
        return lambda: ok(owner.patch("/api/v1/communities/youth", json={"description": "New"}))

    @step("community.archive")
    def _():
        return lambda: ok(owner.post("/api/v1/communities/made/archive"))

    @step("community.unarchive")
    def _():
        return lambda: ok(owner.delete("/api/v1/communities/made/archive"))

    @step("member.invite")
    def _():
        body = {"username": "carol"}
        return lambda: ok(owner.post("/api/v1/communities/council/invitations", json=body))

    @step("member.uninvite")
    def _():
        return lambda: ok(owner.delete("/api/v1/communities/council/members/carol"))

    @step("member.add")
    def _():
        url = "/api/v1/communities/council/members/dave"
        return lambda: ok(owner.put(url, json={"role": "member"}))

    @step("member.role")
    def _():
        url = "/api/v1/communities/council/members/dave"
        return lambda: ok(owner.put(url, json={"role": "moderator"}))

    @step("member.remove")
    def _():
        return lambda: ok(owner.delete("/api/v1/communities/council/members/dave"))

    def join_request(member):
        answer = site.signed_in(member).post("/api/v1/communities/council/join")
        assert answer.json()["status"] == "pending"
        found = owner.get("/api/v1/moderation/queue", params={"kind": "join"}).json()
        return found["items"][0]["id"]

    @step("member.approve")
    def _():
        join_id = join_request(carol)
        return lambda: approve(owner, "join", join_id)

    @step("member.decline")
    def _():
        join_id = join_request(dave)
        return lambda: reject(owner, "join", join_id, reason="Council only")

    def thread_change(**change):
        return lambda: ok(owner.patch(f"/api/v1/threads/{t['id']}", json=change))

    steps["thread.pin"] = lambda: thread_change(pinned=True)
    steps["thread.unpin"] = lambda: thread_change(pinned=False)
    steps["thread.lock"] = lambda: thread_change(locked=True)
    steps["thread.unlock"] = lambda: thread_change(locked=False)
    steps["thread.retitle"] = lambda: thread_change(title="Better title")
    steps["thread.update"] = lambda: thread_change(pinned=True, title="Again")

    @step("post.edit")
    def _():
        url = f"/api/v1/posts/{t['first_post_id']}"
        return lambda: ok(owner.patch(url, json={"body": "Edited by a moderator"}))

    @step("post.hide")
    def _():
        steps["_post"] = reply(b, t["id"], "To hide")
        url = f"/api/v1/posts/{steps['_post']['id']}/hide"
        return lambda: ok(owner.post(url, json={"reason": "No"}))

    @step("post.restore")
    def _():
        return lambda: ok(owner.post(f"/api/v1/posts/{steps['_post']['id']}/restore", json={}))

    @step("post.delete")
    def _():
        return lambda: ok(owner.delete(f"/api/v1/posts/{steps['_post']['id']}"))

    @step("flag.create")
    def _():
        post = reply(b, t["id"], "Flag me")
        return lambda: flag(owner, post["id"], "spam")

    @step("flags.dismiss")
    def _():
        post = reply(b, t["id"], "Flag me gently")
        flag(a, post["id"], "off_topic")
        return lambda: approve(owner, "post", post["id"])

    @step("thread.approve")
    def _():
        ok(owner.patch("/api/v1/communities/youth", json={"moderation": "all"}))
        held = start(a, title="Held one")
        return lambda: approve(owner, "thread", held["id"])

    @step("thread.reject")
    def _():
        held = start(a, title="Held two")
        return lambda: reject(owner, "thread", held["id"])

    @step("post.approve")
    def _():
        held = reply(a, t["id"], "Held reply")
        return lambda: approve(owner, "post", held["id"])

    @step("post.reject")
    def _():
        held = reply(a, t["id"], "Held reply two")
        return lambda: reject(owner, "post", held["id"])

    @step("entry.approve")
    def _():
        held = upload(a, name="one.txt")
        return lambda: approve(owner, "entry", held["id"])

    @step("entry.reject")
    def _():
        held = upload(a, name="two.txt")
        return lambda: reject(owner, "entry", held["id"])

    @step("entry.hide")
    def _():
        ok(owner.patch("/api/v1/communities/youth", json={"moderation": "none"}))
        steps["_entry"] = upload(owner, name="three.txt")
        url = f"/api/v1/library/entries/{steps['_entry']['id']}/hide"
        return lambda: ok(owner.post(url, json={}))

    @step("entry.restore")
    def _():
        url = f"/api/v1/library/entries/{steps['_entry']['id']}/restore"
        return lambda: ok(owner.post(url, json={}))

    @step("entry.edit")
    def _():
        url = f"/api/v1/library/entries/{upload(a, name='four.txt')['id']}"
        return lambda: ok(owner.patch(url, json={"title": "Retitled by a moderator"}))

    @step("entry.delete")
    def _():
        url = f"/api/v1/library/entries/{upload(a, name='five.txt')['id']}"
        return lambda: ok(owner.delete(url))

    @step("thread.move")
    def _():
        url = f"/api/v1/threads/{start(a, title='Move me')['id']}/move"
        return lambda: ok(owner.post(url, json={"community": "archive"}))

    @step("thread.merge")
    def _():
        url = f"/api/v1/threads/{start(a, title='Merge me')['id']}/merge"
        return lambda: ok(owner.post(url, json={"into": t["id"]}))

    @step("thread.split")
    def _():
        r = reply(b, t["id"], "Split me off")
        body = {"post_ids": [r["id"]], "title": "Split"}
        return lambda: ok(owner.post(f"/api/v1/threads/{t['id']}/split", json=body))

    for kind in ("ban", "require_approval", "flag_bar"):

        @step(f"{kind}.create")
        def _(kind=kind):
            body = {"username": "bob", "kind": kind, "reason": f"{kind} reason"}
            return lambda: ok(owner.post("/api/v1/communities/youth/sanctions", json=body))

        @step(f"{kind}.lift")
        def _(kind=kind):
            found = owner.get("/api/v1/communities/youth/sanctions").json()["items"]
            target = next(s for s in found if s["kind"] == kind)
            url = f"/api/v1/moderation/sanctions/{target['id']}/lift"
            return lambda: ok(owner.post(url, json={}))

    @step("suspension.create")
    def _():
        body = {"reason": "Cool off", "until": "2999-01-01"}
        return lambda: ok(owner.post("/api/v1/members/bob/suspend", json=body))

    @step("suspension.lift")
    def _():
        return lambda: ok(owner.delete("/api/v1/members/bob/suspension"))

    @step("profile.edit")
    def _():
        body = {"title": "Corrected by the administrator"}
        return lambda: ok(owner.patch("/api/v1/members/bob", json=body))

    @step("site.limits")
    def _():
        body = {"limits": {"posts_per_day": 400}}
        return lambda: ok(owner.put("/api/v1/moderation/limits", json=body))

    @step("site.role")
    def _():
        body = {"role": "moderator", "reason": "Helps everywhere"}
        return lambda: ok(owner.put("/api/v1/members/dave/site-role", json=body))

    @step("mail.retry")
    def _():
        async def failed_mail():  # what the mail server refused for good
            async with site.ctx.db.transaction() as session:
                mail = queue_mail(session, to="gone@example.org", subject="Hello", body="Hi")
                mail.failed_at, mail.last_error = utcnow(), "550 5.1.1 mailbox unknown"
                await session.flush()
                return mail.id

        mail_id = site.call(failed_mail)
        return lambda: ok(owner.post(f"/api/v1/moderation/mail/{mail_id}/retry"))

    @step("conversation.read")
    def _():
        started = ok(a.post("/api/v1/conversations", json={"to": ["bob"], "body": "Rude"}))
        steps["_conversation"] = cid = started.json()["id"]
        ok(b.post(f"/api/v1/conversations/{cid}/report", json={"reason": "Rude words"}))
        return lambda: ok(owner.get(f"/api/v1/conversations/{cid}"))

    @step("conversation.close_report")
    def _():
        url = f"/api/v1/moderation/conversations/{steps['_conversation']}/close"
        return lambda: ok(owner.post(url, json={"reason": "Handled"}))

    walked = [k for k in steps if not k.startswith("_")]
    assert sorted(walked) == sorted(ACTIONS), set(ACTIONS) ^ set(walked)
    for action in walked:
        act = steps[action]()  # whatever the action needs first is not counted
        before = len(log_rows(site))
        act()
        rows = log_rows(site)[before:]
        assert [r.action for r in rows] == [action], (action, [r.action for r in rows])
        row = rows[0]
        assert row.actor_name == "root" and row.created_at is not None, action


def test_the_log_shows_who_what_when_why_and_is_read_by_the_right_people(site, world, admin):
    owner, b = world["owner"], world["b"]
    mod = hand_over(site, owner, "archive", site.member("archmod"), role="moderator")
    t = start(b, slug="archive", title="Archive thread")
    ok(mod.post(f"/api/v1/posts/{t['first_post_id']}/hide", json={"reason": "Duplicate"}))
    ok(owner.patch("/api/v1/communities/youth", json={"name": "Youth Services"}))
    ok(
        owner.post(
            "/api/v1/members/alice/suspend", json={"reason": "Cool off", "until": "2999-01-01"}
        )
    )

    mine = mod.get("/api/v1/moderation/log").json()
    actions = [i["action"] for i in mine["items"]]
    assert "post.hide" in actions and "community.update" not in actions
    assert "suspension.create" not in actions  # site-wide rows: site staff only
    hide = next(i for i in mine["items"] if i["action"] == "post.hide")
    assert hide["actor"] == "archmod" and hide["reason"] == "Duplicate"
    assert hide["community"] == "archive" and hide["target"]["username"] == "bob"
    assert (
        error_code(mod.get("/api/v1/moderation/log", params={"community": "youth"})) == "forbidden"
    )
    assert error_code(b.get("/api/v1/moderation/log")) == "forbidden"
    assert site.anonymous().get("/api/v1/moderation/log").status_code == 401

    everything = owner.get("/api/v1/moderation/log").json()
    assert {"post.hide", "community.update", "suspension.create"} <= {
        i["action"] for i in everything["items"]
    }
    update = owner.get("/api/v1/moderation/log", params={"action": "community.update"}).json()
    assert update["items"][0]["before"] == {"name": "Youth"}
    assert update["items"][0]["after"] == {"name": "Youth Services"}
    by_actor = owner.get("/api/v1/moderation/log", params={"actor": "archmod"}).json()
    assert {i["action"] for i in by_actor["items"]} == {"post.hide"}
    by_kind = owner.get("/api/v1/moderation/log", params={"action": "suspension"}).json()
    assert [i["action"] for i in by_kind["items"]] == ["suspension.create"]
    page = owner.get("/moderation/log?action=post.hide")
    assert page.status_code == 200 and "Duplicate" in page.text and "archmod" in page.text
    assert mod.get("/moderation/log").status_code == 200
    assert site.signed_in(site.member("plain")).get("/moderation/log").status_code == 403
    # A page size asked for is kept by the pager's links.
    small = owner.get("/moderation/log?per_page=1").text
    assert 'href="/moderation/log?per_page=1&amp;page=2"' in small


def test_log_rows_are_never_changed(site, world):
    ok(world["owner"].patch("/api/v1/communities/youth", json={"description": "Changed"}))

    async def tamper():
        async with site.ctx.db.transaction() as session:
            row = (await session.execute(select(AuditEntry))).scalars().first()
            row.reason = "rewritten"

    with pytest.raises(PermissionError):
        site.call(tamper)

    async def remove():
        async with site.ctx.db.transaction() as session:
            row = (await session.execute(select(AuditEntry))).scalars().first()
            await session.delete(row)

    with pytest.raises(PermissionError):
        site.call(remove)
    assert log_rows(site)[0].reason == ""
    assert [r.action for r in log_rows(site)][-1] == "community.update"


def test_a_moderators_edit_and_removal_of_someones_document_are_in_the_log(site, world):
    owner, a = world["owner"], world["a"]
    entry = upload(a, name="minutes.txt")
    url = f"/api/v1/library/entries/{entry['id']}"
    ok(a.patch(url, json={"description": "My own words"}))  # the author's own edit: no row
    ok(owner.patch(url, json={"title": "Board minutes", "tags": ["minutes"]}))
    ok(owner.delete(url))
    mine = upload(owner, name="mine.txt")
    ok(owner.delete(f"/api/v1/library/entries/{mine['id']}"))  # their own: no row

    items = owner.get("/api/v1/moderation/log", params={"action": "entry"}).json()["items"]
    removed, edited = items
    assert edited["action"] == "entry.edit" and edited["actor"] == "root"
    assert edited["description"] == "edited someone's library entry"
    assert edited["target"] == {"kind": "entry", "id": entry["id"], "username": "alice"}
    assert edited["before"] == {"title": "minutes.txt", "tags": []}
    assert edited["after"] == {"title": "Board minutes", "tags": ["minutes"]}
    assert removed["action"] == "entry.delete" and removed["summary"] == "Board minutes"
    assert removed["target"]["username"] == "alice"
    assert removed["before"]["title"] == "Board minutes"
    assert removed["before"]["description"] == "My own words"


def test_the_log_does_not_name_a_private_community_to_moderators_outside_it(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "pubcom")
    site.community(owner, "privcom", visibility="private")
    mod = hand_over(site, owner, "pubcom", site.member("pubmod"), role="moderator")
    assert mod.get("/api/v1/communities/privcom").status_code == 404
    thread = start(owner, slug="pubcom", title="Staff matters")
    ok(owner.post(f"/api/v1/threads/{thread['id']}/move", json={"community": "privcom"}))

    (row,) = mod.get("/api/v1/moderation/log", params={"action": "thread.move"}).json()["items"]
    assert row["community"] == "pubcom" and row["before"] == {"community": "pubcom"}
    assert row["after"] == {"community": "a community you cannot see"}
    assert row["summary"] == "“Staff matters” to a community you cannot see"
    assert "privcom" not in str(row)
    page = mod.get("/moderation/log")
    assert page.status_code == 200 and "Staff matters" in page.text
    assert "a community you cannot see" in page.text and "privcom" not in page.text.lower()
    # Its members (and site staff) still read where it went.
    (full,) = owner.get("/api/v1/moderation/log", params={"action": "thread.move"}).json()["items"]
    assert full["after"] == {"community": "privcom"}
    assert full["summary"] == "“Staff matters” to privcom"


def test_a_thread_moved_out_of_a_private_community_is_not_traced_back_to_it(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "pubcom")
    site.community(owner, "privcom", visibility="private")
    thread = start(owner, slug="privcom", title="Now for everyone")
    ok(owner.post(f"/api/v1/threads/{thread['id']}/move", json={"community": "pubcom"}))

    async def published():
        async with site.ctx.db.read() as session:
            rows = await session.execute(select(Event).where(Event.audience == "public"))
            return [e.data for e in rows.scalars()]

    told = [d for d in site.call(published) if d.get("thread", {}).get("id") == thread["id"]]
    assert told and "privcom" not in str(told)


def test_a_thread_moved_into_a_private_community_does_not_name_it_to_outsiders(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "pubcom")
    site.community(owner, "privcom", visibility="private")
    thread = start(owner, slug="pubcom", title="Staff only from now on")
    with live_socket(site.anonymous()) as ws:
        assert subscribe(ws, f"thread:{thread['id']}")["op"] == "subscribed"
        ok(owner.post(f"/api/v1/threads/{thread['id']}/move", json={"community": "privcom"}))
        moved = next_event(ws, "thread.moved")
    assert moved["data"] == {"thread_id": thread["id"], "from": "pubcom", "to": None}
