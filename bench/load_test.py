"""Load test: a site the size of ALA Connect under a realistic mix of readers, searchers,
posters and live subscribers, on SQLite (one process) or PostgreSQL + Redis (scale-out).

Standalone (not collected by pytest):

    .venv/bin/python bench/load_test.py                       # SQLite, one process, full size
    .venv/bin/python bench/load_test.py --scale 0.02          # a quick smoke run
    .venv/bin/python bench/load_test.py --keep                # seed once into --data-dir, reuse
    .venv/bin/python bench/load_test.py --database postgres --workers 2 --keep
        [--database-url postgresql+asyncpg://connect:connect@127.0.0.1:5432/connect_load]
        [--redis-url redis://127.0.0.1:6379/5]

1. Seeds a data folder (bench/corpus.py, the search benchmark's corpus, with 200 communities:
   50,000 members with profiles, ~80,000 memberships, 5,000 threads / 100,000 posts, 5,000
   library entries whose text files go into the blob store), marks it with `load_site.json`
   and builds the search index with `connect reindex`. With --keep the folder (and the
   PostgreSQL database) is reused when it already holds a site of the same scale.
2. Starts `connect serve` on a free 127.0.0.1 port with CONNECT_RATE_LIMITS=off (PostgreSQL:
   `--workers N` with CONNECT_RUN_WORKERS=0 and Redis, plus one `connect worker`).
3. Signs in one member per client (half by session cookie, half by bearer token), warms up,
   then runs --clients closed-loop clients for --seconds or --max-requests, whichever comes
   first. Each request is drawn from MIX: 80 % page and API reads, 10 % searches, 5 % posts
   (replies and new threads, JSON API, signed in), 5 % live subscribers joining (a WebSocket
   to /api/v1/live subscribed to a community channel, held open to the end; its latency is
   the handshake + subscribe time). Reads and searches are anonymous or signed in, 50/50.
4. Reports per route: count, errors, req/s, p50/p95/p99/max (client side, request sent to
   whole body read), the totals, the server's CPU per request (from /proc: uvicorn and its
   workers, the `connect worker`, and the PostgreSQL backends of the database), live events
   received, the machine, its load average before and after, and the commit. Writes
   bench/results/load_sqlite.json or bench/results/load_postgres.json. A PostgreSQL run
   is compared with the SQLite report given by --versus (bench/results/load_sqlite.json).

Everything listens on and talks to 127.0.0.1 only; servers are stopped in `finally`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.boards_pages import (  # noqa: E402  (after the path fix, as a script)
    code_version,
    cpu_seconds,
    free_port,
    load_average,
    machine,
    percentile,
)
from bench.corpus import DOMAIN, FIRST, LAST, ORGS, PLACES, SEED, generate, load  # noqa: E402
from bench.httpclient import Connection, HttpError, runner, wait_for_listeners  # noqa: E402

PASSWORD = "a long and unusual load test password"
SECRET_KEY = "load-test-secret-key-" + "k" * 40
DEFAULT_PG_URL = "postgresql+asyncpg://connect:connect@127.0.0.1:5432/connect_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
SITE_FILE = "load_site.json"
SITE_VERSION = 1
RESULTS = ROOT / "bench" / "results"

# (route, weight in %, who may ask: "any" = anonymous or signed in 50/50, "member" = signed in)
MIX: list[tuple[str, float, str]] = [
    # 80 % reads
    ("thread_html", 18, "any"),  # GET /threads/{id}
    ("board_html", 10, "any"),  # GET /c/{slug}
    ("thread_json", 10, "any"),  # GET /api/v1/threads/{id}
    ("board_json", 8, "any"),  # GET /api/v1/communities/{slug}/threads
    ("profile_html", 8, "any"),  # GET /members/{username}
    ("library_html", 8, "any"),  # GET /c/{slug}/library
    ("home_member", 7, "member"),  # GET / (signed in: my communities, latest, feed)
    ("directory_html", 6, "any"),  # GET /members?q=|location=|page=
    ("directory_json", 5, "any"),  # GET /api/v1/members?q=|location=|page=
    # 10 % searches
    ("search_html", 4, "any"),  # GET /search?q=
    ("search_json", 6, "any"),  # GET /api/v1/search?q=
    # 5 % posts
    ("reply", 4, "member"),  # POST /api/v1/threads/{id}/posts
    ("new_thread", 1, "member"),  # POST /api/v1/communities/{slug}/threads
    # 5 % live subscribers joining
    ("live_join", 5, "any"),  # WebSocket /api/v1/live, subscribe community:{slug}
]
WRITES = {"reply", "new_thread"}

TARGETS = {"throughput_rps": 300.0, "p95_ms": 100.0, "error_rate": 0.001}


# Seeding ---------------------------------------------------------------------------------


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+asyncpg", "")


def site_sizes(scale: float) -> dict:
    return {
        "posts": max(200, int(100_000 * scale)),
        "threads": max(20, int(5_000 * scale)),
        "entries": max(20, int(5_000 * scale)),
        "members": max(500, int(50_000 * scale)),
        "communities": max(6, int(200 * scale)),
    }


async def reset_postgres(url: str) -> None:
    """An empty schema in the load test's own database (never anyone else's)."""
    import asyncpg

    parts = urllib.parse.urlsplit(sync_url(url))
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to touch a database that is not on 127.0.0.1: {url}")
    address = sync_url(url).replace("postgresql://", "postgres://", 1)
    try:
        conn = await asyncpg.connect(address)
    except asyncpg.InvalidCatalogNameError:  # a new machine: make the database first
        name = parts.path.lstrip("/")
        admin = await asyncpg.connect(address.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(address)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        await conn.execute("CREATE SCHEMA public")
    finally:
        await conn.close()


async def finish_postgres(url: str) -> None:
    """After inserting explicit ids: move every id sequence past them; then ANALYZE."""
    import asyncpg

    conn = await asyncpg.connect(sync_url(url).replace("postgresql://", "postgres://", 1))
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, pg_get_serial_sequence(table_name, column_name) AS s "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND (column_default LIKE 'nextval%' OR is_identity = 'YES')"
        )
        for row in rows:
            if row["s"]:
                await conn.execute(
                    f'SELECT setval($1, COALESCE((SELECT MAX("{row["column_name"]}") '
                    f'FROM "{row["table_name"]}"), 0) + 1, false)',
                    row["s"],
                )
        await conn.execute(FIX_LAST_POSTER)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# corpus.load leaves threads.last_poster_id empty: the board pages show who posted last.
FIX_LAST_POSTER = (
    "UPDATE threads SET last_poster_id = (SELECT p.author_id FROM posts p "
    "WHERE p.thread_id = threads.id ORDER BY p.id DESC LIMIT 1)"
)


def write_blobs(corpus, files_dir: Path) -> int:
    """The library files' bytes in the blob store (files/ab/cd/<sha256>), as uploads leave them."""
    count = 0
    for entry in corpus.entries:
        for f in entry["files"]:
            data = f["text"].encode()
            digest = hashlib.sha256(data).hexdigest()
            path = files_dir / digest[:2] / digest[2:4] / digest
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                count += 1
    return count


