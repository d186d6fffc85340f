"""kill -9 of `connect serve` while several clients post: every acknowledged post survives,
and the database stays whole. Restarted on the same data folder and database each time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from connect.search.indexer import WRITER_TIMEOUT
from tests.conftest import children_of
from tests.faults.checks import database_problems, missing_posts, quick_check
from tests.faults.processes import (
    PostingOutcome,
    alive,
    median,
    new_thread,
    post_until,
    report,
    sign_in,
    wait_for,
)

# Bounded by its cycle count and every wait in it; the default per-test timeout (300 s) is
# too tight for a busy shared machine, not for a hang.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

CYCLES = 20
CLIENTS = 4
POSTING_SECONDS = (0.6, 1.4)  # after the first acknowledged post, killed at a random moment
FIRST_POST_LIMIT = 30.0


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    return "?"


async def _post_then_kill(
    server, token: str, thread_id: int, outcome: PostingOutcome, helpers: list[int]
) -> float:
    """Post from CLIENTS connections; SIGKILL the server mid-stream, noting its child
    processes in `helpers`. Returns the seconds from the server's start to its first
    acknowledged post."""
    stop = asyncio.Event()
    before = len(outcome.acknowledged)
    posting = asyncio.create_task(
        post_until(server.url, token, thread_id, clients=CLIENTS, stop=stop, outcome=outcome)
    )
    waited = 0.0
    while len(outcome.acknowledged) == before and waited < FIRST_POST_LIMIT:
        await asyncio.sleep(0.02)  # noqa: ASYNC110  (polling another task's list)
        waited += 0.02
    await asyncio.sleep(random.uniform(*POSTING_SECONDS))
    helpers.extend(children_of(server.pid))
    os.kill(server.pid, signal.SIGKILL)  # requests are in flight right now
    stop.set()
    await asyncio.wait_for(posting, timeout=30)
    if len(outcome.acknowledged) == before:
        raise AssertionError("no post was acknowledged in this cycle")
    return outcome.acknowledged_at[before] - server.started_at


def test_kill_9_of_the_server_loses_no_acknowledged_post(deployment, processes):
    started = time.monotonic()
    deployment.prepare()
    server = processes.server(deployment)
    server.start()
    token = sign_in(server.url)
    thread_id = new_thread(server.url, token)
    server.kill()

    outcome = PostingOutcome()
    ready_seconds, first_post_seconds, helpers = [], [], []
    for cycle in range(CYCLES):
        ready_seconds.append(server.start())
        first_post_seconds.append(
            asyncio.run(_post_then_kill(server, token, thread_id, outcome, helpers))
        )
        server.popen.wait(timeout=15)
        assert not outcome.bad_statuses, (cycle, outcome.bad_statuses[:5], server.log_tail())
        problem = quick_check(deployment.database_url)
        assert not problem, (cycle, problem)

    # Its `connect worker` and search processes go with it. (An orphaned worker waiting for
    # the index lock that the next cycle's worker holds gives up once it is told to stop.)
    assert len(helpers) >= 2 * CYCLES, helpers
    with contextlib.suppress(AssertionError):
        wait_for(
            lambda: not any(alive(p) for p in helpers), WRITER_TIMEOUT, what="the helpers to go"
        )
    left = {p: _cmdline(p) for p in helpers if alive(p)}
    assert not left, f"outlived their server: {left}"

    lost = missing_posts(deployment.database_url, outcome.acknowledged)
    problems = database_problems(deployment.database_url, outcome.acknowledged)
    report(
        f"kill_server[{deployment.backend}]",
        cycles=CYCLES,
        clients=CLIENTS,
        acknowledged=len(outcome.acknowledged),
        lost=len(lost),
        cut_off_requests=outcome.transport_errors,
        median_ready_s=round(median(ready_seconds), 2),
        median_first_post_s=round(median(first_post_seconds), 2),
        total_s=round(time.monotonic() - started, 1),
    )
    assert len(outcome.acknowledged) >= CYCLES
    assert not lost, f"{len(lost)} acknowledged posts are missing: {sorted(lost)[:10]}"
    assert not problems, problems
