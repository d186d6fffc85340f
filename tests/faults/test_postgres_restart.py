"""PostgreSQL stopped (`pg_ctl stop -m immediate`) under a serving site and started again:
requests answer 503 quickly meanwhile (api.md's error shape, Retry-After; never a 500, never a
hang), and the site recovers by itself, without a restart of `connect serve`.

The shared PostgreSQL server cannot be restarted (other tests use it), so this test runs its
own throwaway cluster (tests/faults/services.py). It runs when CONNECT_TEST_DATABASE_URL is set,
which says PostgreSQL is installed here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest

from tests.conftest import PG_URL
from tests.faults.checks import database_problems, missing_posts
from tests.faults.processes import Deployment, call, new_thread, report, sign_in
from tests.faults.services import OwnPostgres

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

BEFORE_SECONDS = 1.5
OUTAGE_SECONDS = 4.0
AFTER_SECONDS = 3.0
RECOVERY_LIMIT = 30.0
FAST = 5.0  # no answer during the outage may take longer than this
KINDS = ("api read", "api post", "page")


@dataclass
class Answer:
    kind: str
    sent: float
    seconds: float
    status: int | str
    code: str = ""
    retry_after: str | None = None


@dataclass
class Prober:
    """One client per kind of request, each sending the next as soon as it has an answer."""

    url: str
    token: str
    thread_id: int
    answers: list[Answer] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(self._run()), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()

    async def _run(self) -> None:
        await asyncio.gather(*(self._probe(kind) for kind in KINDS))

    async def _probe(self, kind: str) -> None:
        import httpx2 as httpx

        # Signed in, the page too: an anonymous thread page may still come from the page
        # cache while the database is down (nothing can be written meanwhile).
        headers = {"authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                sent = time.monotonic()
                try:
                    if kind == "api read":
                        answer = await client.get(f"/api/v1/threads/{self.thread_id}")
                    elif kind == "api post":
                        answer = await client.post(
                            f"/api/v1/threads/{self.thread_id}/posts",
                            json={"body": f"probe {n} while the database restarts"},
                        )
                    else:
                        answer = await client.get(f"/threads/{self.thread_id}")
                except httpx.TransportError as exc:
                    self.answers.append(Answer(kind, sent, time.monotonic() - sent, repr(exc)))
                    await asyncio.sleep(0.05)
                    continue
                code = ""
                if answer.status_code >= 400 and kind != "page":
                    body = answer.json()
                    assert set(body) == {"error"}, body
                    assert body["error"]["message"], body
                    code = body["error"]["code"]
                if kind == "api post" and answer.status_code == 201:
                    self.acknowledged.append(answer.json()["id"])
                self.answers.append(
                    Answer(
                        kind,
                        sent,
                        time.monotonic() - sent,
                        answer.status_code,
                        code,
                        answer.headers.get("retry-after"),
                    )  # fmt: skip
                )
                await asyncio.sleep(0.05)


def test_a_postgres_restart_is_a_quick_503_then_recovery(processes, tmp_path):
    if not PG_URL:
        pytest.skip("needs PostgreSQL installed (signalled by CONNECT_TEST_DATABASE_URL)")
    began = time.monotonic()
    cluster = OwnPostgres()
    try:
        cluster.init()
        cluster.start()
        deployment = Deployment(tmp_path / "var", cluster.create_database("connect"), "postgres")
        deployment.prepare()
        server = processes.server(deployment)
        server.start()
        token = sign_in(server.url)
        thread_id = new_thread(server.url, token)
        server_pid = server.pid

        prober = Prober(server.url, token, thread_id)
        prober.start()
        try:
            time.sleep(BEFORE_SECONDS)
            cluster.stop("immediate")
            stopped = time.monotonic()
            time.sleep(OUTAGE_SECONDS / 2)
            ready_status, ready = call(server.url, "GET", "/readyz")
            time.sleep(OUTAGE_SECONDS / 2)
            restarted = time.monotonic()  # PostgreSQL may answer before pg_ctl returns
            cluster.start()
            started_up = time.monotonic() - restarted
            deadline = restarted + RECOVERY_LIMIT
            while time.monotonic() < deadline:
                recovered = {
                    a.kind for a in prober.answers if a.sent >= restarted and a.status in (200, 201)
                }
                if recovered == set(KINDS):
                    break
                time.sleep(0.1)
            time.sleep(AFTER_SECONDS)
        finally:
            prober.stop()
        ready_after, _ = call(server.url, "GET", "/readyz")
        assert server.running() and server.pid == server_pid, "the server must not restart"

        answers = prober.answers
        statuses = {a.status for a in answers}
        assert not [a for a in answers if not isinstance(a.status, int)], (
            "a request failed without an HTTP answer",
            [a for a in answers if not isinstance(a.status, int)][:5],
        )
        assert statuses <= {200, 201, 503}, (statuses, server.log_tail())
        during = [a for a in answers if stopped + 0.5 <= a.sent and a.sent + a.seconds <= restarted]
        assert during, "no request was made during the outage"
        assert {a.status for a in during} == {503}, [(a.kind, a.status) for a in during][:10]
        assert {a.code for a in during if a.kind != "page"} == {"database_unavailable"}
        assert all(a.retry_after for a in during), "a 503 without Retry-After"
        slowest = max(a.seconds for a in answers if a.sent >= stopped)
        assert slowest < FAST, f"an answer took {slowest:.1f} s during the outage"
        assert ready_status == 503 and "database" in ready["failing"], ready
        assert ready_after == 200

        recovery = {}
        for kind in KINDS:
            good = [a for a in answers if a.kind == kind and a.sent >= restarted
                    and a.status in (200, 201)]  # fmt: skip
            assert good, f"{kind} did not recover within {RECOVERY_LIMIT:.0f} s"
            recovery[kind] = good[0].sent + good[0].seconds - restarted  # from `pg_ctl start`
        lost = missing_posts(deployment.database_url, prober.acknowledged)
        assert not lost, sorted(lost)
        problems = database_problems(deployment.database_url, prober.acknowledged)
        assert not problems, problems
        report(
            "postgres_restart",
            outage_s=round(restarted - stopped, 2),
            requests=len(answers),
            during_outage=len(during),
            answered_503=sum(a.status == 503 for a in answers),
            answered_500=sum(a.status == 500 for a in answers),
            slowest_answer_in_outage_s=round(slowest, 3),
            postgres_start_s=round(started_up, 2),
            recovery_s=round(max(recovery.values()), 2),
            acknowledged_posts=len(prober.acknowledged),
            lost=len(lost),
            total_s=round(time.monotonic() - began, 1),
        )
    finally:
        processes.cleanup()
        cluster.remove()
