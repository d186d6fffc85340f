"""kill -9 of `connect worker` while it indexes (the server runs no workers), again and again,
with posts arriving all along: after the last restart the index matches the database exactly.

Half the kills land while the worker holds Whoosh's write lock (seen in /proc/<pid>/fd),
the others at a random moment after it took the lease; twice the worker starts with no
current index, so it is killed while it replays the whole log into a new one.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.faults.checks import compare_index, holder_pid, lease_holder
from tests.faults.processes import Poster, median, new_thread, report, sign_in, wait_for

# Bounded by its cycle count and every wait in it; the default per-test timeout (300 s) is
# too tight for a busy shared machine, not for a hang.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

CYCLES = 10
WHOLE_REPLAY_CYCLES = {3, 7}
START_LIMIT = 60.0


def writing(pid: int) -> bool:
    """Whether the process holds a Whoosh write lock open right now."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").endswith("WRITELOCK"):
                return True
        except OSError:
            continue
    return False


def test_kill_9_of_the_worker_while_indexing_leaves_a_true_index(deployment, processes):
    started = time.monotonic()
    deployment.prepare()
    server = processes.server(deployment, CONNECT_RUN_WORKERS="0")
    server.start()
    token = sign_in(server.url)
    thread_id = new_thread(server.url, token)
    url, data_dir = deployment.database_url, deployment.data_dir
    pointer = data_dir / "index" / "current"

    lease_seconds, kills_mid_write = [], 0
    poster = Poster(server.url, token, thread_id, words=60).start()
    try:
        for cycle in range(CYCLES):
            if cycle in WHOLE_REPLAY_CYCLES:
                pointer.unlink(missing_ok=True)
            worker = processes.worker(deployment, f"worker-{cycle}")
            worker.start()
            if cycle % 2 == 0:
                wait_for(lambda w=worker: writing(w.pid) or not w.running(), START_LIMIT,
                         step=0.002, what="the worker to write to the index")  # fmt: skip
                kills_mid_write += writing(worker.pid)
            else:
                wait_for(lambda w=worker: holder_pid(lease_holder(url)) == w.pid, START_LIMIT,
                         step=0.05, what="the worker to take the lease")  # fmt: skip
                time.sleep(random.uniform(0, 1.0))
            assert worker.running(), worker.log_tail()
            lease_seconds.append(time.monotonic() - worker.started_at)
            worker.kill()
    finally:
        poster.stop()
    assert not poster.outcome.bad_statuses, poster.outcome.bad_statuses[:5]

    final = processes.worker(deployment, "worker-final")
    final.start()
    restarted = time.monotonic()
    comparison = wait_for(
        lambda: (c := compare_index(data_dir, url)).matches and c,
        120,
        step=0.5,
        what="the index to match the database",
    )
    caught_up = time.monotonic() - restarted
    assert final.running(), final.log_tail()
    report(
        f"kill_worker[{deployment.backend}]",
        cycles=CYCLES,
        kills_mid_write=kills_mid_write,
        posts=len(poster.outcome.acknowledged),
        documents=comparison.indexed,
        median_start_to_kill_s=round(median(lease_seconds), 2),
        index_matches_after_restart_s=round(caught_up, 2),
        total_s=round(time.monotonic() - started, 1),
    )
    assert comparison.matches, comparison.describe()
    assert kills_mid_write >= CYCLES // 4, "too few kills landed while the index was written"
