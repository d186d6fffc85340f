"""Posts kept as rendered (connect/boards/rendering.py): every reader gets exactly the page
they would get without the cache, and a change to a post, its author or the reader's
relation to it shows at once."""

import re

from tests.boards.test_pages import open_board, reply, start
from tests.boards.test_recommendations import recommend_count_in_html
from tests.conftest import csrf_from
from tests.messages.helpers import block, set_policy
from tests.network.test_live import settled


def page_without_cache(site, client, url: str) -> str:
    cache = site.ctx.posts
    cache.enabled = False
    try:
        return client.get(url).text
    finally:
        cache.enabled = True


def test_each_reader_gets_the_page_they_would_get_without_the_cache(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    owner, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(a, title="Retention schedules", body="Seven years, or ten?")
    first = thread["first_post_id"]
    answer = b.post(
        f"/api/v1/threads/{thread['id']}/posts",
        json={"body": "Ten, for grants.", "reply_to": first},
    ).json()
    reply(c, thread, "Seven, unless audited.")
    gone = reply(a, thread, "Never mind this one.")
    assert a.delete(f"/api/v1/posts/{gone['id']}").status_code == 204
    b.post(f"/api/v1/posts/{first}/recommend")
    block(site, carol, bob)
    # Nobody may message Bob: his posts then differ between Carol and Alice by the block alone.
    set_policy(site, bob, "contacts")
    settled(site)
    url = f"/threads/{thread['id']}"

    readers = [site.anonymous(), owner, a, b, c, site.bearer(alice)]
    # Every reader's page, after each of the others has filled the cache, is the same as
    # that reader's page rendered afresh.
    for rounds in range(2):
        for reader in readers:
            cached = reader.get(url).text
            assert cached == page_without_cache(site, reader, url), (rounds, reader.headers)
    assert site.ctx.posts.hits > 0

    # The facts that differ between readers really do differ on the page.
    as_bob, as_carol = b.get(url).text, c.get(url).text
    assert f'href="/posts/{answer["id"]}/edit"' in as_bob
    assert f'href="/posts/{answer["id"]}/edit"' not in as_carol
    assert "Post by a member you blocked" in as_carol and "member you blocked" not in as_bob
    assert 'aria-pressed="true"' in as_bob and 'aria-pressed="true"' not in as_carol
    # Each reader's forms carry their own token, never another reader's.
    for reader in (b, c):
        html = reader.get(url).text
        tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
        assert tokens == {csrf_from(html)}
    assert csrf_from(as_bob) != csrf_from(as_carol)


def test_changes_to_a_post_or_its_author_show_at_once(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Weeding", body="What goes first?")
    first = thread["first_post_id"]
    later = reply(b, thread, "The duplicates.")
    url = f"/threads/{thread['id']}"
    assert "The duplicates." in b.get(url).text

    assert (
        b.patch(f"/api/v1/posts/{later['id']}", json={"body": "Old editions."}).status_code == 200
    )
    page = b.get(url).text
    assert "Old editions." in page and "The duplicates." not in page

    assert recommend_count_in_html(b.get(url).text, first) == 0
    b.post(f"/api/v1/posts/{first}/recommend")
    assert recommend_count_in_html(b.get(url).text, first) == 1
    assert recommend_count_in_html(a.get(url).text, first) == 1

    renamed = a.patch("/api/v1/members/alice", json={"display_name": "Alice Appraiser"})
    assert renamed.status_code == 200, renamed.text
    page = b.get(url).text
    assert "Alice Appraiser" in page and "Alice Archivist" not in page

    assert b.delete(f"/api/v1/posts/{later['id']}").status_code == 204
    page = a.get(url).text
    assert "This post was removed." in page and "Old editions." not in page
