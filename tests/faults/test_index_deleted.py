"""The whole index folder deleted under a running `connect serve`: search answers 503 in
api.md's error shape (never a 500), and comes back by itself, without a restart."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.faults.checks import compare_index
from tests.faults.processes import call, call_full, new_thread, report, sign_in, wait_for

pytestmark = pytest.mark.faults

RECOVERY_LIMIT = 60.0
REPLIES = 60


def search(url: str, token: str, query: str) -> tuple[int, dict, float, dict]:
    started = time.monotonic()
    status, body, headers = call_full(
        url, "GET", f"/api/v1/search?q={query}", token=token, timeout=30
    )
    return status, body, time.monotonic() - started, headers


def test_deleting_the_index_while_serving_is_a_503_then_a_rebuild(deployment, processes):
    started = time.monotonic()
    deployment.prepare()
    server = processes.server(deployment)  # with its workers: it runs the indexer itself
    server.start()
    token = sign_in(server.url)
    thread_id = new_thread(server.url, token)
    for n in range(REPLIES):
        status, body = call(
            server.url, "POST", f"/api/v1/threads/{thread_id}/posts",
            {"body": f"Reply {n} about marmalade and shelving"}, token,
        )  # fmt: skip
        assert status == 201, body
    wait_for(
        lambda: search(server.url, token, "marmalade")[1].get("total") == REPLIES,
        60,
        step=0.2,
        what="the replies to be searchable",
    )

    shutil.rmtree(deployment.data_dir / "index")
    deleted = time.monotonic()
    statuses: list[int] = []
    unavailable = None
    slowest = 0.0
    while time.monotonic() - deleted < RECOVERY_LIMIT:
        status, body, seconds, headers = search(server.url, token, "marmalade")
        statuses.append(status)
        slowest = max(slowest, seconds)
        assert status in (200, 503), (status, body, server.log_tail())
        if status == 503:
            assert headers.get("retry-after"), headers
            unavailable = unavailable or body
        elif body["total"] == REPLIES and (
            unavailable is not None or (deployment.data_dir / "index").exists()
        ):
            # Back, whether or not a search came while it was gone: the indexer may have
            # rebuilt it (replaying the whole log of a new site) before any search looked.
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"search did not recover in {RECOVERY_LIMIT:.0f} s: {statuses[-5:]}")
    recovered = time.monotonic() - deleted
    if unavailable is not None:  # a search came while the index was gone
        assert set(unavailable) == {"error"}, unavailable
        assert unavailable["error"]["code"] == "search_unavailable"
        assert unavailable["error"]["message"]
    assert server.running(), "the server must not have restarted"
    # The page says the same to people, with the same status.
    status, _ = call(server.url, "GET", "/search?q=marmalade")
    assert status == 200
    comparison = wait_for(
        lambda: (c := compare_index(deployment.data_dir, deployment.database_url)).matches and c,
        30,
        step=0.5,
        what="the rebuilt index to match the database",
    )
    report(
        f"index_deleted[{deployment.backend}]",
        searches=len(statuses),
        answered_503=statuses.count(503),
        answered_500=statuses.count(500),
        recovered_s=round(recovered, 2),
        slowest_answer_s=round(slowest, 2),
        documents=comparison.indexed,
        total_s=round(time.monotonic() - started, 1),
    )
