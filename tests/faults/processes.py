"""Real processes for the fault tests: `connect serve` and `connect worker` on a shared data
folder and database, each on 127.0.0.1, started, killed (SIGKILL) and restarted by the test.

Every wait here is bounded; every process a test starts is registered with `Processes`, which
kills whatever is still running when the test ends, pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and unusual password"
SECRET = "fault-test-secret-key-" + "f" * 32
# The machine is small and shared: starting Python and the app can take a while.
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def report(name: str, **figures) -> None:
    """Print a test's figures (bench/README.md "Fault tests" quotes them); with
    CONNECT_FAULTS_REPORT=<file>, also append them there as one JSON line."""
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\nFAULTS {name}: {line}")
    target = os.environ.get("CONNECT_FAULTS_REPORT")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"test": name, **figures}) + "\n")


def alive(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    return False


def median(values) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass
class Deployment:
    """One site: a data folder plus a database (SQLite in the folder, or PostgreSQL)."""

    data_dir: Path
    database_url: str
    backend: str
    redis_url: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        # The caller's own CONNECT_* settings stay out: only the deployment's count.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
        env.update({
            "CONNECT_DATA_DIR": str(self.data_dir),
            "CONNECT_DATABASE_URL": self.database_url,
            "CONNECT_SECRET_KEY": SECRET,
            "CONNECT_RATE_LIMITS": "off",
            "CONNECT_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        })  # fmt: skip
        if self.redis_url:
            env["CONNECT_REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    def prepare(self) -> None:
        """Migrate and create the administrator, as `connect create-admin` would."""
        from connect import migrate
        from connect.accounts import service as accounts
        from connect.app import create_app
        from connect.db import Database
        from connect.settings import Settings
        from tests.conftest import fast_passwords

        self.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(self.database_url)
        settings = Settings.from_env(
            {}, data_dir=self.data_dir, database_url=self.database_url, secret_key=SECRET
        )
        context = create_app(settings).state.ctx
        context.passwords = fast_passwords()

        async def run() -> None:
            context.db = Database(self.database_url)
            try:
                await accounts.register(
                    context,
                    username="root",
                    email="root@example.org",
                    password=PASSWORD,
                    display_name="Root",
                    site_role="admin",
                )
            finally:
                await context.db.dispose()

        asyncio.run(run())


@dataclass
class Process:
    """`python -m connect.cli <command>` with the deployment's settings, logging to a file."""

    deployment: Deployment
    command: list[str]
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None
    started_at: float = 0.0

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {' '.join(self.command)} ---\n".encode())
            log.flush()
            self.started_at = time.monotonic()
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "connect.cli", *self.command],
                cwd=ROOT,
                env=self.deployment.env(**self.extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        """SIGKILL, then reap (a zombie would still look alive)."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes too long."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Server(Process):
    def __init__(self, deployment: Deployment, log_path: Path, *, port: int | None = None,
                 **extra_env: str) -> None:  # fmt: skip
        self.port = port or free_port()
        super().__init__(
            deployment,
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
            log_path,
            {"CONNECT_BASE_URL": f"http://127.0.0.1:{self.port}", **extra_env},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for /healthz; returns the seconds it took."""
        self.spawn()
        deadline = self.started_at + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"connect serve exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return time.monotonic() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"connect serve did not answer in {STARTUP_TIMEOUT:.0f} s:\n"
                             f"{self.log_tail()}")  # fmt: skip


class Worker(Process):
    def __init__(self, deployment: Deployment, log_path: Path, **extra_env: str) -> None:
        super().__init__(
            deployment, ["worker"], log_path, {"CONNECT_LOG_LEVEL": "info", **extra_env}
        )

    def start(self) -> None:
        self.spawn()


