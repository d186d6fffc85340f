"""Two `connect serve` processes share live events through a real Redis."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import websockets

from tests.conftest import PASSWORD, REDIS_URL, REQUIRE_SERVICES

pytestmark = pytest.mark.redis


def redis_url() -> str:
    if not REDIS_URL:
        if REQUIRE_SERVICES:
            pytest.fail("CONNECT_REQUIRE_SERVICES=1 but CONNECT_TEST_REDIS_URL is not set")
        pytest.skip("needs CONNECT_TEST_REDIS_URL")
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir, port: int, redis: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "CONNECT_DATA_DIR": str(data_dir),
        "CONNECT_BASE_URL": f"http://127.0.0.1:{port}",
        "CONNECT_SECRET_KEY": "redis-test-secret-key-" + "r" * 32,
        "CONNECT_REDIS_URL": redis,
        "CONNECT_LOG_LEVEL": "warning",
    }
    env.pop("CONNECT_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "connect.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("connect serve did not start")


def call(port: int, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


@pytest.fixture
def two_servers(tmp_path):
    redis = redis_url()
    data_dir = tmp_path / "var"
    ports = free_port(), free_port()
    first = start_server(data_dir, ports[0], redis)  # migrates the shared database
    second = start_server(data_dir, ports[1], redis)
    try:
        yield ports
    finally:
        for process in (first, second):
            process.terminate()
        for process in (first, second):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_post_through_one_process_reaches_a_socket_on_the_other(two_servers, tmp_path):
    one, two = two_servers
    subprocess.run(
        [
            sys.executable,
            "-m",
            "connect.cli",
            "create-admin",
            "root",
            "root@example.org",
            "--password-stdin",
        ],  # fmt: skip
        input=PASSWORD + "\n",
        text=True,
        check=True,
        env={**os.environ, "CONNECT_DATA_DIR": str(tmp_path / "var")},
        capture_output=True,
    )
    token = call(one, "POST", "/api/v1/auth/token", {"login": "root", "password": PASSWORD})[
        "token"
    ]
    call(one, "POST", "/api/v1/communities", {"slug": "shared", "name": "Shared"}, token)
    thread = call(
        one, "POST", "/api/v1/communities/shared/threads", {"title": "T", "body": "B"}, token
    )

    async def listen() -> tuple[dict, float]:
        async with websockets.connect(f"ws://127.0.0.1:{two}/api/v1/live?token={token}") as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": f"thread:{thread['id']}"}))
            assert json.loads(await ws.recv())["op"] == "subscribed"
            await asyncio.sleep(0.3)
            started = time.monotonic()
            posted = await asyncio.to_thread(
                call, one, "POST", f"/api/v1/threads/{thread['id']}/posts", {"body": "hi"}, token
            )
            # The hub follows the log a moment behind, so the thread's own first post may
            # still arrive after the subscription: wait for this post (5 s at most each).
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
                if (
                    message.get("type") == "post.created"
                    and message["data"]["post"]["id"] == posted["id"]
                ):
                    return message, time.monotonic() - started

    message, seconds = asyncio.run(listen())
    assert message["channel"] == f"thread:{thread['id']}"
    assert seconds < 5


def test_redis_broadcast_wakes_other_processes():
    from connect.live.broadcast import RedisBroadcast

    redis = redis_url()

    async def scenario():
        woken = asyncio.Event()
        listener = RedisBroadcast(redis, on_message=woken.set)
        sender = RedisBroadcast(redis, on_message=lambda: None)
        await listener.start()
        await sender.start()
        try:
            await asyncio.sleep(0.3)  # let the subscription settle
            woken.clear()
            sender.publish()
            await asyncio.wait_for(woken.wait(), timeout=3)
        finally:
            await sender.stop()
            await listener.stop()

    asyncio.run(scenario())
