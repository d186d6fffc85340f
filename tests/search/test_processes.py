"""Queries in search processes (CONNECT_SEARCH_PROCESSES, on by default in production): the
same answers as in threads, what was just indexed found at once, private things still
private, and a broken index or a dead search process answered with 503 and then recovered."""

import multiprocessing
import os
import shutil
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from connect.search import processes
from tests.conftest import error_code
from tests.search.helpers import community, ids, reply, search, thread


@pytest.fixture
def settings(settings):
    return replace(settings, search_processes=1)


@pytest.fixture
def boards(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "cataloging", alice)
    (b,) = community(site, owner, "council", bob, visibility="private")
    open_thread = thread(a, "cataloging", "Authority records", "Name headings for bodies.")
    secret = thread(b, "council", "Budget headings", "The council's private headings.")
    site.drain()
    return a, b, open_thread, secret


def search_process_pids(site) -> list[int]:
    return list(site.ctx.search._executor._processes)


def test_answers_come_from_a_search_process_and_follow_the_index(site, boards):
    a, b, open_thread, secret = boards
    assert search_process_pids(site), "no search process was started"
    assert all(pid != os.getpid() for pid in search_process_pids(site))
    assert ids(search(site.anonymous(), "headings")) == {open_thread["id"]}
    assert ids(search(b, "headings"), "thread") == {open_thread["id"], secret["id"]}
    assert search(a, "headings")["facets"]["community"] == {"cataloging": 1}

    # Indexed a moment ago, found by the very next query.
    post = reply(a, open_thread["id"], "A note on uniform titles.")
    site.drain()
    assert ids(search(site.anonymous(), "uniform")) == {post["id"]}


def test_a_deleted_index_answers_503_then_comes_back(site, boards):
    path = site.ctx.search.store.current_path()
    shutil.rmtree(path)
    answer = site.anonymous().get("/api/v1/search", params={"q": "headings"})
    assert answer.status_code == 503 and error_code(answer) == "search_unavailable"
    site.call(site.ctx.search.indexer.catch_up)  # what the background indexer does next
    assert ids(search(site.anonymous(), "headings")) == {boards[2]["id"]}


def test_a_search_process_that_dies_is_replaced_and_the_query_answered(site, boards):
    before = search_process_pids(site)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    assert ids(search(site.anonymous(), "headings")) == {boards[2]["id"]}
    assert set(search_process_pids(site)).isdisjoint(before)
    # The index was not to blame: it is kept.
    assert not site.ctx.search.indexer.suspect


def test_search_processes_that_keep_dying_answer_503_and_leave_the_index_alone(
    site, boards, monkeypatch
):
    # Every new search process exits as it starts: it is told its server is another one.
    def doomed(root, count):
        spawn = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            count, mp_context=spawn, initializer=processes._start, initargs=(str(root), 1)
        )

    monkeypatch.setattr(processes, "pool", doomed)
    for pid in search_process_pids(site):
        os.kill(pid, signal.SIGKILL)
    answer = site.anonymous().get("/api/v1/search", params={"q": "headings"})
    assert answer.status_code == 503 and error_code(answer) == "search_unavailable"
    assert "interrupted" in answer.json()["error"]["message"]
    assert not site.ctx.search.indexer.suspect