class Processes:
    """Every process a test started; whatever still runs at the end is killed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.all: list[Process] = []

    def server(self, deployment: Deployment, name: str = "server", **kwargs) -> Server:
        server = Server(deployment, self.folder / f"{name}.log", **kwargs)
        self.all.append(server)
        return server

    def worker(self, deployment: Deployment, name: str = "worker", **extra_env) -> Worker:
        worker = Worker(deployment, self.folder / f"{name}.log", **extra_env)
        self.all.append(worker)
        return worker

    def cleanup(self) -> None:
        for process in self.all:
            with contextlib.suppress(Exception):  # keep cleaning up
                process.kill()


# HTTP -------------------------------------------------------------------------------------


def call_full(url: str, method: str, path: str, body: dict | None = None, token: str = "",
              timeout: float = REQUEST_TIMEOUT) -> tuple[int, dict, dict[str, str]]:  # fmt: skip
    """One JSON request; (status, body, headers) for any HTTP answer (errors included)."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw, status = answer.read(), answer.status
            got = {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
        got = {k.lower(): v for k, v in exc.headers.items()}
    try:
        return status, json.loads(raw or b"{}"), got
    except ValueError:
        return status, {"raw": raw[:500].decode(errors="replace")}, got


def call(url: str, method: str, path: str, body: dict | None = None, token: str = "",
         timeout: float = REQUEST_TIMEOUT) -> tuple[int, dict]:  # fmt: skip
    """One JSON request; (status, body) for any HTTP answer (errors included)."""
    status, answer, _ = call_full(url, method, path, body, token, timeout)
    return status, answer


def sign_in(url: str) -> str:
    status, body = call(url, "POST", "/api/v1/auth/token", {"login": "root", "password": PASSWORD})
    assert status == 200, body
    return body["token"]


def new_thread(url: str, token: str, slug: str = "faults") -> int:
    status, body = call(url, "GET", f"/api/v1/communities/{slug}", token=token)
    if status == 404:
        status, body = call(
            url, "POST", "/api/v1/communities", {"slug": slug, "name": slug.title()}, token
        )
        assert status == 201, body
    status, body = call(
        url,
        "POST",
        f"/api/v1/communities/{slug}/threads",
        {"title": "Fault injection", "body": "Posts arrive here while processes die."},
        token,
    )
    assert status == 201, body
    return body["id"]


@dataclass
class PostingOutcome:
    acknowledged: list[int] = field(default_factory=list)
    acknowledged_at: list[float] = field(default_factory=list)  # time.monotonic() of each
    transport_errors: int = 0
    bad_statuses: list[tuple[int, str]] = field(default_factory=list)


async def post_until(url: str, token: str, thread_id: int, *, clients: int,
                     stop: asyncio.Event, outcome: PostingOutcome, words: int = 30,
                     stop_on_error: bool = True) -> None:  # fmt: skip
    """`clients` concurrent posters, each on its own connection, until `stop` is set (or,
    with `stop_on_error`, until the server stops answering). Every 2xx goes into
    `outcome.acknowledged`; any other HTTP status is recorded as a bad one."""
    import httpx2 as httpx

    async def poster(number: int) -> None:
        sequence = 0
        async with httpx.AsyncClient(
            base_url=url,
            headers={"authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT,
        ) as client:
            while not stop.is_set():
                sequence += 1
                body = f"client {number} post {sequence}: " + " ".join(
                    f"word{(sequence * 7 + i) % 97}" for i in range(words)
                )
                try:
                    answer = await client.post(
                        f"/api/v1/threads/{thread_id}/posts", json={"body": body}
                    )
                except httpx.TransportError:
                    outcome.transport_errors += 1
                    if stop_on_error:
                        return
                    await asyncio.sleep(0.1)
                    continue
                if 200 <= answer.status_code < 300:
                    outcome.acknowledged.append(answer.json()["id"])
                    outcome.acknowledged_at.append(time.monotonic())
                else:
                    outcome.bad_statuses.append((answer.status_code, answer.text[:300]))

    await asyncio.gather(*(poster(n) for n in range(clients)))


def wait_for(condition, timeout: float, step: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Poster:
    """Clients posting in a background thread until stopped."""

    def __init__(self, url: str, token: str, thread_id: int, clients: int = 2,
                 words: int = 30) -> None:  # fmt: skip
        self.outcome = PostingOutcome()
        self._args = (url, token, thread_id, clients, words)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        url, token, thread_id, clients, words = self._args
        self._loop.run_until_complete(
            post_until(
                url,
                token,
                thread_id,
                clients=clients,
                stop=self._stop,
                outcome=self.outcome,
                words=words,
                stop_on_error=False,
            )  # fmt: skip
        )
        self._loop.close()

    def start(self) -> Poster:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the posting clients did not stop"
