"""`connect serve --workers 2`: each worker listens on its own SO_REUSEPORT socket, so new
connections spread across both; a worker that dies is replaced; SIGTERM stops them all, and
so does the supervisor's own death."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import pytest

from tests.faults.processes import STOP_TIMEOUT, Deployment

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CONNECTIONS = 24
WAIT = 30.0


def children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def servers(pid: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = set()
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.add(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def tcp_sockets(port: int, state: str) -> set[int]:
    """Socket inodes on 127.0.0.1:`port` in a TCP state ("01" established, "0A" listening)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def sockets_of(pid: int) -> set[int]:
    inodes = set()
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def wait_for(predicate, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def health(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    finally:
        connection.close()


def start(processes, tmp_path: Path):
    """`connect serve --workers 2` on a new SQLite site; (the server, its worker pids)."""
    data_dir = tmp_path / "var"
    deployment = Deployment(data_dir, f"sqlite+aiosqlite:///{data_dir / 'connect.db'}", "sqlite")
    deployment.prepare()
    server = processes.server(deployment, "server", CONNECT_RUN_WORKERS="0")
    server.command += ["--workers", "2"]
    server.start()
    wait_for(lambda: len(servers(server.pid)) == 2, "two server workers")
    wait_for(lambda: len(tcp_sockets(server.port, "0A")) == 2, "two listening sockets")
    return server, servers(server.pid)


def test_connections_spread_over_workers_and_a_dead_worker_is_replaced(tmp_path, processes):
    server, workers = start(processes, tmp_path)

    # Keep-alive connections opened one after another, as a browser or a proxy opens them.
    connections = []
    try:
        for _ in range(CONNECTIONS):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            connections.append(connection)
        open_here = tcp_sockets(server.port, "01")
        per_worker = {pid: len(sockets_of(pid) & open_here) for pid in workers}
        assert sum(per_worker.values()) == CONNECTIONS, per_worker
        # Shared by hashing: 24 coin flips leave fewer than 3 on one side once in ~28,000 runs.
        assert min(per_worker.values()) >= 3, per_worker
    finally:
        for connection in connections:
            connection.close()

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(
        lambda: (now := servers(server.pid)) and len(now) == 2 and victim not in now and now,
        "a replacement worker",
    )
    assert server.running()
    assert all(health(server.port) == 200 for _ in range(10))

    server.popen.send_signal(signal.SIGTERM)
    assert server.popen.wait(timeout=STOP_TIMEOUT + 5) == 0
    assert not any(alive(pid) for pid in replaced)


def test_workers_exit_when_the_supervisor_is_killed(tmp_path, processes):
    server, workers = start(processes, tmp_path)
    server.kill()
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to exit")
    with pytest.raises(OSError):
        health(server.port)
