"""The index follows changes: edits, deletions, moderation, moves, profiles, communities and
library documents, each through the event log (site.drain() runs the indexer)."""

from connect import events
from connect.boards.models import Post, Thread
from connect.communities.models import Community
from tests.search.helpers import community, ids, moderate, reply, search, thread


def test_edits_and_deletions_follow(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob)
    t = thread(a, "cataloging", "Shelving order", "Cutter numbers first")
    r = reply(b, t["id"], "Dewey decimals please")
    site.drain()
    anyone = site.anonymous()
    assert (
        b.patch(f"/api/v1/posts/{r['id']}", json={"body": "Library of Congress"}).status_code == 200
    )
    assert a.patch(f"/api/v1/threads/{t['id']}", json={"title": "Call numbers"}).status_code == 200
    site.drain()
    assert search(anyone, "dewey")["total"] == 0
    assert ids(search(anyone, "congress")) == {r["id"]}
    assert ids(search(anyone, "call numbers"), "thread") == {t["id"]}
    assert search(anyone, "shelving")["total"] == 0
    assert b.delete(f"/api/v1/posts/{r['id']}").status_code == 204
    site.drain()
    assert search(anyone, "congress")["total"] == 0
    # Deleting the first post removes the thread, and its replies with it.
    r2 = reply(b, t["id"], "Another reply about cutters")
    site.drain()
    assert a.delete(f"/api/v1/posts/{t['first_post_id']}").status_code == 204
    site.drain()
    assert search(anyone, "cutter")["total"] == 0
    assert r2["id"] not in ids(search(site.signed_in(admin), "cutters"))


def test_moderating_a_thread_carries_its_replies(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob)
    t = thread(a, "cataloging", "Weeding policy", "Remove outdated almanacs")
    r = reply(b, t["id"], "Keep the local almanacs")
    site.drain()
    moderate(site, "thread", t["id"], "hidden")
    site.drain()
    assert search(site.anonymous(), "almanacs")["total"] == 0
    assert search(b, "almanacs")["total"] == 0
    assert ids(search(owner, "almanacs")) == {t["id"], r["id"]}  # moderators still see them
    moderate(site, "thread", t["id"], "published")
    site.drain()
    assert ids(search(site.anonymous(), "almanacs")) == {t["id"], r["id"]}


def test_a_moved_thread_takes_its_replies_along(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "cataloging", alice)
    community(site, owner, "archives", alice)
    t = thread(a, "cataloging", "Finding aids", "EAD encoding")
    r = reply(a, t["id"], "EAD version 3 is out")
    site.drain()

    async def move():
        async with site.ctx.db.transaction() as session:
            target = (
                await session.execute(
                    Community.__table__.select().where(Community.slug == "archives")
                )
            ).first()
            row = await session.get(Thread, t["id"])
            row.community_id = target.id
            for post_id in (t["first_post_id"], r["id"]):
                (await session.get(Post, post_id)).community_id = target.id
            await events.record(session, "thread.moved", community_id=target.id, subject_id=t["id"])

    site.call(move)
    site.drain()
    assert ids(search(site.anonymous(), "ead in:archives")) == {t["id"], r["id"]}
    assert search(site.anonymous(), "ead in:cataloging")["total"] == 0


def test_profiles_index_public_fields_only_and_follow_changes(site, alice):
    me = site.signed_in(alice)
    changes = {"organization": "Folger Library", "location": "Washington", "bio": "Incunabula"}
    assert me.patch("/api/v1/members/alice", json=changes).status_code == 200
    site.drain()
    anyone = site.anonymous()
    assert ids(search(anyone, "folger"), "member") == {alice.id}
    assert ids(search(anyone, "alice"), "member") == {alice.id}  # username
    hidden = {"public_fields": ["location", "bio"]}
    assert me.patch("/api/v1/members/alice", json=hidden).status_code == 200
    site.drain()
    assert search(anyone, "folger")["total"] == 0
    assert search(me, "folger")["total"] == 0  # search indexes public fields only
    assert ids(search(anyone, "incunabula")) == {alice.id}
    assert me.patch("/api/v1/members/alice", json={"listed": False}).status_code == 200
    site.drain()
    assert search(anyone, "incunabula")["total"] == 0
    item = None
    me.patch("/api/v1/members/alice", json={"listed": True})
    site.drain()
    (item,) = search(anyone, "incunabula")["items"]
    assert item["url"] == "/members/alice" and item["title"] == "Alice Archivist"


def test_community_changes_follow(site, admin):
    owner = site.signed_in(admin)
    site.community(owner, "youth", description="Storytime and teens")
    site.drain()
    assert ids(search(site.anonymous(), "storytime"), "community")
    owner.patch("/api/v1/communities/youth", json={"description": "Homework help"})
    site.drain()
    assert search(site.anonymous(), "storytime")["total"] == 0
    (item,) = search(site.anonymous(), "homework")["items"]
    assert item["type"] == "community" and item["url"] == "/c/youth"


def test_many_small_commits_merge_segments_and_stay_correct(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "cataloging", alice)
    t = thread(a, "cataloging", "Daily notes", "First note")
    site.drain()
    posted = []
    for n in range(14):  # each drain is a commit: Whoosh merges the small segments
        posted.append(reply(a, t["id"], f"note number {n} about ferns")["id"])
        a.patch(f"/api/v1/posts/{posted[0]}", json={"body": f"edited {n} times, about ferns"})
        site.drain()
    found = search(site.anonymous(), "ferns author:alice in:cataloging", per_page=100)
    assert found["total"] == 14 and ids(found) == set(posted)
    with site.ctx.search.store.open_index().searcher() as searcher:
        keys = [fields["key"] for fields in searcher.all_stored_fields()]
        assert len(keys) == len(set(keys))
        assert len(searcher.ixreader.leaf_readers()) < 14
