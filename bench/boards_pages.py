"""Benchmark: thread pages and board pages under concurrent readers, on SQLite.

Standalone (not collected by pytest):

    .venv/bin/python bench/boards_pages.py [--threads 200 --posts 50 --requests 4000 --clients 16]

It seeds a fresh data folder (1 open community, --threads threads of --posts posts by
--members members, bodies rendered by connect.markup.render), starts `connect serve` on a
free loopback port and warms up: --warmup random requests per client (1,600 in all, on
average one per thread page, audience and worker), so that most pages are in the caches, as
on a site that has been serving; `--warmup 10 --requests 2000` measures a colder start.
Then --clients concurrent clients work through one shuffled list of --requests thread
pages (random thread, page 1) and --requests board pages (page 1, random sort), half of
each anonymous and half signed in (each client has an anonymous connection and one signed
in as its own member). Latency is measured in the client, from sending the request to
having read the whole body. The run stops at --time-limit seconds even if requests are
left. Figures are printed and written to bench/results/boards_pages.json, with the
server's CPU time per request.

Target from the issue: p95 under 50 ms with 16 concurrent clients on SQLite, 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.httpclient import Connection, HttpError, runner, wait_for_listeners  # noqa: E402  (after the path fix)

PASSWORD = "a long and unusual benchmark password"
SLUG = "bench"
PAGE_TYPES = ("thread", "board")
TARGET_P95_MS = 50.0

WORDS = [
    "catalog", "record", "metadata", "authority", "archive", "collection", "preservation",
    "digitization", "patron", "circulation", "library", "branch", "reference",
    "consortium", "workflow", "migration", "vendor", "system", "discovery", "layer",
    "access", "policy", "review", "committee", "budget", "grant", "outreach", "program",
    "shelf", "scan", "sheet", "map", "atlas", "survey", "manuscript", "folio", "binding",
    "paper", "ink", "condition", "report", "loan", "exhibit", "storage", "climate",
    "humidity", "survey", "training", "staff", "volunteer", "schedule", "meeting",
    "agenda", "minutes", "proposal", "pilot", "project", "timeline"
]  # fmt: skip


# Machine ---------------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        nproc = os.cpu_count()
    return {
        "nproc": nproc,
        "cpu_model": model,
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def code_version() -> dict:
    """Which code was measured: the commit, and how many files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        changed = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return {"commit": None}
    if head.returncode != 0 or changed.returncode != 0:
        return {"commit": None}
    return {"commit": head.stdout.strip(), "uncommitted_paths": len(changed.stdout.splitlines())}


# Seeding ---------------------------------------------------------------------------------


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?"])


