"""Live fan-out: publish-to-deliver latency of new posts to 1,000 WebSocket subscribers.

Starts `connect serve` (one process, fresh data folder, SQLite, rate limits off) on
127.0.0.1, creates an administrator, an open community and a thread, opens N
WebSocket subscribers to `thread:<id>` (anonymous: the community is open) spread
over several client processes, then writes posts through the HTTP API at a steady
rate. Each post's body carries the time it was sent (`time.time()`), so every
subscriber computes publish-to-deliver latency from the event's `data.post.body`,
and counts every post id it gets: each must arrive exactly once.

The baseline, in the same run and with the same client code: a bare `websockets`
server (its own process) that broadcasts each "post" to the same number of clients
with `websockets.broadcast` (one encoding per message), driven at the same rate.

    .venv/bin/python bench/live_fanout.py [--subscribers 1000] [--rate 5] [--seconds 60]
        [--client-procs 4] [--skip-baseline]

Prints p50/p95/p99 and the Connect/baseline ratio; writes bench/results/live_fanout.json.
Targets (the issue): p95 <= 100 ms, p99 <= 250 ms, zero lost, zero duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from array import array
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "live_fanout.json"
PASSWORD = "a long and unusual bench password"
TARGET_P95_MS = 100.0
TARGET_P99_MS = 250.0
BODY_PREFIX = "bench-live t="


# Process limits and the machine -------------------------------------------------------


def raise_nofile() -> int:
    """Lift the open-files soft limit to the hard limit (also run in children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    import uvicorn
    import websockets

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "websockets": websockets.__version__,
        "uvicorn": uvicorn.__version__,
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's workers, with --workers > 1)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(member)
    return total


def tree_rss_kb(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += proc_status_kb(member)
    return total


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary_ms(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * 1000, 2),
        "p95_ms": round(percentile(ordered, 95) * 1000, 2),
        "p99_ms": round(percentile(ordered, 99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2),
    }


# `connect serve` in a subprocess --------------------------------------------------------


class ConnectServer:
    """One `connect serve` process on a fresh data folder, on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, *, env: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "server.log"
        self.env = {
            **os.environ,
            "CONNECT_DATA_DIR": str(data_dir),
            "CONNECT_BASE_URL": self.url,
            "CONNECT_SECRET_KEY": "bench-secret-key-" + "b" * 40,
            "CONNECT_RATE_LIMITS": "off",
            "CONNECT_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        for name in ("CONNECT_DATABASE_URL", "CONNECT_REDIS_URL"):
            if name not in (env or {}):
                self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def create_admin(self, username: str = "root") -> None:
        subprocess.run(
            [sys.executable, "-m", "connect.cli", "create-admin"]
            + [username, f"{username}@example.org", "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "connect.cli", "serve"]
                + ["--host", "127.0.0.1", "--port", str(self.port)]
                + ["--workers", str(self.workers)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_nofile,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"connect serve exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"connect serve did not answer /healthz:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


def api(base: str, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


def set_up_connect(server: ConnectServer) -> tuple[str, int]:
    """An administrator (CLI), an open community and a thread; the admin's token."""
    token = api(server.url, "POST", "/auth/token", {"login": "root", "password": PASSWORD})["token"]
    api(
        server.url,
        "POST",
        "/communities",
        {"slug": "bench", "name": "Bench", "visibility": "open"},
        token,
    )
    thread = api(
        server.url,
        "POST",
        "/communities/bench/threads",
        {"title": "Live fan-out", "body": "Posts follow."},
        token,
    )
    return token, thread["id"]


# Subscribers (one asyncio loop per client process) ---------------------------------------


def client_entry(pipe, url: str, channel: str, count: int, ramp: int, compression: bool) -> None:
    raise_nofile()
    asyncio.run(run_client(pipe, url, channel, count, ramp, compression))


async def run_client(
    pipe, url: str, channel: str, count: int, ramp: int, compression: bool
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    latencies = array("d")
    spans: dict[int, list[float]] = {}  # post id: [first, last] delivery latency here
    counts = [Counter() for _ in range(count)]
    sockets: list = []
    closed: list[int | None] = []
    unexpected: Counter = Counter()
    gate = asyncio.Semaphore(ramp)
    ready: set[int] = set()
    extensions = set()
    settled = 0
    all_settled = asyncio.Event()  # every subscriber is in, or has failed to get in

    def settle() -> None:
        nonlocal settled
        settled += 1
        if settled == count:
            all_settled.set()

    async def subscriber(index: int) -> None:
        try:
            ws = await subscribe(index)
        finally:
            settle()
        await listen(index, ws)

    async def subscribe(index: int):
        async with gate:
            ws = await connect(
                url,
                open_timeout=120,
                ping_interval=None,
                max_size=2**20,
                compression="deflate" if compression else None,
            )
            sockets.append(ws)
            extensions.add(ws.response.headers.get("Sec-WebSocket-Extensions", ""))
            await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
            while True:
                answer = json.loads(await ws.recv())
                if answer.get("op") == "subscribed":
                    break
                if answer.get("op") == "error":
                    raise RuntimeError(f"subscription refused: {answer}")
        ready.add(index)
        return ws

    async def listen(index: int, ws) -> None:
        mine = counts[index]
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("op") != "event":
                    unexpected[message.get("op")] += 1
                    continue
                if message.get("type") != "post.created":
                    continue
                post = message["data"]["post"]
                body = post["body"]
                if body.startswith(BODY_PREFIX):
                    latency = now - float(body[len(BODY_PREFIX) :].split()[0])
                    latencies.append(latency)
                    mine[post["id"]] += 1
                    span = spans.setdefault(post["id"], [latency, latency])
                    span[0], span[1] = min(span[0], latency), max(span[1], latency)
        except ConnectionClosed:
            pass
        closed.append(ws.close_code)

    tasks = [asyncio.create_task(subscriber(i)) for i in range(count)]
    opened = asyncio.gather(*tasks, return_exceptions=True)
    if count:
        await all_settled.wait()
    failures = [repr(t.exception()) for t in tasks if t.done() and t.exception()]
    pipe.send(("ready", len(ready), failures[:5]))

    command, expected = await loop.run_in_executor(None, pipe.recv)  # ("stop", [post ids])
    cpu_at_stop = time.process_time()
    expected_ids = set(expected)
    early_closes = len(closed)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await opened
    lost = duplicated = 0
    for index in ready:
        seen = counts[index]
        lost += len(expected_ids - seen.keys())
        duplicated += sum(n - 1 for i, n in seen.items() if n > 1 and i in expected_ids)
    pipe.send(
        (
            "done",
            {
                "latencies": latencies.tobytes(),
                "spans": spans,
                "subscribers": len(ready),
                "lost": lost,
                "duplicated": duplicated,
                "closed_early": early_closes,
                "close_codes": Counter(c for c in closed[:early_closes]).most_common(),
                "other_ops": dict(unexpected),
                "cpu_seconds": cpu_at_stop,
                "extensions": sorted(extensions),
            },
        )
    )


class Clients:
    """N subscribers spread over several processes, each its own asyncio loop."""

    def __init__(
        self, url: str, channel: str, subscribers: int, procs: int, ramp: int, compression: bool
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        share, extra = divmod(subscribers, procs)
        for n in range(procs):
            mine, theirs = context.Pipe()
            count = share + (1 if n < extra else 0)
            process = context.Process(
                target=client_entry,
                args=(theirs, url, channel, count, max(1, ramp // procs), compression),
            )
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def wait_ready(self, timeout: float = 300) -> int:
        total = 0
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError("a client process did not report in time")
            _, ready, failures = pipe.recv()
            if failures:
                print(f"  client connection failures (first few): {failures}", file=sys.stderr)
            total += ready
        return total

    def cpu_seconds(self) -> list[float]:
        return [proc_cpu_seconds(p.pid) for p in self.processes]

    def stop(self, expected: list[int]) -> dict:
        for pipe in self.pipes:
            pipe.send(("stop", expected))
        results = []
        for pipe in self.pipes:
            if not pipe.poll(120):
                raise RuntimeError("a client process did not finish in time")
            results.append(pipe.recv()[1])
        for process in self.processes:
            process.join(30)
        spans: dict[int, list[float]] = {}
        for r in results:
            for post_id, (first, last) in r["spans"].items():
                span = spans.setdefault(post_id, [first, last])
                span[0], span[1] = min(span[0], first), max(span[1], last)
        latencies = array("d")
        for r in results:
            chunk = array("d")
            chunk.frombytes(r["latencies"])
            latencies.extend(chunk)
        return {
            "latencies": list(latencies),
            "spans": spans,
            "subscribers": sum(r["subscribers"] for r in results),
            "lost": sum(r["lost"] for r in results),
            "duplicated": sum(r["duplicated"] for r in results),
            "closed_early": sum(r["closed_early"] for r in results),
            "close_codes": [c for r in results for c in r["close_codes"]],
            "other_ops": [r["other_ops"] for r in results],
            "extensions": sorted({e for r in results for e in r["extensions"]}),
        }

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()


# The driver: N posts at a steady rate ----------------------------------------------------


def drive(publish, rate: float, seconds: float) -> tuple[list[int], list[float], float]:
    """Call `publish(body)` `rate` times a second; returns post ids, call times, lag."""
    total = int(rate * seconds)
    ids: list[int] = []
    durations: list[float] = []
    worst_lag = 0.0

    def one(seq: int) -> tuple[int, float]:
        sent = time.time()
        post_id = publish(f"{BODY_PREFIX}{sent:.6f} seq={seq}")
        return post_id, time.time() - sent

    # Enough threads that a slow server never holds back the next post's start (its
    # body's timestamp): posts go out on schedule, however long earlier ones take.
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        start = time.monotonic() + 0.2
        for seq in range(total):
            target = start + seq / rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            worst_lag = max(worst_lag, -delay)
            futures.append(pool.submit(one, seq))
        for future in futures:
            post_id, took = future.result()
            ids.append(post_id)
            durations.append(took)
    return ids, durations, worst_lag


def start_profiler(args, name: str, pid: int) -> subprocess.Popen | None:
    """With --profile DIR: py-spy (PY_SPY or on PATH) samples the server while it posts."""
    if not args.profile:
        return None
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not spy:
        print("--profile needs py-spy (on PATH or in PY_SPY)", file=sys.stderr)
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{name}.txt"
    seconds = str(int(args.seconds + args.drain - 1))
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "-d", seconds, "-f", "raw", "-o", str(out), "-r", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_phase(name: str, ws_url: str, channel: str, publish, args, server_pid: int) -> dict:
    print(f"[{name}] opening {args.subscribers} subscribers in {args.client_procs} process(es)")
    clients = Clients(
        ws_url, channel, args.subscribers, args.client_procs, args.ramp, not args.no_compression
    )
    try:
        started = time.monotonic()
        ready = clients.wait_ready()
        ramp_s = time.monotonic() - started
        print(f"[{name}] {ready} subscribed in {ramp_s:.1f} s; posting {args.rate}/s")
        time.sleep(1.0)  # let the subscriptions settle
        rss_before = tree_rss_kb(server_pid)
        server_cpu0, clients_cpu0 = tree_cpu_seconds(server_pid), clients.cpu_seconds()
        load0 = os.getloadavg()[0]
        profiler = start_profiler(args, name, server_pid)
        t0 = time.monotonic()
        ids, http_times, lag = drive(publish, args.rate, args.seconds)
        time.sleep(args.drain)
        if profiler is not None:
            profiler.wait()
        elapsed = time.monotonic() - t0
        server_cpu = tree_cpu_seconds(server_pid) - server_cpu0
        clients_cpu = [b - a for a, b in zip(clients_cpu0, clients.cpu_seconds(), strict=True)]
        rss_after = tree_rss_kb(server_pid)
        result = clients.stop(ids)
    finally:
        clients.kill()
    latencies = result.pop("latencies")
    spans = result.pop("spans")
    stats = summary_ms(latencies)
    # Per post: its first delivery (the post's own path: HTTP, commit, hub wake-up) and
    # how long it took from the first subscriber to the last (the fan-out).
    firsts = sorted(first for first, _ in spans.values())
    spreads = sorted(last - first for first, last in spans.values())
    expected = len(ids) * result["subscribers"]
    phase = {
        **stats,
        "posts": len(ids),
        "subscribers": result["subscribers"],
        "expected_deliveries": expected,
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "closed_early": result["closed_early"],
        "close_codes": result["close_codes"],
        "other_ops": result["other_ops"],
        "negotiated_extensions": result["extensions"],
        "subscribe_ramp_s": round(ramp_s, 2),
        "first_delivery_p50_ms": round(percentile(firsts, 50) * 1000, 2),
        "first_delivery_p95_ms": round(percentile(firsts, 95) * 1000, 2),
        "fan_out_spread_p50_ms": round(percentile(spreads, 50) * 1000, 2),
        "fan_out_spread_p95_ms": round(percentile(spreads, 95) * 1000, 2),
        "publish_call_p50_ms": round(percentile(sorted(http_times), 50) * 1000, 2),
        "publish_call_p95_ms": round(percentile(sorted(http_times), 95) * 1000, 2),
        "driver_worst_lag_ms": round(lag * 1000, 2),
        "server_cpu_pct": round(100 * server_cpu / elapsed, 1),
        # CPU time, unlike latency, hardly depends on what else the machine is running.
        "server_cpu_ms_per_post": round(1000 * server_cpu / max(len(ids), 1), 1),
        "server_rss_mb_before": round(rss_before / 1024, 1),
        "server_rss_mb_after": round(rss_after / 1024, 1),
        "client_cpu_pct_per_process": [round(100 * c / elapsed, 1) for c in clients_cpu],
        "loadavg_1min_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    print(
        f"[{name}] p50 {stats.get('p50_ms')} ms  p95 {stats.get('p95_ms')} ms  "
        f"p99 {stats.get('p99_ms')} ms  max {stats.get('max_ms')} ms  "
        f"deliveries {stats['count']}/{expected}  lost {phase['lost']}  "
        f"duplicated {phase['duplicated']}  publish call p50 {phase['publish_call_p50_ms']} ms  "
        f"first delivery p50 {phase['first_delivery_p50_ms']} ms  "
        f"fan-out spread p50/p95 {phase['fan_out_spread_p50_ms']}/"
        f"{phase['fan_out_spread_p95_ms']} ms  "
        f"server CPU {phase['server_cpu_pct']}% ({phase['server_cpu_ms_per_post']} ms/post)  "
        f"clients CPU {phase['client_cpu_pct_per_process']}%"
    )
    return phase


# Connect ----------------------------------------------------------------------------------


def run_connect(args, workdir: Path) -> dict:
    env = {"CONNECT_REDIS_URL": args.redis} if args.redis else {}
    server = ConnectServer(workdir / "var", env=env, workers=args.workers)
    server.create_admin()
    server.start()
    try:
        token, thread_id = set_up_connect(server)

        def publish(body: str) -> int:
            return api(server.url, "POST", f"/threads/{thread_id}/posts", {"body": body}, token)[
                "id"
            ]

        ws_url = f"ws://127.0.0.1:{server.port}/api/v1/live"
        return run_phase("connect", ws_url, f"thread:{thread_id}", publish, args, server.pid)
    finally:
        server.stop()
        if args.keep_log:
            shutil.copy(server.log_path, args.keep_log)


# The baseline: a bare websockets broadcast server ----------------------------------------


def baseline_entry(port: int, ready) -> None:
    raise_nofile()
    asyncio.run(baseline_server(port, ready))


async def baseline_server(port: int, ready) -> None:
    """Subscribe/subscribed like Connect; `publish` broadcasts a post.created-shaped event."""
    from websockets.asyncio.server import broadcast, serve

    subscribers: set = set()

    async def handler(ws) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("op") == "subscribe":
                    subscribers.add(ws)
                    await ws.send(json.dumps({"op": "subscribed", "channel": message["channel"]}))
                elif message.get("op") == "publish":
                    post_id = message["id"]
                    body = message["body"]
                    event = {
                        "op": "event",
                        "id": 1000 + post_id,
                        "channel": "thread:1",
                        "type": "post.created",
                        "data": {
                            "thread_id": 1,
                            "post": {
                                "id": post_id,
                                "thread_id": 1,
                                "author": {
                                    "username": "root",
                                    "display_name": "root",
                                    "avatar_url": None,
                                },
                                "body": body,
                                "html": f"<p>{body}</p>\n",
                                "created_at": "2026-01-01T00:00:00.000000+00:00",
                                "edited_at": None,
                                "status": "published",
                                "recommend_count": 0,
                                "recommended": False,
                                "reply_to": None,
                                "url": f"/threads/1#post-{post_id}",
                            },
                            "status": "published",
                            "reply_to_author_id": None,
                            "mentions": [],
                        },
                    }
                    broadcast(subscribers, json.dumps(event, separators=(",", ":")))
        finally:
            subscribers.discard(ws)

    async with serve(handler, "127.0.0.1", port, backlog=4096, max_size=2**20):
        ready.set()
        await asyncio.Future()


def run_baseline(args) -> dict:
    from websockets.sync.client import connect

    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    server = context.Process(target=baseline_entry, args=(port, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise RuntimeError("the baseline server did not start")
    url = f"ws://127.0.0.1:{port}/"
    try:
        with connect(url) as publisher:
            # One small frame per publish: no Nagle/delayed-ACK stalls on the driver's socket.
            publisher.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            lock = threading.Lock()
            numbers = iter(range(1, 10**9))

            def publish(body: str) -> int:
                # Fire and forget (the id is ours to give): a publish never waits on the
                # server, so a slow broadcast cannot queue later posts in the driver.
                with lock:
                    post_id = next(numbers)
                    publisher.send(json.dumps({"op": "publish", "id": post_id, "body": body}))
                return post_id

            return run_phase("baseline", url, "thread:1", publish, args, server.pid)
    finally:
        server.kill()
        server.join(10)


# Main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0, help="posts per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--client-procs",
        type=int,
        default=4,
        help="client processes sharing the subscribers (each one asyncio loop)",
    )
    parser.add_argument("--ramp", type=int, default=100, help="connections opened at once")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait after posting")
    parser.add_argument(
        "--workers", type=int, default=1, help="`connect serve --workers N` (use with --redis)"
    )
    parser.add_argument(
        "--redis",
        default="",
        help="CONNECT_REDIS_URL for the server, so every worker's hub wakes on each post",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-connect", action="store_true")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="subscribers offer no permessage-deflate (browsers do offer it)",
    )
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here")
    parser.add_argument("--profile", type=Path, help="py-spy the servers; raw samples here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    nofile = raise_nofile()
    need = args.subscribers + 200
    if nofile < need:
        print(f"open-files limit {nofile} < {need}: some connections may fail", file=sys.stderr)
    sys.path.insert(0, str(ROOT))
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, websockets {info['websockets']}, uvicorn {info['uvicorn']}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="connect-live-fanout-"))
    try:
        connect_result = {} if args.skip_connect else run_connect(args, workdir)
        baseline_result = None if args.skip_baseline else run_baseline(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results = {
        "benchmark": "live_fanout",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "parameters": {
            "subscribers": args.subscribers,
            "rate_per_s": args.rate,
            "seconds": args.seconds,
            "client_procs": args.client_procs,
            "drain_s": args.drain,
            "compression_offered": not args.no_compression,
            "connect_workers": args.workers,
            "redis": bool(args.redis),
        },
        "targets": {"p95_ms": TARGET_P95_MS, "p99_ms": TARGET_P99_MS, "lost": 0, "duplicated": 0},
        "connect": connect_result,
        "baseline_websockets_broadcast": baseline_result,
    }
    if connect_result and baseline_result and baseline_result.get("count"):
        results["ratio_connect_to_baseline"] = {
            key: round(connect_result[key] / baseline_result[key], 2)
            if baseline_result[key]
            else None
            for key in ("p50_ms", "p95_ms", "p99_ms")
        }
        print(f"ratio Connect/baseline: {results['ratio_connect_to_baseline']}")
    met = bool(
        connect_result.get("count", 0) > 0
        and connect_result["p95_ms"] <= TARGET_P95_MS
        and connect_result["p99_ms"] <= TARGET_P99_MS
        and connect_result["lost"] == 0
        and connect_result["duplicated"] == 0
    )
    results["targets_met"] = met
    print(
        f"targets (p95 <= {TARGET_P95_MS:.0f} ms, p99 <= {TARGET_P99_MS:.0f} ms, "
        f"none lost or duplicated): {'MET' if met else 'MISSED'}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