def site_manifest(corpus, args, sizes: dict) -> dict:
    """What the clients need to know about the site (ids, slugs, names, words)."""
    rng = random.Random(SEED + 1)
    communities = [
        {"id": c["id"], "slug": c["slug"], "visibility": c["visibility"]}
        for c in corpus.communities
    ]
    threads = [[t["id"], t["community_id"]] for t in corpus.threads if t["status"] == "published"]
    with_threads = {cid for _, cid in threads}
    by_user: dict[int, list[int]] = defaultdict(list)
    for m in corpus.memberships:
        if m["user_id"] != 1:  # the administrator is not a typical member
            by_user[m["user_id"]].append(m["community_id"])
    candidates = sorted(u for u, cids in by_user.items() if with_threads & set(cids))
    chosen = rng.sample(candidates, min(512, len(candidates)))
    identities = [
        {"username": corpus.members[u - 1]["username"], "communities": sorted(by_user[u])}
        for u in chosen
    ]
    listed = [m["username"] for m in corpus.members if m["listed"]]
    return {
        "version": SITE_VERSION,
        "database": args.database,
        "database_url": args.database_url if args.database == "postgres" else "",
        "scale": args.scale,
        "seed": SEED,
        "sizes": sizes,
        "communities": communities,
        "threads": threads,
        "listed_usernames": listed,
        "identities": identities,
        "queries": [q["q"] for q in corpus.queries],
        "counts": {
            "members": len(corpus.members),
            "communities": len(corpus.communities),
            "memberships": len(corpus.memberships),
            "threads": len(corpus.threads),
            "posts": len(corpus.posts),
            "entries": len(corpus.entries),
            "library_files": sum(len(e["files"]) for e in corpus.entries),
            "search_documents": corpus.document_count,
        },
    }


def seeded_site(data_dir: Path, args) -> dict | None:
    """The manifest of a site already seeded here for these options, if any."""
    path = data_dir / SITE_FILE
    if not path.exists():
        return None
    try:
        site = json.loads(path.read_text())
    except ValueError:
        return None
    same = (
        site.get("version") == SITE_VERSION
        and site.get("database") == args.database
        and site.get("scale") == args.scale
        and site.get("database_url", "")
        == (args.database_url if args.database == "postgres" else "")
        and site.get("index_built")
    )
    return site if same else None


