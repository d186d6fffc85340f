"""Thread and board pages shared by readers who are not signed in (connect/pagecache.py).

The cache must never show a reader something older than a write the site acknowledged,
and never give one reader's page to another.
"""

import time

from connect import events
from connect.db import Database
from connect.pagecache import PageCache
from tests.boards.test_pages import open_board, reply, start
from tests.network.test_live import settled


def test_anonymous_readers_share_one_rendering_and_see_writes_at_once(site, admin, alice):
    owner, (a,) = open_board(site, admin, alice)
    thread = start(a, title="Authority files", body="Who keeps them current?")
    settled(site)
    reader = site.anonymous()
    pages = site.ctx.pages

    first = reader.get(f"/threads/{thread['id']}")
    hits = pages.hits
    again = site.anonymous().get(f"/threads/{thread['id']}")
    assert again.text == first.text and pages.hits == hits + 1
    assert "set-cookie" not in again.headers  # a shared page carries nobody's cookie

    reply(a, thread, "We update them every Monday.")
    assert "every Monday" in reader.get(f"/threads/{thread['id']}").text
    assert "Authority files" in reader.get("/c/cataloging").text

    removed = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Oops, wrong one"})
    reader.get(f"/threads/{thread['id']}")  # cached with the mistake in it
    assert a.delete(f"/api/v1/posts/{removed.json()['id']}").status_code == 204
    assert "Oops, wrong one" not in reader.get(f"/threads/{thread['id']}").text

    assert reader.get("/c/cataloging").status_code == 200
    owner.patch("/api/v1/communities/cataloging", json={"visibility": "private"})
    assert reader.get("/c/cataloging").status_code == 404
    assert reader.get(f"/threads/{thread['id']}").status_code == 404


def test_signed_in_readers_are_never_served_the_shared_page(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    reply(b, thread, "Bob's answer")
    bearer = site.bearer(alice)
    settled(site)
    site.anonymous().get(f"/threads/{thread['id']}")  # now cached for anonymous readers
    hits = site.ctx.pages.hits

    page = a.get(f"/threads/{thread['id']}").text
    assert "Sign out" in page and "Recommend" in page
    assert "Sign out" not in site.anonymous().get(f"/threads/{thread['id']}").text

    assert "Sign out" in bearer.get(f"/threads/{thread['id']}").text
    assert site.ctx.pages.hits == hits + 1  # only the anonymous request


def test_another_process_writing_empties_the_cache_when_the_hub_reads_it(site, admin, alice):
    _, (a,) = open_board(site, admin, alice)
    thread = start(a)
    settled(site)  # the hub has read this process's own writes (and emptied the cache again)
    reader = site.anonymous()
    reader.get(f"/threads/{thread['id']}")
    assert len(site.ctx.pages) == 1

    async def write_elsewhere():  # its own engine: no after-commit hook of this process
        other = Database(site.ctx.settings.database_url)
        try:
            async with other.transaction() as session:
                await events.record(session, "site.noted", data={})
        finally:
            await other.dispose()

    site.call(write_elsewhere)
    site.ctx.hub.wake()
    deadline = time.monotonic() + 10
    while len(site.ctx.pages):
        assert time.monotonic() < deadline, "the hub did not empty the page cache"
        time.sleep(0.02)


def test_a_page_rendered_across_a_write_is_not_kept():
    pages = PageCache(1024)
    generation = pages.generation
    pages.clear()  # a write committed while the page was being rendered
    assert not pages.put("/threads/1", b"old", "text/html", generation=generation)
    assert pages.get("/threads/1") is None


def test_the_cache_stays_within_its_memory_and_age():
    pages = PageCache(800, max_age=60)
    for n in range(10):
        assert pages.put(f"/threads/{n}", b"x" * 100, "text/html", generation=0)
    assert len(pages) == 8 and pages.get("/threads/0") is None and pages.get("/threads/9")
    assert not pages.put("/threads/big", b"x" * 101, "text/html", generation=0)  # > 1/8

    stale = PageCache(800, max_age=0)
    stale.put("/threads/1", b"x", "text/html", generation=0)
    time.sleep(0.01)
    assert stale.get("/threads/1") is None
