"""Only one indexer: two `connect worker` processes on the same database and data folder; the
"indexer" lease in the database picks one, the other stands by; kill -9 the one indexing and
the other takes over within a bounded time, and the index ends up matching the database."""

from __future__ import annotations

import re
import time

import pytest

from connect.workers import LEASE, STANDBY_POLL
from tests.faults.checks import compare_index, holder_pid, index_writer, lease_holder
from tests.faults.processes import Poster, new_thread, report, sign_in, wait_for

pytestmark = pytest.mark.faults

OBSERVE_SECONDS = 4.0
# A holder known dead on this machine is replaced at the next poll; a silent one, once its
# lease expires. The test allows the slow path (plus time for a loaded machine).
TAKEOVER_LIMIT = LEASE.total_seconds() + STANDBY_POLL + 15
TAKING = re.compile(r"now runs indexer$|took over indexer from", re.M)


def test_one_indexer_at_a_time_and_a_takeover_when_it_dies(deployment, processes):
    started = time.monotonic()
    deployment.prepare()
    server = processes.server(deployment, CONNECT_RUN_WORKERS="0")
    server.start()
    token = sign_in(server.url)
    thread_id = new_thread(server.url, token)
    url, data_dir = deployment.database_url, deployment.data_dir

    poster = Poster(server.url, token, thread_id).start()
    try:
        first = processes.worker(deployment, "worker-a")
        second = processes.worker(deployment, "worker-b")
        first.start()
        second.start()  # both race for the lease
        workers = {first.pid: first, second.pid: second}
        holder = wait_for(
            lambda: holder_pid(h := lease_holder(url)) in workers and h,
            60,
            what="a worker to take the indexer lease",
        )
        leader = workers[holder_pid(holder)]
        standby = second if leader is first else first
        wait_for(lambda: index_writer(data_dir) == holder, 60,
                 what="the leader's first write to the index")  # fmt: skip

        # Exactly one writes: the lease and the index's last writer name the leader throughout.
        samples = 0
        deadline = time.monotonic() + OBSERVE_SECONDS
        while time.monotonic() < deadline:
            assert lease_holder(url) == holder
            writer = index_writer(data_dir)
            assert writer == holder, f"the index was written by {writer}, not by {holder}"
            samples += 1
            time.sleep(0.1)
        assert leader.running() and standby.running()
        assert len(TAKING.findall(leader.log_path.read_text())) == 1
        assert not TAKING.findall(standby.log_path.read_text()), standby.log_tail()

        # kill -9 the leader mid-stream; the standby takes over.
        leader.kill()
        killed = time.monotonic()
        new_holder = wait_for(
            lambda: holder_pid(h := lease_holder(url)) == standby.pid and h,
            TAKEOVER_LIMIT,
            what="the standby to take the lease over",
        )
        takeover = time.monotonic() - killed
        wait_for(lambda: index_writer(data_dir) == new_holder, 60,
                 what="the new leader's first write")  # fmt: skip
        first_write = time.monotonic() - killed
        assert TAKING.findall(standby.log_path.read_text()), standby.log_tail()
    finally:
        poster.stop()
    assert not poster.outcome.bad_statuses, poster.outcome.bad_statuses[:5]

    comparison = wait_for(
        lambda: (c := compare_index(data_dir, url)).matches and c,
        90,
        step=0.5,
        what="the index to match the database",
    )
    caught_up = time.monotonic() - killed
    report(
        f"single_indexer[{deployment.backend}]",
        samples=samples,
        posts=len(poster.outcome.acknowledged),
        takeover_s=round(takeover, 2),
        first_write_after_kill_s=round(first_write, 2),
        index_matches_after_s=round(caught_up, 2),
        documents=comparison.indexed,
        total_s=round(time.monotonic() - started, 1),
    )
    assert comparison.matches, comparison.describe()
