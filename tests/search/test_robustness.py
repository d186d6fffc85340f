"""A missing, corrupt, outdated or locked index answers 503 (never 500) and is rebuilt;
`connect reindex` swaps a new index in atomically while searches go on."""

import asyncio
import json
import multiprocessing
import os
import shutil
import threading

import pytest

from connect import events
from connect.search import indexer as indexer_module
from connect.search.store import META, POINTER
from tests.conftest import error_code
from tests.search.helpers import community, ids, reply, search, thread


@pytest.fixture
def board(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "cataloging", alice)
    t = thread(a, "cataloging", "Authority records", "Name headings for corporate bodies.")
    site.drain()
    return a, t


def current(site):
    return site.ctx.search.store.current_path()


def catch_up(site) -> None:
    site.call(site.ctx.search.indexer.catch_up)


def assert_unavailable(site) -> None:
    answer = site.anonymous().get("/api/v1/search", params={"q": "headings"})
    assert answer.status_code == 503
    assert error_code(answer) == "search_unavailable"
    page = site.anonymous().get("/search", params={"q": "headings"})
    assert page.status_code == 503
    assert "Try again in a minute" in page.text


def damage_segments(path) -> None:
    for name in os.listdir(path):
        if name.endswith(".seg") or name.endswith(".trm") or name.endswith(".pst"):
            with open(path / name, "r+b") as f:
                f.write(b"\x00garbage" * 64)


@pytest.mark.parametrize("damage", ["missing folder", "missing toc", "corrupt", "schema"])
def test_a_broken_index_answers_503_then_is_rebuilt(site, board, damage):
    _, t = board
    path = current(site)
    if damage == "missing folder":
        shutil.rmtree(path)
    elif damage == "missing toc":
        for name in os.listdir(path):
            if name.endswith(".toc"):
                os.remove(path / name)
    elif damage == "corrupt":
        damage_segments(path)
    else:
        (path / META).write_text(json.dumps({"schema_version": 0, "cursor": 0}))
    site.ctx.search.store.drop_searcher()
    site.ctx.search.engine._local.__dict__.clear()
    assert_unavailable(site)
    assert site.call(site.ctx.search.startup_check) is not None
    catch_up(site)  # what the background indexer does next
    assert current(site) != path
    assert ids(search(site.anonymous(), "headings")) == {t["id"]}


def test_start_up_finds_a_healthy_index_and_keeps_it(site, board):
    assert site.call(site.ctx.search.startup_check) is None


def _hold_lock_and_die(path: str, ready) -> None:
    from whoosh import index

    index.open_dir(path).writer()  # takes the write lock, never releases it
    ready.set()
    os._exit(1)  # noqa: SLF001  (a crash, with the lock held)


def test_a_lock_left_by_a_dead_process_does_not_stop_indexing(site, board):
    a, t = board
    ready = multiprocessing.get_context("fork").Event()
    child = multiprocessing.get_context("fork").Process(
        target=_hold_lock_and_die, args=(str(current(site)), ready)
    )
    child.start()
    child.join(timeout=30)
    assert ready.is_set() and child.exitcode == 1
    r = reply(a, t["id"], "Undifferentiated personal names")
    site.drain()
    assert ids(search(site.anonymous(), "undifferentiated")) == {r["id"]}


def test_the_cursor_lives_with_the_index_and_replay_is_harmless(site, board):
    a, t = board
    reply(a, t["id"], "Conference headings too")
    site.drain()

    async def latest():
        async with site.ctx.db.read() as session:
            return await events.latest_id(session)

    store = site.ctx.search.store
    assert store.read_meta(current(site)).cursor == site.call(latest)
    before = search(site.anonymous(), "headings")
    store.write_meta(current(site), 0)  # as if the cursor write was lost in a crash
    catch_up(site)
    after = search(site.anonymous(), "headings")
    assert after["total"] == before["total"] == 2
    assert ids(after) == ids(before)


def test_reindex_swaps_atomically_while_searches_go_on(site, board, monkeypatch):
    a, t = board
    old = current(site)
    started, gate = threading.Event(), {}
    real_stream = indexer_module.documents.stream

    async def slow_stream(db, **kwargs):
        gate["event"] = asyncio.Event()
        first = True
        async for batch in real_stream(db, **kwargs):
            yield batch
            if first:
                first = False
                started.set()
                await gate["event"].wait()

    monkeypatch.setattr(indexer_module.documents, "stream", slow_stream)
    portal = site.client.portal
    running = portal.start_task_soon(site.ctx.search.indexer.rebuild)
    assert started.wait(30)
    # Mid-rebuild: the old index still answers, and a new post is written meanwhile.
    assert ids(search(site.anonymous(), "headings")) == {t["id"]}
    assert current(site) == old
    late = reply(a, t["id"], "Meeting names as headings")
    portal.call(gate["event"].set)
    report = running.result(timeout=60)
    assert current(site) == report.path != old
    assert (site.ctx.search.store.root / POINTER).read_text() == report.path.name
    assert old.exists()  # kept for searchers that still had it open
    site.drain()  # the new index replays what happened after its snapshot
    assert ids(search(site.anonymous(), "headings")) == {t["id"], late["id"]}


@pytest.mark.parametrize("processes", [0, 1])
def test_a_new_site_with_an_empty_index_answers_with_no_results(site, processes):
    site.ctx.search.processes = processes
    site.call(site.ctx.search.indexer.catch_up)  # makes the index, with nothing to put in it
    with site.ctx.search.store.open_index().reader() as reader:
        assert reader.doc_count_all() == 0
    client = site.anonymous()
    for q, params in [
        ("anything", {}),
        ('"open access" lib*', {"sort": "newest"}),
        ("", {"type": "post"}),
        ("author:nobody in:nowhere", {}),
    ]:
        answer = search(client, q, **params)
        assert answer["total"] == 0 and answer["items"] == [], (q, params)
    assert not site.ctx.search.indexer.suspect
