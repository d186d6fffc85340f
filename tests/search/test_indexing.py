"""Indexing through the event log: create, edit, delete, move between statuses."""

from types import SimpleNamespace

from connect.search.engine import Engine
from connect.search.store import IndexStore
from tests.search.helpers import community, ids, reply, search, thread


def test_threads_posts_members_and_communities_are_found(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob, description="Metadata people")
    t = thread(a, "cataloging", "Linked data workflows", "We moved our records to BIBFRAME.")
    r = reply(b, t["id"], "Our library still uses MARC records for serials.")
    site.drain()
    anyone = site.anonymous()
    found = search(anyone, "bibframe")
    assert [(i["type"], i["id"]) for i in found["items"]] == [("thread", t["id"])]
    item = found["items"][0]
    assert item["url"] == f"/threads/{t['id']}"
    assert item["community"] == "cataloging"
    assert item["author"] == "alice"
    assert "<mark>BIBFRAME</mark>" in item["snippet"]
    assert ids(search(anyone, "serials"), "post") == {r["id"]}
    assert ids(search(anyone, "record"), "thread") == {t["id"]}  # stemming: records
    assert ids(search(anyone, "archivist"), "member") == {alice.id}  # display name
    assert ids(search(anyone, "metadata"), "community")


def test_many_small_commits_keep_the_largest_segments_first(site, admin, alice):
    """Searchers keep what they read of each segment under its first document number: a
    merge of small segments must not give the large ones new numbers (every search process
    would read the whole index again). And nothing merged is lost."""
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "cataloging", alice)
    t = thread(a, "cataloging", "Segments", "The first post.")
    posted, merges, largest, previous = [], 0, None, 0
    for n in range(12):
        posted += [reply(a, t["id"], f"Reply {n}-{k} on shelving.")["id"] for k in range(n + 1)]
        site.drain()
        with site.ctx.search.store.open_index().reader() as reader:
            segments = [
                (r.segment().segment_id(), r.doc_count_all()) for r, _ in reader.leaf_readers()
            ]
        sizes = [size for _, size in segments[:-1]]  # the last one is this commit's own
        assert sizes == sorted(sizes, reverse=True), segments
        if largest is not None and segments[0][1] <= largest[1]:
            assert segments[0] == largest, "the largest segment moved"
        merges += largest is not None and len(segments) < previous
        largest, previous = segments[0], len(segments)
    assert merges >= 2, "no merge happened: the test proves nothing"
    assert ids(search(site.anonymous(), "shelving", per_page=100), "post") == set(posted)


def test_a_searcher_keeps_its_big_segments_read_however_many_small_ones_came(tmp_path):
    """What was read of each segment is kept for the 64 most recently used: the big
    segments, read first, must not be the ones dropped when small ones come and go."""
    engine = Engine(IndexStore(tmp_path))
    big_key = ("index-1", "big", 0)
    engine.leaves[big_key] = big = object()
    for n in range(100):
        engine.leaves[("index-1", f"small-{n}", 1000 + n)] = object()
    engine._forget_old_leaves(SimpleNamespace(leaves=[(None, 0, big_key)]))
    assert engine.leaves.get(big_key) is big
    assert len(engine.leaves) == 64


def test_words_in_markdown_marks_are_found_and_snippets_show_the_text(site, admin, alice):
    """The index holds posts as readers see them: `_emphasis_`, `**strong**`, links and
    code are words like any other, and snippets carry no Markdown marks."""
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "garden", alice)
    t = thread(a, "garden", "Companion planting", "How do you handle **tomato blight**?")
    r = reply(
        a,
        t["id"],
        "I use _marigold companions_ and **basil borders**, `neem` oil, "
        "see [aphid guide](http://example.org/aphids).",
    )
    site.drain()
    anyone = site.anonymous()
    for q in ("marigold", "companions", "basil", "borders", "neem", '"marigold companions"'):
        assert ids(search(anyone, q), "post") == {r["id"]}, q
    assert ids(search(anyone, "guide"), "post") == {r["id"]}
    assert ids(search(anyone, "blight"), "thread") == {t["id"]}
    found = search(anyone, "blight")["items"][0]
    assert "**" not in found["snippet"] and "<mark>blight</mark>" in found["snippet"]
    snippet = search(anyone, "basil")["items"][0]["snippet"]
    assert "_marigold" not in snippet and "<mark>basil</mark> borders" in snippet
