"""Redis restarted while 100 WebSocket clients listen on two `connect serve` processes that
share the database and Redis: every client receives every post event exactly once, whether
the post was made before, during or after the outage, and through either process.

Redis only wakes the other process's hub (each hub also polls the event log every second), so
an outage slows delivery down, it does not lose anything. Clients that lose their connection
reconnect, re-subscribe and resume from their last event id, as static/js/live.js does.
This test runs its own redis-server (tests/faults/services.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import websockets

from tests.faults.processes import call, median, new_thread, report, sign_in
from tests.faults.services import OwnRedis

pytestmark = [pytest.mark.faults, pytest.mark.redis]

CLIENTS = 100
DROPPED = 20  # clients that also lose their own connection during the outage, and resume
POSTS_PER_PHASE = 5
DELIVERY_LIMIT = 45.0
RESUBSCRIBE_LIMIT = 30.0
CHANNEL = "connect:events"


@dataclass
class Listener:
    """One WebSocket client following a thread, reconnecting like live.js."""

    url: str
    channel: str
    received: list[tuple[int, int]] = field(default_factory=list)  # (event id, post id)
    seen_at: dict[int, float] = field(default_factory=dict)  # post id -> first arrival
    last_id: int = 0
    connections: int = 0
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    drop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                async with websockets.connect(self.url, open_timeout=20, max_size=2**20) as ws:
                    self.connections += 1
                    await ws.send(json.dumps({"op": "subscribe", "channel": self.channel}))
                    if self.last_id:
                        await ws.send(json.dumps({"op": "resume", "last_event_id": self.last_id}))
                    delay = 0.2
                    while not stop.is_set():
                        if self.drop.is_set():  # as when a laptop changes networks
                            self.drop.clear()
                            ws.transport.abort()
                            raise OSError("dropped by the test")
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
                        except TimeoutError:
                            continue
                        self._handle(json.loads(raw))
            except (OSError, websockets.WebSocketException, TimeoutError):
                if stop.is_set():
                    return
                await asyncio.sleep(delay + random.random() * 0.3)
                delay = min(delay * 2, 3.0)

    def _handle(self, message: dict) -> None:
        if message.get("op") == "subscribed":
            self.subscribed.set()
        elif message.get("op") == "resync":
            raise AssertionError(f"a client was told to resync: {message}")
        elif message.get("op") == "event" and message.get("type") == "post.created":
            post_id = message["data"]["post"]["id"]
            self.received.append((message["id"], post_id))
            self.seen_at.setdefault(post_id, time.monotonic())
            self.last_id = max(self.last_id, message["id"])


def test_a_redis_restart_loses_no_live_event(deployment, processes, tmp_path):
    began = time.monotonic()
    redis = OwnRedis(tmp_path / "redis")
    try:
        redis.start()
        deployment.redis_url = redis.url
        deployment.prepare()
        servers = [processes.server(deployment, f"server-{n}") for n in (1, 2)]
        for server in servers:
            server.start()  # one after the other: the first migrates
        token = sign_in(servers[0].url)
        thread_id = new_thread(servers[0].url, token)
        outcome = asyncio.run(_scenario(servers, redis, token, thread_id))
    finally:
        processes.cleanup()
        redis.kill()

    listeners, posted, figures = outcome
    expected = {post_id for post_id, _ in posted}
    for number, listener in enumerate(listeners):
        counts = Counter(post_id for _, post_id in listener.received)
        missing = expected - counts.keys()
        twice = {p: n for p, n in counts.items() if n > 1}
        assert not missing, f"client {number} missed posts {sorted(missing)}"
        assert not twice, f"client {number} received posts more than once: {twice}"
        assert set(counts) == expected
    assert sum(listener.connections - 1 for listener in listeners) >= DROPPED
    report(
        f"redis_restart[{deployment.backend}]",
        clients=CLIENTS,
        posts=len(posted),
        deliveries=sum(len(listener.received) for listener in listeners),
        missed=0,
        duplicates=0,
        dropped_and_resumed=DROPPED,
        reconnections=sum(listener.connections - 1 for listener in listeners),
        total_s=round(time.monotonic() - began, 1),
        **figures,
    )


async def _scenario(servers, redis: OwnRedis, token: str, thread_id: int):
    stop = asyncio.Event()
    listeners = [
        Listener(
            f"ws://127.0.0.1:{servers[n % 2].port}/api/v1/live?token={token}",
            f"thread:{thread_id}",
        )
        for n in range(CLIENTS)
    ]
    tasks = [asyncio.create_task(listener.run(stop)) for listener in listeners]
    posted: list[tuple[int, float]] = []  # (post id, acknowledged at)
    phases: dict[str, list[int]] = {}

    async def post(phase: str, count: int) -> None:
        for n in range(count):
            server = servers[(len(posted)) % 2]
            status, body = await asyncio.to_thread(
                call, server.url, "POST", f"/api/v1/threads/{thread_id}/posts",
                {"body": f"{phase} post {n}"}, token,
            )  # fmt: skip
            assert status == 201, (status, body, server.log_tail())
            posted.append((body["id"], time.monotonic()))
            phases.setdefault(phase, []).append(body["id"])
            await asyncio.sleep(0.2)

    async def delivered(post_ids: list[int]) -> float:
        """Seconds until every listener had every one of these posts."""
        started = time.monotonic()
        while time.monotonic() - started < DELIVERY_LIMIT:
            if all(set(post_ids) <= listener.seen_at.keys() for listener in listeners):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        late = [n for n, li in enumerate(listeners) if not set(post_ids) <= li.seen_at.keys()]
        raise AssertionError(f"{len(late)} clients still miss posts {post_ids}: {late[:10]}")

    try:
        await asyncio.wait_for(
            asyncio.gather(*(listener.subscribed.wait() for listener in listeners)), 60
        )
        await post("before", POSTS_PER_PHASE)
        await delivered(phases["before"])

        await asyncio.to_thread(redis.kill)
        killed = time.monotonic()
        for listener in random.sample(listeners, DROPPED):
            listener.drop.set()
        await post("during", POSTS_PER_PHASE)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis.start)
        restarted = time.monotonic()
        resubscribed = None
        while time.monotonic() - restarted < RESUBSCRIBE_LIMIT:
            if await asyncio.to_thread(redis.subscribers, CHANNEL) >= 2:
                resubscribed = time.monotonic() - restarted
                break
            await asyncio.sleep(0.1)
        assert resubscribed is not None, "the servers did not subscribe to Redis again"
        await post("after", POSTS_PER_PHASE)
        await delivered([p for p, _ in posted])

        def latencies(phase: str) -> list[float]:
            acked = dict(posted)
            return [listener.seen_at[p] - acked[p] for p in phases[phase] for listener in listeners]

        figures = {
            "outage_s": round(restarted - killed, 2),
            "resubscribed_after_s": round(resubscribed, 2),
        }
        for phase in ("before", "during", "after"):
            figures[f"median_delivery_{phase}_s"] = round(median(latencies(phase)), 3)
            figures[f"max_delivery_{phase}_s"] = round(max(latencies(phase)), 3)
        await asyncio.sleep(1.5)  # anything sent twice would arrive by now
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    return listeners, posted, figures