def seed_site(data_dir: Path, args, env: dict[str, str]) -> dict:
    """Generate the corpus, load it, write blobs, build the search index; return the manifest."""
    from argon2 import PasswordHasher

    import connect.models  # noqa: F401  (every table on Base.metadata)
    from connect import migrate

    timings: dict[str, float] = {}
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / SITE_FILE).exists():
        raise SystemExit(f"{data_dir} holds something else than a load test site: not wiping it")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    (data_dir / "files").mkdir(parents=True)
    # Marks the folder as this script's (so a half-seeded one may be wiped next time).
    (data_dir / SITE_FILE).write_text(json.dumps({"version": SITE_VERSION, "index_built": False}))
    url = args.database_url if args.database == "postgres" else sqlite_url(data_dir)

    started = time.perf_counter()
    sizes = site_sizes(args.scale)
    corpus = generate(SEED, **sizes)
    timings["generate_s"] = time.perf_counter() - started
    print(
        f"corpus: {len(corpus.members):,} members, {len(corpus.communities)} communities, "
        f"{len(corpus.threads):,} threads, {len(corpus.posts):,} posts, "
        f"{len(corpus.entries):,} library entries ({timings['generate_s']:.0f} s)",
        flush=True,
    )

    started = time.perf_counter()
    if args.database == "postgres":
        asyncio.run(reset_postgres(url))
    migrate.upgrade(url)
    timings["migrate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    load(corpus, url, password_hash=PasswordHasher().hash(PASSWORD))
    if args.database == "postgres":
        asyncio.run(finish_postgres(url))
    else:
        with sqlite3.connect(data_dir / "connect.db") as db:
            db.execute(FIX_LAST_POSTER)
            db.commit()
            db.execute("ANALYZE")
    timings["load_s"] = time.perf_counter() - started
    print(f"database loaded in {timings['load_s']:.0f} s", flush=True)

    started = time.perf_counter()
    blobs = write_blobs(corpus, data_dir / "files")
    timings["blobs_s"] = time.perf_counter() - started

    started = time.perf_counter()
    print(f"building the search index (connect reindex --procs {args.index_procs})", flush=True)
    subprocess.run(
        [sys.executable, "-m", "connect.cli", "reindex", "--procs", str(args.index_procs)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    timings["reindex_s"] = time.perf_counter() - started
    print(f"search index built in {timings['reindex_s']:.0f} s", flush=True)

    site = site_manifest(corpus, args, sizes)
    site["counts"]["blobs"] = blobs
    site["seed_timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    site["seeded_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    site["index_built"] = True
    (data_dir / SITE_FILE).write_text(json.dumps(site))
    return site


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"


def current_rows(args, data_dir: Path) -> dict:
    """Row counts at the start of the run (a reused site grows by the posts of earlier runs)."""
    tables = ("users", "communities", "memberships", "threads", "posts", "library_entries")
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in tables)
    if args.database == "postgres":
        import asyncpg

        async def fetch():
            conn = await asyncpg.connect(
                sync_url(args.database_url).replace("postgresql://", "postgres://", 1)
            )
            try:
                return tuple(await conn.fetchrow(sql))
            finally:
                await conn.close()

        row = asyncio.run(fetch())
    else:
        with contextlib.closing(sqlite3.connect(data_dir / "connect.db")) as db:
            row = db.execute(sql).fetchone()
    return dict(zip(tables, row, strict=True))


# Servers ---------------------------------------------------------------------------------


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def server_env(args, data_dir: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "CONNECT_DATA_DIR": str(data_dir),
        "CONNECT_BASE_URL": f"http://127.0.0.1:{port}",
        "CONNECT_SECRET_KEY": SECRET_KEY,
        "CONNECT_RATE_LIMITS": "off",
        "CONNECT_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CONNECT_DATABASE_URL", "CONNECT_REDIS_URL", "CONNECT_RUN_WORKERS"):
        env.pop(name, None)
    if args.database == "postgres":
        env["CONNECT_DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["CONNECT_REDIS_URL"] = args.redis_url
    if args.worker_process:
        env["CONNECT_RUN_WORKERS"] = "0"
    return env


class Site:
    """`connect serve` (and with a worker process, `connect worker`) on 127.0.0.1."""

    def __init__(self, args, data_dir: Path, port: int, log_dir: Path) -> None:
        self.args, self.data_dir, self.port, self.log_dir = args, data_dir, port, log_dir
        self.env = server_env(args, data_dir, port)
        self.serve: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        with (self.log_dir / log_name).open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "connect.cli", *argv],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_nofile,
            )

    def start(self, timeout: float = 120.0) -> None:
        self.serve = self._spawn(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", str(self.args.workers)],
            "serve.log",
        )
        self._wait("/healthz", timeout)
        wait_for_listeners(self.port, self.args.workers, timeout)
        if self.args.worker_process:
            self.worker = self._spawn(["worker"], "worker.log")
            time.sleep(2.0)
            if self.worker.poll() is not None:
                raise RuntimeError("connect worker exited:\n" + self.log_tail("worker.log"))
        self._wait("/readyz", timeout)

    def _wait(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serve is not None and self.serve.poll() is not None:
                raise RuntimeError("connect serve exited:\n" + self.log_tail("serve.log"))
            try:
                with urllib.request.urlopen(self.base + path, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{path} did not answer 200 within {timeout:.0f} s")

    def pids(self) -> dict[str, int]:
        found = {}
        if self.serve is not None:
            found["serve"] = self.serve.pid
        if self.worker is not None:
            found["worker"] = self.worker.pid
        return found

    def stop(self) -> None:
        for process in (self.serve, self.worker):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.serve, self.worker):
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def log_tail(self, name: str, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = (self.log_dir / name).read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"


def proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def postgres_backends(url: str) -> list[int]:
    import asyncpg

    parts = urllib.parse.urlsplit(sync_url(url))
    conn = await asyncpg.connect(sync_url(url).replace("postgresql://", "postgres://", 1))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            parts.path.lstrip("/"),
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


class CpuMeter:
    """CPU seconds of the site's processes between start() and stop()."""

    def __init__(self, pids: dict[str, int], args) -> None:
        self.pids, self.args = pids, args
        self.before: dict[str, float | None] = {}
        self.backends: dict[int, float] = {}

    async def _snapshot(self) -> tuple[dict[str, float | None], dict[int, float]]:
        values = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        backends = {}
        if self.args.database == "postgres":
            for pid in await postgres_backends(self.args.database_url):
                cpu = proc_cpu(pid)
                if cpu is not None:
                    backends[pid] = cpu
        return values, backends

    async def start(self) -> None:
        self.before, self.backends = await self._snapshot()
        self.client_before = time.process_time()
        self.machine_before = machine_busy()

    async def stop(self, requests: int) -> dict:
        after, backends = await self._snapshot()
        busy0, total0 = self.machine_before
        busy1, total1 = machine_busy()
        result: dict = {
            "client_cpu_s": round(time.process_time() - self.client_before, 2),
            "machine_busy_fraction": round((busy1 - busy0) / max(1, total1 - total0), 3),
        }
        server = 0.0
        for name, value in after.items():
            start = self.before.get(name)
            if value is not None and start is not None:
                result[f"{name}_cpu_s"] = round(value - start, 2)
                server += value - start
        if self.args.database == "postgres":
            db = sum(cpu - self.backends.get(pid, 0.0) for pid, cpu in backends.items())
            result["postgres_backends_cpu_s"] = round(db, 2)
            result["postgres_backends"] = len(backends)
            server += db
        result["server_cpu_s"] = round(server, 2)
        if requests:
            result["server_cpu_ms_per_request"] = round(server * 1000 / requests, 2)
            result["client_cpu_ms_per_request"] = round(result["client_cpu_s"] * 1000 / requests, 2)
        return result


# A small HTTP/1.1 client -----------------------------------------------------------------
# The load generator shares the 2 CPUs with the server: a keep-alive connection that costs
# ~0.1 ms of CPU per request, instead of ~1.3 ms for httpx, leaves the server its share.


# The load --------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])


@dataclass
class Identity:
    username: str
    communities: list[int]
    auth: str  # "session" or "bearer"
    conn: Connection
    csrf: str = ""
    token: str = ""
    threads: list[int] = field(default_factory=list)  # published, in my communities


class Live:
    """The WebSockets held open until the end, and what they received."""

    def __init__(self) -> None:
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []
        self.events: Counter = Counter()
        self.other_ops: Counter = Counter()
        self.closed_early = 0
        self.close_codes: Counter = Counter()
        self.stopping = False

    async def listen(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("op") == "event":
                    self.events[message.get("type", "?")] += 1
                else:
                    self.other_ops[message.get("op", "?")] += 1
        except ConnectionClosed:
            pass
        if not self.stopping:
            self.closed_early += 1
            self.close_codes[str(ws.close_code)] += 1

    async def close_all(self) -> None:
        self.stopping = True
        await asyncio.gather(
            *(asyncio.wait_for(ws.close(), 10) for ws in self.sockets), return_exceptions=True
        )
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Load:
    def __init__(self, args, site: dict, port: int) -> None:
        self.args, self.site, self.port = args, site, port
        self.communities = {c["id"]: c for c in site["communities"]}
        self.open_ids = [c["id"] for c in site["communities"] if c["visibility"] == "open"]
        open_set = set(self.open_ids)
        self.by_community: dict[int, list[int]] = defaultdict(list)
        for thread_id, community_id in site["threads"]:
            self.by_community[community_id].append(thread_id)
        self.open_threads = [t for t, c in site["threads"] if c in open_set]
        self.routes = [r for r, _, _ in MIX]
        self.weights = [w for _, w, _ in MIX]
        self.audience = {r: a for r, _, a in MIX}
        self.stats: dict[tuple[str, str], Stats] = defaultdict(Stats)
        self.live = Live()
        self.recording = False
        self.issued = 0
        self.words = DOMAIN + [w for q in site["queries"] for w in q.split() if w.isalpha()]

    # Targets ------------------------------------------------------------------------

    def community_for(self, rng: random.Random, who: Identity | None) -> dict:
        if who is not None and who.communities and rng.random() < 0.25:
            return self.communities[rng.choice(who.communities)]
        return self.communities[rng.choice(self.open_ids)]

    def thread_for(self, rng: random.Random, who: Identity | None) -> int:
        if who is not None and who.threads and rng.random() < 0.25:
            return rng.choice(who.threads)
        return rng.choice(self.open_threads)

    def directory_query(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.4:
            return "?" + urllib.parse.urlencode({"q": rng.choice(FIRST + LAST).lower()})
        if roll < 0.6:
            return "?" + urllib.parse.urlencode({"location": rng.choice(PLACES)})
        if roll < 0.7:
            return "?" + urllib.parse.urlencode({"organization": rng.choice(ORGS)})
        page = rng.choice((1, 1, 1, 2, 3, 5, 10))
        return f"?page={page}" if page > 1 else ""

    def text(self, rng: random.Random, low: int, high: int) -> str:
        words = rng.choices(self.words, k=rng.randint(low, high))
        return " ".join(words).capitalize() + "."

    # Requests -------------------------------------------------------------------------

    async def one(self, route: str, who: Identity | None, anon: Connection, rng) -> None:
        conn = who.conn if who is not None else anon
        headers = {}
        if who is not None and who.auth == "bearer":
            headers["Authorization"] = f"Bearer {who.token}"
        method, body, expect, marker = "GET", None, 200, None
        if route == "thread_html":
            target = f"/threads/{self.thread_for(rng, who)}"
        elif route == "thread_json":
            target = f"/api/v1/threads/{self.thread_for(rng, who)}"
        elif route == "board_html":
            slug = self.community_for(rng, who)["slug"]
            target = f"/c/{slug}" + rng.choice(("", "", "?sort=new", "?page=2"))
        elif route == "board_json":
            slug = self.community_for(rng, who)["slug"]
            target = f"/api/v1/communities/{slug}/threads" + rng.choice(("", "?sort=new"))
        elif route == "profile_html":
            target = f"/members/{rng.choice(self.site['listed_usernames'])}"
        elif route == "library_html":
            target = f"/c/{self.community_for(rng, who)['slug']}/library"
        elif route == "home_member":
            target = "/"
        elif route == "directory_html":
            target = "/members" + self.directory_query(rng)
        elif route == "directory_json":
            target = "/api/v1/members" + self.directory_query(rng)
        elif route == "search_html":
            target = "/search?" + urllib.parse.urlencode({"q": rng.choice(self.site["queries"])})
        elif route == "search_json":
            query = {"q": rng.choice(self.site["queries"])}
            target = "/api/v1/search?" + urllib.parse.urlencode(query)
        elif route == "reply":
            assert who is not None
            method, expect = "POST", 201
            target = f"/api/v1/threads/{rng.choice(who.threads)}/posts"
            body = {"body": self.text(rng, 15, 120)}
        elif route == "new_thread":
            assert who is not None
            method, expect = "POST", 201
            slug = self.communities[rng.choice(who.communities)]["slug"]
            target = f"/api/v1/communities/{slug}/threads"
            body = {"title": self.text(rng, 4, 9).rstrip("."), "body": self.text(rng, 20, 150)}
        else:
            raise ValueError(route)
        if method == "POST" and who is not None and who.auth == "session":
            headers["X-CSRF-Token"] = who.csrf
        if who is not None and not route.endswith("_json") and method == "GET":
            marker = b"Sign out"
        record = self.stats[(route, "member" if who else "anonymous")]
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(
                conn.request(method, target, json_body=body, headers=headers),
                self.args.request_timeout,
            )
        except (HttpError, OSError, TimeoutError) as exc:
            conn.close()
            if self.recording:
                record.error(f"{method} {target}: {type(exc).__name__}: {exc}")
            return
        elapsed = (time.perf_counter() - started) * 1000
        if not self.recording:
            return
        record.statuses[answer.status] += 1
        if answer.status != expect:
            record.error(f"{method} {target}: HTTP {answer.status} {answer.body[:200]!r}")
        elif marker is not None and marker not in answer.body:
            record.error(f"{method} {target}: page not signed in")
        else:
            record.latencies_ms.append(elapsed)

    async def join_live(self, who: Identity | None, rng: random.Random) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{self.port}/api/v1/live"
        headers = {}
        if who is not None and who.auth == "bearer":
            url += "?token=" + urllib.parse.quote(who.token)
        elif who is not None:
            headers = {
                "Origin": f"http://127.0.0.1:{self.port}",
                "Cookie": "; ".join(f"{k}={v}" for k, v in who.conn.cookies.items()),
            }
        channel = "community:" + self.community_for(rng, who)["slug"]
        record = self.stats[("live_join", "member" if who else "anonymous")]
        started = time.perf_counter()
        ws = None
        try:

            async def handshake():
                nonlocal ws
                ws = await connect(
                    url, additional_headers=headers, open_timeout=None, ping_interval=None
                )
                await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("op") in ("subscribed", "error"):
                        return message

            answer = await asyncio.wait_for(handshake(), self.args.request_timeout)
        except Exception as exc:  # noqa: BLE001  (any failure to join is an error to count)
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()
            record.error(f"live {channel}: {type(exc).__name__}: {exc}")
            return
        elapsed = (time.perf_counter() - started) * 1000
        if answer.get("op") != "subscribed":
            record.error(f"live {channel}: {answer}")
            await ws.close()
            return
        record.statuses[101] += 1
        record.latencies_ms.append(elapsed)
        self.live.sockets.append(ws)
        self.live.tasks.append(asyncio.create_task(self.live.listen(ws)))

    # Clients ----------------------------------------------------------------------------

    async def client(self, n: int, who: Identity, deadline: float, limit: int | None) -> None:
        rng = random.Random(self.args.seed * 1000 + n)
        anon = Connection(self.port)
        anon.headers = {"User-Agent": "connect-load-test", "Accept": "*/*"}
        try:
            while time.monotonic() < deadline:
                if limit is not None:
                    if self.issued >= limit:
                        return
                    self.issued += 1
                route = rng.choices(self.routes, self.weights)[0]
                signed = self.audience[route] == "member" or rng.random() < 0.5
                if route in WRITES and not who.threads:
                    route = "new_thread"
                if route == "live_join":
                    if self.recording:
                        await self.join_live(who if signed else None, rng)
                    continue
                await self.one(route, who if signed else None, anon, rng)
        finally:
            anon.close()

    async def sign_in(self, identities: list[Identity]) -> None:
        async def one(who: Identity) -> None:
            who.conn.headers = {"User-Agent": "connect-load-test", "Accept": "*/*"}
            credentials = {"login": who.username, "password": PASSWORD}
            path = "/api/v1/auth/session" if who.auth == "session" else "/api/v1/auth/token"
            answer = await who.conn.request("POST", path, json_body=credentials)
            if answer.status != 200:
                raise RuntimeError(f"sign-in of {who.username}: {answer.status} {answer.body!r}")
            data = json.loads(answer.body)
            who.csrf = data.get("csrf_token", "")
            who.token = data.get("token", "")

        await asyncio.gather(*(one(w) for w in identities))

    async def run(self, meter: CpuMeter | None, on_start=None) -> dict:
        args = self.args
        identities = []
        for n, spec in enumerate(self.site["identities"][: args.clients]):
            who = Identity(
                username=spec["username"],
                communities=spec["communities"],
                auth="session" if n % 2 == 0 else "bearer",
                conn=Connection(self.port),
            )
            who.threads = [t for c in who.communities for t in self.by_community.get(c, [])]
            identities.append(who)
        if len(identities) < args.clients:
            raise SystemExit(f"the site has {len(identities)} member identities; lower --clients")
        await self.sign_in(identities)
        try:
            if args.warmup > 0:
                print(f"warming up for {args.warmup:.0f} s", flush=True)
                until = time.monotonic() + args.warmup
                await asyncio.gather(
                    *(self.client(-1 - n, w, until, None) for n, w in enumerate(identities))
                )
            self.recording = True
            load_before = load_average()
            if meter is not None:
                await meter.start()
            if on_start is not None:
                on_start()
            print(
                f"measuring: {args.clients} clients, up to {args.seconds:.0f} s or "
                f"{args.max_requests:,} requests (load average {load_before})",
                flush=True,
            )
            started = time.perf_counter()
            deadline = time.monotonic() + args.seconds
            await asyncio.gather(
                *(self.client(n, w, deadline, args.max_requests) for n, w in enumerate(identities))
            )
            wall = time.perf_counter() - started
            self.recording = False
            done = sum(len(s.latencies_ms) + s.errors for s in self.stats.values())
            cpu = await meter.stop(done) if meter is not None else {}
            load_after = load_average()
        finally:
            open_at_end = sum(1 for ws in self.live.sockets if ws.close_code is None)
            await self.live.close_all()
            for who in identities:
                who.conn.close()
        return {
            "wall_s": round(wall, 2),
            "stopped_by": "max_requests" if self.issued >= args.max_requests else "time",
            "cpu": cpu,
            "load_average": {"before": load_before, "after": load_after},
            "live": {
                "sockets_opened": len(self.live.sockets),
                "open_at_end": open_at_end,
                "closed_early": self.live.closed_early,
                "close_codes": dict(self.live.close_codes),
                "events_received": sum(self.live.events.values()),
                "events_by_type": dict(self.live.events),
                "other_messages": dict(self.live.other_ops),
            },
        }


# Report ----------------------------------------------------------------------------------


def summarize(latencies: list[float], errors: int, wall: float) -> dict:
    done = len(latencies) + errors
    row: dict = {"requests": done, "errors": errors, "rps": round(done / wall, 1) if wall else 0}
    if latencies:
        row |= {
            "mean_ms": round(statistics.fmean(latencies), 1),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1),
        }
    return row


def routes_report(stats: dict[tuple[str, str], Stats], wall: float) -> dict:
    result = {}
    for route, _, _ in MIX:
        parts = {who: s for (r, who), s in stats.items() if r == route}
        if not parts:
            continue
        latencies = [x for s in parts.values() for x in s.latencies_ms]
        row = summarize(latencies, sum(s.errors for s in parts.values()), wall)
        for who, s in sorted(parts.items()):
            row[who] = summarize(s.latencies_ms, s.errors, wall)
            if s.samples:
                row[who]["error_samples"] = s.samples
            row[who]["statuses"] = {str(k): v for k, v in sorted(s.statuses.items())}
        result[route] = row
    return result


def print_table(report: dict) -> None:
    print(f"{'route':<16}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}")
    for name, row in [*report["routes"].items(), ("TOTAL", report["totals"])]:
        print(
            f"{name:<16}{row['requests']:>9}{row['errors']:>7}{row['rps']:>8}"
            f"{row.get('p50_ms', '-'):>8}{row.get('p95_ms', '-'):>8}{row.get('p99_ms', '-'):>8}"
        )


def verdict(report: dict, sqlite_report: dict | None) -> dict:
    totals = report["totals"]
    rate = totals["errors"] / totals["requests"] if totals["requests"] else 1.0
    checks = {
        "throughput_rps": {"target": f">= {TARGETS['throughput_rps']:.0f}", "got": totals["rps"]},
        "p95_ms": {"target": f"<= {TARGETS['p95_ms']:.0f}", "got": totals.get("p95_ms")},
        "error_rate": {"target": f"< {TARGETS['error_rate']:.1%}", "got": round(rate, 5)},
    }
    checks["throughput_rps"]["met"] = totals["rps"] >= TARGETS["throughput_rps"]
    checks["p95_ms"]["met"] = (totals.get("p95_ms") or 1e9) <= TARGETS["p95_ms"]
    checks["error_rate"]["met"] = rate < TARGETS["error_rate"]
    result: dict = {"absolute": checks, "all_met": all(c["met"] for c in checks.values())}
    if sqlite_report is not None and report["parameters"]["database"] == "postgres":
        base = sqlite_report["totals"]
        result["versus_sqlite"] = {
            "sqlite_rps": base["rps"],
            "sqlite_p95_ms": base.get("p95_ms"),
            "throughput_ratio": round(totals["rps"] / base["rps"], 2) if base["rps"] else None,
            "p95_ratio": round(totals["p95_ms"] / base["p95_ms"], 2)
            if base.get("p95_ms") and totals.get("p95_ms")
            else None,
            "cpu_per_request_ratio": round(
                report["cpu"]["server_cpu_ms_per_request"]
                / sqlite_report["cpu"]["server_cpu_ms_per_request"],
                2,
            )
            if report["cpu"].get("server_cpu_ms_per_request")
            and sqlite_report.get("cpu", {}).get("server_cpu_ms_per_request")
            else None,
        }
        v = result["versus_sqlite"]
        v["not_slower"] = bool(
            v["throughput_ratio"] is not None
            and v["throughput_ratio"] >= 1.0
            and (v["p95_ratio"] or 1e9) <= 1.0
        )
    return result


# Profiling -------------------------------------------------------------------------------


def profile_paths(args, pids: dict[str, int]) -> dict[str, Path]:
    """--profile FILE: the server's samples in FILE, the worker process's in FILE.worker.txt."""
    return {
        name: args.profile if name == "serve" else args.profile.with_suffix(f".{name}.txt")
        for name in pids
    }


def start_profilers(args, pids: dict[str, int]) -> list[subprocess.Popen]:
    """py-spy (PY_SPY or on PATH) samples the site's processes while the load is measured."""
    if not args.profile:
        return []
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not spy:
        print("--profile needs py-spy (on PATH or in PY_SPY); not profiling", file=sys.stderr)
        return []
    args.profile.parent.mkdir(parents=True, exist_ok=True)
    paths = profile_paths(args, pids)
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--subprocesses", "--threads", "--nonblocking"]
            + ["-r", "100"]
            + ["-d", str(int(args.seconds)), "-f", "raw", "-o", str(paths[name])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    """Let py-spy write its samples: it stops at its duration, or on SIGINT if the run ended
    early (the request cap)."""
    for profiler in profilers:
        try:
            profiler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            profiler.send_signal(signal.SIGINT)
            try:
                profiler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait(timeout=10)


# py-spy frames look like "function (path/to/file.py:line)"; the first path part names the
# package. Samples whose innermost frame is one of these are threads waiting, not working.
IDLE_FRAMES = (
    "_connection_worker_thread (aiosqlite/core.py:59)",  # an aiosqlite thread awaiting a query
    "Runner.run (asyncio/runners.py:118)",  # the (uvloop) event loop in C: polling, socket I/O
    "_worker (concurrent/futures/thread.py:81)",  # a pool thread awaiting work
)
IDLE_FUNCTIONS = ("wait", "select", "poll", "_wait_for_tstate_lock")  # blocking calls
PACKAGE_OF = [
    ("aiosqlite/core.py:63)", "SQLite (queries in the aiosqlite thread)"),
    ("sqlite3/", "SQLite (queries in the aiosqlite thread)"),
    ("aiosqlite/", "aiosqlite hand-offs"),
    ("asyncpg/", "asyncpg"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("jinja2/", "Jinja2 templates"),
    ("markupsafe/", "Jinja2 templates"),
    (".html:", "Jinja2 templates"),
    ("whoosh/", "Whoosh"),
    ("connect/search/", "connect.search"),
    ("uvicorn/", "uvicorn (HTTP)"),
    ("httptools/", "uvicorn (HTTP)"),
    ("starlette/", "Starlette"),
    ("websockets/", "websockets"),
    ("connect/live/", "connect.live"),
    ("redis/", "redis"),
    ("markdown_it/", "Markdown + sanitizer"),
    ("nh3", "Markdown + sanitizer"),
    ("argon2/", "argon2"),
    ("json/", "json"),
    ("connect/", "connect (other)"),
    ("asyncio/", "asyncio"),
    ("greenlet", "SQLAlchemy"),
]


def _package(frame: str) -> str | None:
    for marker, name in PACKAGE_OF:
        if marker in frame:
            return name
    return None


def summarize_profile(path: Path, top: int = 25) -> dict:
    """From py-spy's raw (collapsed) samples of the server's threads: the share of samples that
    are idle waits, and of the busy ones, which package the innermost known frame is in
    ("self"), which packages appear anywhere in the stack ("inclusive"), and the top frames."""
    total = idle = 0
    own: Counter = Counter()
    inclusive: Counter = Counter()
    leaves: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        total += count
        leaf = frames[-1] if frames else "(no Python frame)"
        if leaf in IDLE_FRAMES or leaf.split(" (", 1)[0].endswith(IDLE_FUNCTIONS):
            idle += count
            continue
        leaves[leaf] += count
        owner = next((p for f in reversed(frames) if (p := _package(f))), "other")
        own[owner] += count
        for name in {p for f in frames if (p := _package(f))}:
            inclusive[name] += count
    busy = total - idle
    share = lambda n: round(100 * n / busy, 1) if busy else 0.0  # noqa: E731
    return {
        "samples": total,
        "idle_percent": round(100 * idle / total, 1) if total else 0.0,
        "busy_self_percent": {k: share(v) for k, v in own.most_common()},
        "busy_inclusive_percent": {k: share(v) for k, v in inclusive.most_common()},
        "top_frames_percent_of_busy": [[f, share(c)] for f, c in leaves.most_common(top)],
    }


# Main ------------------------------------------------------------------------------------


def database_versions(args) -> dict:
    import sqlalchemy
    import uvicorn
    import websockets

    versions = {
        "sqlalchemy": sqlalchemy.__version__,
        "uvicorn": uvicorn.__version__,
        "websockets": websockets.__version__,
    }
    for module in ("uvloop", "httptools"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    if args.database == "postgres":
        import asyncpg

        async def fetch():
            conn = await asyncpg.connect(
                sync_url(args.database_url).replace("postgresql://", "postgres://", 1)
            )
            try:
                return await conn.fetchval("SHOW server_version")
            finally:
                await conn.close()

        versions["postgresql"] = asyncio.run(fetch())
    else:
        versions["sqlite"] = sqlite3.sqlite_version
    return versions


class Timeout(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=DEFAULT_PG_URL, help="with --database postgres")
    parser.add_argument(
        "--redis-url", default=None, help=f"CONNECT_REDIS_URL (postgres: {DEFAULT_REDIS_URL})"
    )
    parser.add_argument("--workers", type=int, default=None, help="uvicorn workers (1; pg: 2)")
    parser.add_argument(
        "--worker-process",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the consumers in one `connect worker` (default: with postgres)",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time (60)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="request cap (100000)")
    parser.add_argument("--warmup", type=float, default=10.0, help="unrecorded seconds first")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the ALA-size site")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the site is seeded")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse --data-dir (default var/load/<database>-<scale>) if already seeded; keep it",
    )
    parser.add_argument("--index-procs", type=int, default=2, help="connect reindex --procs")
    parser.add_argument("--seed", type=int, default=7, help="the clients' random seed")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--versus",
        type=Path,
        default=RESULTS / "load_sqlite.json",
        help="with --database postgres: the SQLite report to compare with "
        "(bench/results/load_sqlite.json)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw samples here")
    parser.add_argument("--timeout", type=float, default=7200, help="give up after this (s)")
    parser.add_argument(
        "--base-url",
        default="",
        help="drive a site already running on 127.0.0.1 (seeded by this script: give its "
        "--data-dir); no seeding, no server started, no server CPU measured",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="with --keep: seed the site (if needed) and stop"
    )
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 2 if args.database == "postgres" else 1
    if args.worker_process is None:
        args.worker_process = args.database == "postgres"
    if args.redis_url is None:
        args.redis_url = DEFAULT_REDIS_URL if args.database == "postgres" else ""
    if args.base_url and not args.data_dir:
        parser.error("--base-url needs the --data-dir the site was seeded into")
    for url in (args.redis_url, args.database_url, args.base_url):
        host = urllib.parse.urlsplit(url).hostname if url else "127.0.0.1"
        if host not in ("127.0.0.1", "localhost"):
            parser.error(f"only 127.0.0.1 is allowed: {url}")
    if args.output is None:
        args.output = RESULTS / f"load_{args.database}.json"
    if args.seed_only and not args.keep:
        parser.error("--seed-only needs --keep (a seeded folder that stays)")

    def on_alarm(signum, frame):
        raise Timeout(f"gave up after --timeout {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout))
    raise_nofile()

    info = machine()
    print(
        f"machine: {info['nproc']} CPU(s), {info['cpu_model']}, {info['ram_gb']} GB RAM; "
        f"load average {load_average()}",
        flush=True,
    )
    temporary = None
    if args.keep:
        data_dir = args.data_dir or ROOT / "var" / "load" / f"{args.database}-{args.scale:g}"
    else:
        temporary = Path(tempfile.mkdtemp(prefix="connect-load-"))
        data_dir = args.data_dir or temporary / "var"
    data_dir = data_dir.resolve()
    log_dir = Path(tempfile.mkdtemp(prefix="connect-load-logs-"))
    port = free_port()
    env = server_env(args, data_dir, port)
    site_process = None
    profilers: list[subprocess.Popen] = []
    try:
        site = seeded_site(data_dir, args) if args.keep else None
        if args.base_url:
            site = json.loads((data_dir / SITE_FILE).read_text())
        elif site is not None:
            try:
                rows = current_rows(args, data_dir)
            except Exception as exc:  # noqa: BLE001  (a missing table: seed again)
                print(f"the seeded database is not usable ({exc}); seeding again", flush=True)
                site = None
            else:
                if rows["posts"] < site["counts"]["posts"]:
                    print("the database holds fewer posts than seeded; seeding again")
                    site = None
        if site is None:
            began = time.perf_counter()
            site = seed_site(data_dir, args, env)
            print(f"site seeded in {time.perf_counter() - began:.0f} s", flush=True)
        else:
            print(f"reusing the site seeded at {site['seeded_at']} in {data_dir}", flush=True)
            if not args.base_url:  # the code measured may have migrations the site has not
                from connect import migrate

                url = args.database_url if args.database == "postgres" else sqlite_url(data_dir)
                migrate.upgrade(url)
        rows = current_rows(args, data_dir)
        if args.seed_only:
            print(f"seeded: {rows}")
            return 0
        pids: dict[str, int] = {}
        if args.base_url:
            port = urllib.parse.urlsplit(args.base_url).port or 80
            print(f"driving the site already running at {args.base_url}", flush=True)
        else:
            site_process = Site(args, data_dir, port, log_dir)
            site_process.start()
            pids = site_process.pids()
            print(f"serving at {site_process.base} ({pids})", flush=True)
        meter = CpuMeter(pids, args)
        load_runner = Load(args, site, port)

        def profile_from_now() -> None:
            profilers.extend(start_profilers(args, pids))

        with runner() as loop:
            outcome = loop.run(load_runner.run(meter, on_start=profile_from_now))
        stop_profilers(profilers)
        server_errors = [
            line
            for name in ("serve.log", "worker.log")
            for line in (site_process.log_tail(name, 400) if site_process else "").splitlines()
            if "Traceback" in line or "ERROR" in line or "Exception" in line
        ]
    finally:
        signal.alarm(0)
        for profiler in profilers:
            if profiler.poll() is None:
                profiler.kill()
        if site_process is not None:
            site_process.stop()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)

    wall = outcome["wall_s"]
    routes = routes_report(load_runner.stats, wall)
    all_latencies = [x for s in load_runner.stats.values() for x in s.latencies_ms]
    all_errors = sum(s.errors for s in load_runner.stats.values())
    totals = summarize(all_latencies, all_errors, wall)
    totals["error_rate"] = round(all_errors / totals["requests"], 5) if totals["requests"] else 0
    reads = [r for r, _, _ in MIX if r not in WRITES and r != "live_join"]
    http_latencies = [
        x for (r, _), s in load_runner.stats.items() if r != "live_join" for x in s.latencies_ms
    ]
    report = {
        "benchmark": "load_test",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "code": code_version(),
        "software": database_versions(args),
        "parameters": {
            "database": args.database,
            "server_workers": args.workers,
            "worker_process": args.worker_process,
            "redis": bool(args.redis_url),
            "clients": args.clients,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "warmup_s": args.warmup,
            "scale": args.scale,
            "signed_in_share": "reads, searches and live joins: 50 %; home page and posts: 100 %",
            "mix_percent": {r: w for r, w, _ in MIX},
            "client_seed": args.seed,
        },
        "site": {
            "counts": site["counts"],
            "rows_at_start": rows,
            "seed_timings_s": site.get("seed_timings_s"),
            "seeded_at": site.get("seeded_at"),
        },
        **outcome,
        "totals": totals,
        "totals_http_only": summarize(http_latencies, 0, wall),
        "reads": summarize(  # page and API reads and searches (90 % of the mix)
            [x for (r, _), s in load_runner.stats.items() if r in reads for x in s.latencies_ms],
            sum(s.errors for (r, _), s in load_runner.stats.items() if r in reads),
            wall,
        ),
        "audience_share": {
            who: round(
                sum(
                    len(st.latencies_ms) + st.errors
                    for (_, w), st in load_runner.stats.items()
                    if w == who
                )
                / max(1, totals["requests"]),
                3,
            )
            for who in ("anonymous", "member")
        },
        "routes": routes,
        "server_log_errors": server_errors[:20],
    }
    sqlite_file = args.versus
    sqlite_report = None
    if args.database == "postgres" and sqlite_file.exists():
        with contextlib.suppress(ValueError):
            sqlite_report = json.loads(sqlite_file.read_text())
    report["targets"] = verdict(report, sqlite_report)
    if args.profile:
        report["profile"] = {
            name: summarize_profile(path)
            for name, path in profile_paths(args, {"serve": 0, "worker": 0}).items()
            if path.exists()
        }

    print_table(report)
    cpu = report["cpu"]
    print(
        f"{totals['requests']:,} requests in {wall:.1f} s ({report['stopped_by']}): "
        f"{totals['rps']} req/s, p95 {totals.get('p95_ms')} ms, errors {all_errors}; "
        f"server CPU {cpu.get('server_cpu_ms_per_request')} ms/request, client "
        f"{cpu.get('client_cpu_ms_per_request')} ms/request, machine busy "
        f"{cpu.get('machine_busy_fraction', 0):.0%}; load average {outcome['load_average']}"
    )
    live = outcome["live"]
    print(
        f"live: {live['sockets_opened']} sockets joined, {live['open_at_end']} open at the end, "
        f"{live['events_received']:,} events received"
    )
    for name, check in report["targets"]["absolute"].items():
        print(
            f"target {name} {check['target']}: {check['got']} -> "
            + ("met" if check["met"] else "NOT met")
        )
    if "versus_sqlite" in report["targets"]:
        print(f"versus SQLite: {report['targets']['versus_sqlite']}")
    if server_errors:
        print(f"server logged errors (see {log_dir}):", *server_errors[:5], sep="\n  ")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.output}")
    if not server_errors:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
