"""Queries run in search processes of their own, off the server's event loop and its GIL.

A query is pure Python over the index's postings (engine.py): in a thread it holds the GIL
that the event loop needs for every other request, so one server process spends one core on
both. With `CONNECT_SEARCH_PROCESSES` > 0, each server process hands its queries to that many
processes (started fresh, not forked), each with its own searcher and term caches; the plan
goes over as a few hundred bytes and the outcome (a page of hits) comes back the same way.

The server still asks the database who may see what and sends that along in the plan. A
search process follows the index as the server would: it re-reads the folder's pointer every
RECHECK_SECONDS, and the server passes its own store's version with each query, so a commit
made by the server's own indexer is seen by the very next query.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from connect.companion import exit_with_parent
from connect.gc_tuning import tune_gc
from connect.search.engine import Engine, Outcome, Plan
from connect.search.store import IndexStore

_engine: Engine | None = None  # in a search process: its engine on the index folder


def pool(root: Path, processes: int) -> ProcessPoolExecutor:
    """Search processes on the index folder `root`."""
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(str(root), os.getpid()),
    )


def _start(root: str, server_pid: int) -> None:
    global _engine
    exit_with_parent(server_pid)  # a server killed with -9 leaves no search process behind
    _engine = Engine(IndexStore(Path(root)))
    tune_gc()


def run(plan: Plan, version: int) -> Outcome:
    """In a search process: the outcome of `plan` on the index as of the server's `version`."""
    assert _engine is not None, "not a search process"
    store = _engine.store
    store.follow(version)
    try:
        return _engine.run(plan)
    except Exception:
        store.drop_searcher()  # the server repairs the index; open it afresh next time
        raise


def ready() -> bool:
    """In a search process: True (the server submits this to start the processes early)."""
    return _engine is not None
