"""Services a fault test owns and may break: its own redis-server and its own PostgreSQL
cluster, each in a temporary folder on a free loopback port, never the shared ones.

A missing binary skips the test, or fails it under CONNECT_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.faults.processes import free_port

PG_BIN = Path(os.environ.get("CONNECT_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 60


def unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"CONNECT_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class OwnRedis:
    """`redis-server` on 127.0.0.1:<free port>, nothing saved, in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            unavailable("redis-server is not installed (scripts/ci-services installs it)")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("redis-server did not start: " + self.log_tail())
            time.sleep(0.05)

    def ping(self) -> bool:
        return self.command("PING") == "+PONG"

    def command(self, *words: str) -> str:
        """One command in RESP, its first reply line ("" when nothing answers)."""
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(request.encode())
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return ""
        return data.decode(errors="replace").strip()

    def subscribers(self, channel: str) -> int:
        """PUBSUB NUMSUB for one channel (how many processes listen)."""
        request = f"*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${len(channel)}\r\n{channel}\r\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(request.encode())
                data = b""
                deadline = time.monotonic() + 2
                while data.count(b"\r\n") < 4 and time.monotonic() < deadline:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return 0
        lines = data.decode(errors="replace").split("\r\n")
        try:
            return int(lines[3].lstrip(":"))
        except (IndexError, ValueError):
            return 0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self) -> str:
        try:
            return (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


class OwnPostgres:
    """A throwaway PostgreSQL cluster (initdb) in a temporary folder, on 127.0.0.1:<free port>,
    its Unix socket in that folder too. PostgreSQL refuses to run as root: as root, the
    binaries run as the `postgres` user, who owns the folder."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            unavailable(f"the PostgreSQL server binaries are not in {PG_BIN}")
        self.as_root = os.geteuid() == 0
        if self.as_root and not shutil.which("runuser"):
            unavailable("running as root without runuser to become postgres")
        self.folder = Path(tempfile.mkdtemp(prefix="connect-faults-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if self.as_root:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                self.remove()
                unavailable("running as root and there is no postgres user")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        os.chmod(self.folder, 0o700)

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=False
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://connect@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        done = self._run(
            "initdb", "-D", str(self.data), "-U", "connect", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        done = self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
            "-o", options, "-w", "-t", str(START_TIMEOUT),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + self.log_tail()

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def create_database(self, name: str) -> str:
        done = self._run(
            "psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "connect",
            "-d", "postgres", "-c", f'CREATE DATABASE "{name}"',
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return self.url(name)

    def running(self) -> bool:
        return _answers(self.port)

    def log_tail(self) -> str:
        try:
            return (self.folder / "postgres.log").read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def remove(self) -> None:
        if self.data.exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