def _body(rng: random.Random, usernames: list[str]) -> str:
    """Markdown of about 300-800 characters with the usual mix of features."""
    target = rng.randint(300, 800)
    parts: list[str] = []
    while sum(len(p) for p in parts) < target:
        roll = rng.random()
        if roll < 0.15:
            parts.append("\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(2, 4))))
        elif roll < 0.25:
            parts.append(f"> {_sentence(rng)}")
        else:
            words = _sentence(rng).split(" ")
            i = rng.randrange(len(words))
            if rng.random() < 0.5:
                words[i] = f"**{words[i]}**"
            if rng.random() < 0.3:
                words[i - 1] = f"[{words[i - 1]}](https://example.org/{rng.choice(WORDS)})"
            if rng.random() < 0.2:
                words.append(f"`{rng.choice(WORDS)}_id`")
            if rng.random() < 0.1:
                words.append(f"@{rng.choice(usernames)}")
            parts.append(" ".join(words) + " " + _sentence(rng))
    return "\n\n".join(parts)[:900]


def seed(data_dir: Path, *, threads: int, posts: int, members: int, rng: random.Random) -> dict:
    """Migrate a fresh database and bulk-insert the community straight through SQLAlchemy."""
    from argon2 import PasswordHasher
    from sqlalchemy import create_engine, insert

    import connect.models  # noqa: F401  (every table on Base.metadata)
    from connect import markup, migrate
    from connect.accounts.models import User
    from connect.boards.models import Post, Recommendation, Subscription, Thread, ThreadRead
    from connect.communities.models import Community, Membership
    from connect.members.models import Profile

    db_path = data_dir / "connect.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(f"sqlite+aiosqlite:///{db_path}")
    engine = create_engine(f"sqlite:///{db_path}")
    password_hash = PasswordHasher().hash(PASSWORD)  # one hash shared by everybody
    start = datetime.now(UTC) - timedelta(days=400)

    usernames = ["admin"] + [f"member{i:04d}" for i in range(1, members + 1)]
    users = [
        {
            "id": i + 1,
            "username": name,
            "email": f"{name}@bench.example",
            "password_hash": password_hash,
            "display_name": "Bench Admin" if i == 0 else f"Member {i:04d}",
            "site_role": "admin" if i == 0 else "member",
            "created_at": start,
        }
        for i, name in enumerate(usernames)
    ]
    profiles = [
        {
            "user_id": u["id"],
            "title": "Librarian",
            "organization": f"Library {u['id'] % 40}",
            "preferences": {"subscription_mode": "in_app", "email_replies": "in_app"},
        }
        for u in users
    ]
    member_ids = [u["id"] for u in users[1:]]

    thread_rows, post_rows, subs, recs, reads = [], [], set(), set(), []
    post_id = 0
    for t in range(1, threads + 1):
        when = start + timedelta(days=rng.uniform(0, 300))
        authors = [rng.choice(member_ids) for _ in range(posts)]
        first_id = post_id + 1
        in_thread: list[int] = []
        for n, author in enumerate(authors):
            post_id += 1
            body = _body(rng, usernames)
            reply_to = rng.choice(in_thread) if in_thread and rng.random() < 0.3 else None
            post_rows.append(
                {
                    "id": post_id,
                    "thread_id": t,
                    "community_id": 1,
                    "author_id": author,
                    "body": body,
                    "html": markup.render(body),
                    "status": "published",
                    "created_at": when,
                    "reply_to_id": reply_to,
                    "recommend_count": 0,
                }
            )
            in_thread.append(post_id)
            subs.add((author, t))
            for fan in rng.sample(member_ids, rng.choice((0, 0, 0, 1, 2, 3))):
                if fan != author:
                    recs.add((post_id, fan))
            if n < posts - 1:
                when += timedelta(minutes=rng.randint(5, 600))
        thread_rows.append(
            {
                "id": t,
                "community_id": 1,
                "author_id": authors[0],
                "title": " ".join(rng.choices(WORDS, k=rng.randint(4, 9))).capitalize(),
                "status": "published",
                "created_at": post_rows[first_id - 1]["created_at"],
                "last_post_at": when,
                "last_poster_id": authors[-1],
                "post_count": posts,
                "pinned": t <= 2,
                "locked": False,
                "first_post_id": first_id,
            }
        )
    counts: dict[int, int] = {}
    for p, _ in recs:
        counts[p] = counts.get(p, 0) + 1
    for row in post_rows:
        row["recommend_count"] = counts.get(row["id"], 0)
    # The signed-in clients (the first members) have read part of most threads.
    for user_id in member_ids[:64]:
        for t in rng.sample(range(1, threads + 1), k=threads * 2 // 3):
            last = (t - 1) * posts + rng.randint(1, posts)
            reads.append(
                {
                    "user_id": user_id,
                    "thread_id": t,
                    "last_read_post_id": last,
                    "read_at": post_rows[last - 1]["created_at"],
                }
            )

    with engine.begin() as conn:
        conn.execute(insert(User.__table__), users)
        conn.execute(insert(Profile.__table__), profiles)
        conn.execute(
            insert(Community.__table__),
            [
                {
                    "id": 1,
                    "slug": SLUG,
                    "name": "Benchmark Community",
                    "description": "Seeded by bench/boards_pages.py.",
                    "visibility": "open",
                    "moderation": "none",
                    "created_at": start,
                    "created_by_id": 1,
                    "member_count": len(users),
                }
            ],
        )
        conn.execute(
            insert(Membership.__table__),
            [
                {
                    "community_id": 1,
                    "user_id": u["id"],
                    "role": "owner" if u["id"] == 1 else "member",
                    "status": "active",
                    "created_at": start,
                }
                for u in users
            ],
        )
        conn.execute(insert(Thread.__table__), thread_rows)
        conn.execute(insert(Post.__table__), post_rows)
        conn.execute(
            insert(Recommendation.__table__),
            [{"post_id": p, "user_id": u, "created_at": start} for p, u in sorted(recs)],
        )
        conn.execute(
            insert(Subscription.__table__),
            [
                {
                    "user_id": u,
                    "community_id": 1,
                    "thread_id": t,
                    "mode": "in_app",
                    "created_at": start,
                }
                for u, t in sorted(subs)
            ],
        )
        if reads:
            conn.execute(insert(ThreadRead.__table__), reads)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {
        "members": len(users),
        "threads": len(thread_rows),
        "posts": len(post_rows),
        "recommendations": len(recs),
        "subscriptions": len(subs),
        "thread_reads": len(reads),
        "db_mb": round(db_path.stat().st_size / 1024 / 1024, 1),
    }


# The server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, log_path: Path, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "CONNECT_DATA_DIR": str(data_dir),
        "CONNECT_BASE_URL": f"http://127.0.0.1:{port}",
        "CONNECT_RATE_LIMITS": "off",
        "CONNECT_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CONNECT_DATABASE_URL", "CONNECT_REDIS_URL"):
        env.pop(name, None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "connect.cli", "serve"]
            + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"connect serve exited:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    wait_for_listeners(port, workers)
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop_server(process)
    raise RuntimeError("connect serve did not answer /healthz within 30 s")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its children (uvicorn workers), Linux only."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    try:
        for each in _descendants(pid):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return None
    return total


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# The load --------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what)


def request_path(kind: str, rng: random.Random, threads: int) -> str:
    if kind == "thread":
        return f"/threads/{rng.randint(1, threads)}"
    return f"/c/{SLUG}" + rng.choice(("", "?sort=new"))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def sign_in(client: Connection, username: str) -> None:
    answer = await client.request(
        "POST", "/api/v1/auth/session", json_body={"login": username, "password": PASSWORD}
    )
    if answer.status != 200 or "connect_session" not in client.cookies:
        raise RuntimeError(f"sign-in as {username} failed: {answer.status} {answer.body[:200]}")


async def run_load(
    base_url: str,
    *,
    server_pid: int | None = None,
    clients: int,
    requests_per_type: int,
    threads: int,
    time_limit: float,
    warmup: int,
    rng: random.Random,
) -> tuple[dict, float, bool, dict]:
    """`clients` concurrent loops share one shuffled list of requests: half of each page
    type anonymous, half signed in. Each loop has two connections (one anonymous, one
    signed in as its own member), so concurrency and the mix stay even to the end."""
    jobs = []
    for kind in PAGE_TYPES:
        for n in range(requests_per_type):
            who = "anonymous" if n % 2 == 0 else "member"
            jobs.append((kind, who, request_path(kind, rng, threads)))
    rng.shuffle(jobs)
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    stats = {(kind, who): Stats() for kind in PAGE_TYPES for who in ("anonymous", "member")}
    port = int(base_url.rsplit(":", 1)[1])
    agents = [{"anonymous": Connection(port), "member": Connection(port)} for _ in range(clients)]
    try:
        await asyncio.gather(
            *(sign_in(a["member"], f"member{n + 1:04d}") for n, a in enumerate(agents))
        )

        async def warm(agent) -> None:
            for _ in range(warmup):
                kind, who = rng.choice(PAGE_TYPES), rng.choice(("anonymous", "member"))
                answer = await agent[who].request("GET", request_path(kind, rng, threads))
                if answer.status != 200:
                    raise RuntimeError(f"warm-up: HTTP {answer.status}")

        await asyncio.gather(*(warm(a) for a in agents))

        deadline = time.monotonic() + time_limit
        timed_out = False
        cpu = {"server_start": cpu_seconds(server_pid) if server_pid else None}
        cpu["client_start"] = time.process_time()

        async def worker(agent) -> None:
            nonlocal timed_out
            while not queue.empty():
                if time.monotonic() > deadline:
                    timed_out = True
                    return
                kind, who, path = queue.get_nowait()
                record = stats[(kind, who)]
                started = time.perf_counter()
                try:
                    answer = await asyncio.wait_for(agent[who].request("GET", path), 30)
                    body = answer.body
                except (HttpError, OSError, TimeoutError) as exc:
                    record.error(f"{path}: {type(exc).__name__}: {exc}")
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status != 200:
                    record.error(f"{path}: HTTP {answer.status}")
                elif (kind == "thread" and b'class="post"' not in body) or (
                    who == "member" and b"Sign out" not in body
                ):
                    record.error(f"{path}: unexpected page content")
                else:
                    record.latencies_ms.append(elapsed)

        began = time.perf_counter()
        await asyncio.gather(*(worker(a) for a in agents))
        wall = time.perf_counter() - began
        server_end = cpu_seconds(server_pid) if server_pid else None
        done = sum(len(s.latencies_ms) + s.errors for s in stats.values())
        usage = {"client_cpu_s": round(time.process_time() - cpu["client_start"], 2)}
        if server_end is not None and cpu["server_start"] is not None:
            usage["server_cpu_s"] = round(server_end - cpu["server_start"], 2)
            usage["server_cpu_ms_per_request"] = round(usage["server_cpu_s"] * 1000 / done, 2)
        usage["client_cpu_ms_per_request"] = round(usage["client_cpu_s"] * 1000 / done, 2)
    finally:
        for agent in agents:
            for connection in agent.values():
                connection.close()
    return stats, wall, timed_out, usage


def summarize(latencies: list[float], errors: int, wall: float) -> dict:
    done = len(latencies) + errors
    if not latencies:
        return {"requests": done, "errors": errors}
    return {
        "requests": done,
        "errors": errors,
        "throughput_rps": round(done / wall, 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
    }


def report(stats: dict, wall: float) -> dict:
    """Per page type (both audiences together), and per page type and audience."""
    result: dict = {}
    for kind in PAGE_TYPES:
        lat = [x for (k, _), s in stats.items() if k == kind for x in s.latencies_ms]
        errs = sum(s.errors for (k, _), s in stats.items() if k == kind)
        result[kind] = summarize(lat, errs, wall)
        for (k, who), s in stats.items():
            if k == kind:
                result[kind][who] = summarize(s.latencies_ms, s.errors, wall)
                if s.error_samples:
                    result[kind][who]["error_samples"] = s.error_samples
    return result


def print_table(pages: dict) -> None:
    head = f"{'page':<18}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
    print(head + f"{'p99 ms':>8}")
    for kind, row in pages.items():
        for label, values in [(kind, row)] + [
            (f"  {who}", row[who]) for who in ("anonymous", "member") if who in row
        ]:
            if "p50_ms" not in values:
                print(f"{label:<18}{values['requests']:>9}{values['errors']:>7}")
                continue
            print(
                f"{label:<18}{values['requests']:>9}{values['errors']:>7}"
                f"{values['throughput_rps']:>8}{values['p50_ms']:>8}{values['p95_ms']:>8}"
                f"{values['p99_ms']:>8}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=200, help="threads to seed (200)")
    parser.add_argument("--posts", type=int, default=50, help="posts per thread (50)")
    parser.add_argument("--members", type=int, default=500, help="members to seed (500)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per page type (4000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests per client (100)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (1)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench" / "results" / "boards_pages.json",
        help="where the JSON goes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.members < args.clients or args.threads < 1 or args.posts < 1:
        parser.error("need at least 1 client, as many members as clients, 1 thread, 1 post")

    rng = random.Random(args.seed)
    info = machine()
    print(
        f"machine: {info['nproc']} CPU(s), {info['cpu_model']}, {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, SQLite {info['sqlite']}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="connect-bench-"))
    data_dir = workdir / "var"
    process = None
    try:
        began = time.perf_counter()
        seeded = seed(
            data_dir, threads=args.threads, posts=args.posts, members=args.members, rng=rng
        )
        seed_s = time.perf_counter() - began
        print(f"seeded in {seed_s:.1f} s: {seeded}")
        port = free_port()
        process = start_server(data_dir, port, workdir / "server.log", args.workers)
        load_before = load_average()
        with runner() as loop:
            stats, wall, timed_out, usage = loop.run(
                run_load(
                    f"http://127.0.0.1:{port}",
                    server_pid=process.pid,
                    clients=args.clients,
                    requests_per_type=args.requests,
                    threads=args.threads,
                    time_limit=args.time_limit,
                    warmup=args.warmup,
                    rng=rng,
                )
            )
        load_after = load_average()
    finally:
        if process is not None:
            stop_server(process)
        if args.keep:
            print(f"data folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    pages = report(stats, wall)
    result = {
        "benchmark": "boards_pages",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "code": code_version(),
        "parameters": {
            "threads": args.threads,
            "posts_per_thread": args.posts,
            "members": args.members,
            "requests_per_page_type": args.requests,
            "clients": args.clients,
            "signed_in_share": 0.5,
            "server_workers": args.workers,
            "time_limit_s": args.time_limit,
            "warmup_per_client": args.warmup,
        },
        "seeded": {**seeded, "seconds": round(seed_s, 1)},
        "wall_s": round(wall, 2),
        "time_limited": timed_out,
        "total_throughput_rps": round(
            sum(p["requests"] for p in pages.values()) / wall if wall else 0.0, 1
        ),
        "cpu": usage,
        "load_average": {"before": load_before, "after": load_after},
        "pages": pages,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": all(p.get("p95_ms", 1e9) < TARGET_P95_MS for p in pages.values()),
    }
    print(
        f"load: {wall:.1f} s{' (stopped at the time limit)' if timed_out else ''}, "
        f"{result['total_throughput_rps']} req/s in all; CPU per request: "
        f"server {usage.get('server_cpu_ms_per_request')} ms, "
        f"client {usage['client_cpu_ms_per_request']} ms; "
        f"load average before {load_before}, after {load_after}"
    )
    if load_before and load_before[0] > 0.5 * (info["nproc"] or 1):
        print("warning: the machine was busy before the run; figures are pessimistic")
    print_table(pages)
    verdict = "meets" if result["meets_target"] else "misses"
    print(f"p95 target {TARGET_P95_MS:.0f} ms: {verdict} it")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
