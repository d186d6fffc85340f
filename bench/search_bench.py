"""Search benchmark: builds the bench corpus (bench/corpus.py) into a fresh data folder, then
measures, in one run:

- full rebuild from the database (documents per second);
- query latency through the service layer with highlights (p50/p95/p99), and the same query
  set on SQLite FTS5 (bm25, snippet, LIMIT 20) for the Whoosh/FTS5 ratio;
- freshness: under a steady 5 posts/s against a real `connect serve`, how long after each
  2xx the new post is found by search.

    .venv/bin/python -m bench.search_bench                # full corpus, a few minutes
    .venv/bin/python -m bench.search_bench --scale 0.05   # a quick look

Results go to bench/results/search.json and a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.corpus import SEED, Corpus, generate, load

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password that is long enough"
POLL_SECONDS = 0.1  # how often a new post is looked for (faster polling loads the server)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(values: list[float]) -> dict:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else None,
    }


# Building ------------------------------------------------------------------------------------


def build_database(corpus: Corpus, data_dir: Path) -> str:
    from argon2 import PasswordHasher
    from sqlalchemy import create_engine

    from connect import migrate
    from connect.models import Base

    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"
    engine = create_engine(f"sqlite:///{data_dir / 'connect.db'}")
    Base.metadata.create_all(engine)
    engine.dispose()
    # Tables may be ahead of the migrations while domains are being built: mark them current.
    from alembic import command

    command.stamp(migrate.alembic_config(url), "head")
    load(corpus, url, password_hash=PasswordHasher().hash(PASSWORD))
    return url


def settings_for(data_dir: Path, url: str):
    from connect.settings import Settings

    return Settings.from_env(
        {}, data_dir=data_dir, database_url=url, rate_limits=False, run_workers=False
    )


async def with_context(settings, work):
    from connect.app import create_app
    from connect.db import Database

    context = create_app(settings).state.ctx
    context.db = Database(settings.database_url)
    try:
        return await work(context)
    finally:
        await context.search.close()
        await context.db.dispose()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the rebuild's writer processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def rebuild(context, procs: int, limit_mb: int) -> dict:
    before = cpu_seconds()
    report = await context.search.indexer.rebuild(procs=procs, limit_mb=limit_mb)
    cpu = cpu_seconds() - before
    cores = min(procs, os.cpu_count() or 1)
    return {
        "documents": report.documents,
        "rows": report.rows,
        "seconds": round(report.seconds, 2),
        "documents_per_second": round(report.per_second),
        "procs": procs,
        # On a shared, busy machine wall time says little; CPU time says what it costs.
        "cpu_seconds": round(cpu, 1),
        "documents_per_second_if_cores_were_free": round(report.documents / (cpu / cores)),
    }


# Querying through the service ----------------------------------------------------------------


async def viewers(context, corpus: Corpus) -> dict:
    """An anonymous visitor and a member of several communities (the usual callers)."""
    from sqlalchemy import select

    from connect.accounts.models import User
    from connect.communities.models import Membership
    from connect.permissions import Role, Viewer

    member_id = corpus.memberships[1]["user_id"]
    async with context.db.read() as session:
        user = await session.get(User, member_id)
        rows = await session.execute(
            select(Membership.community_id, Membership.role, Membership.status).where(
                Membership.user_id == member_id
            )
        )
        memberships = {cid: Role(role, status) for cid, role, status in rows}
    return {"anonymous": Viewer(), "member": Viewer(user=user, memberships=memberships)}


async def query_latencies(context, corpus: Corpus, rounds: int) -> dict:
    from connect.search.service import SearchParams

    callers = await viewers(context, corpus)
    cold: list[float] = []
    warm: list[float] = []
    by_kind: dict[str, list[float]] = {}
    totals = {}
    for round_number in range(rounds + 1):
        for who, viewer in callers.items():
            for query in corpus.queries:
                started = time.perf_counter()
                answer = await context.search.search(viewer, SearchParams(q=query["q"]))
                took = time.perf_counter() - started
                if round_number == 0:
                    cold.append(took)
                    totals[f"{who}: {query['q']}"] = answer["total"]
                else:
                    warm.append(took)
                    by_kind.setdefault(query["kind"], []).append(took)
    return {
        "cold": summary(cold),
        "warm": summary(warm),
        "by_kind": {k: summary(v) for k, v in by_kind.items()},
        "totals": totals,
    }


# FTS5 baseline -------------------------------------------------------------------------------


def fts5_baseline(corpus: Corpus, path: Path, rounds: int) -> dict:
    if path.exists():
        path.unlink()
    for leftover in path.parent.glob(path.name + "-*"):
        leftover.unlink()
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, body, type UNINDEXED, community UNINDEXED, "
        "author UNINDEXED, created UNINDEXED, tokenize='porter unicode61')"
    )
    rows = []
    first = {p["thread_id"]: p for p in corpus.posts if p["first"]}
    for t in corpus.threads:
        rows.append(
            (t["title"], first[t["id"]]["body"], "thread", t["community_id"], t["created_at"])
        )
    for p in corpus.posts:
        if not p["first"]:
            rows.append(("", p["body"], "post", p["community_id"], p["created_at"]))
    for e in corpus.entries:
        text = "\n\n".join([e["description"], *(f["text"] for f in e["files"])])
        rows.append((e["title"], text, "entry", e["community_id"], e["created_at"]))
    for m in corpus.members:
        bio = "\n".join(m[f] for f in ("title", "organization", "location", "bio", "interests"))
        rows.append((m["display_name"], bio, "member", 0, m["created_at"]))
    started = time.perf_counter()
    db.executemany(
        "INSERT INTO docs(title, body, type, community, author, created) "
        "VALUES (?, ?, ?, ?, '', ?)",
        [(a, b, c, d, e.isoformat()) for a, b, c, d, e in rows],
    )
    db.commit()
    load_seconds = time.perf_counter() - started
    slugs = {c["slug"]: c["id"] for c in corpus.communities}
    latencies: list[float] = []
    for round_number in range(rounds + 1):
        for query in corpus.queries:
            sql, params = fts5_query(query["q"], slugs)
            if sql is None:
                continue
            started = time.perf_counter()
            db.execute(sql, params).fetchall()
            if round_number:
                latencies.append(time.perf_counter() - started)
    db.close()
    return {"rows": len(rows), "load_seconds": round(load_seconds, 1), **summary(latencies)}


def fts5_query(text: str, slugs: dict[str, int]):
    """The same query in FTS5's syntax; filters become conditions on unindexed columns."""
    from connect.search import query as q

    tree = q.parse(text)
    where, params = [], []

    def expr(node) -> str | None:
        if isinstance(node, q.Word):
            return '"' + node.text.replace('"', "") + '"'
        if isinstance(node, q.Phrase):
            return '"' + " ".join(node.words) + '"'
        if isinstance(node, q.Prefix):
            return f'"{node.text}"*'
        if isinstance(node, q.Filter):
            if node.field == "type":
                where.append("type = ?")
                params.append(node.value)
            elif node.field == "community":
                where.append("community = ?")
                params.append(slugs.get(node.value, -1))
            return None
        if isinstance(node, q.DateBound):
            where.append("created >= ?" if node.field == "after" else "created < ?")
            params.append(node.day.isoformat())
            return None
        if isinstance(node, q.Or):
            parts = [p for c in node.children if (p := expr(c))]
            return "(" + " OR ".join(parts) + ")" if parts else None
        if isinstance(node, q.And):
            positive = [p for c in node.children if not isinstance(c, q.Not) and (p := expr(c))]
            negative = [p for c in node.children if isinstance(c, q.Not) and (p := expr(c.child))]
            if not positive:
                return None
            out = " AND ".join(positive)
            return out + "".join(f" NOT {n}" for n in negative)
        return None

    match = expr(tree)
    if match is None:
        return None, None
    sql = (
        "SELECT rowid, title, snippet(docs, 1, '<mark>', '</mark>', '…', 24) FROM docs "
        "WHERE docs MATCH ?"
        + "".join(f" AND {w}" for w in where)
        + " ORDER BY bm25(docs, 3.0, 1.0) LIMIT 20"
    )
    return sql, [match, *params]


# Freshness under write load ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, *, token: str | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.loads(answer.read() or b"null")


def freshness(corpus: Corpus, data_dir: Path, *, seconds: float, rate: float) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CONNECT_DATA_DIR": str(data_dir),
        "CONNECT_BASE_URL": base,
        "CONNECT_RATE_LIMITS": "off",
        "CONNECT_RUN_WORKERS": "1",
        "CONNECT_LOG_LEVEL": "warning",
    }
    env.pop("CONNECT_DATABASE_URL", None)
    # The tables came from create_all: mark them as the migrations' current head.
    from alembic import command

    from connect import migrate

    command.stamp(migrate.alembic_config(f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"), "head")
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "connect.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"connect serve exited; see {data_dir / 'serve.log'}")
            try:
                if http("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        open_ids = {c["id"] for c in corpus.communities if c["visibility"] == "open"}
        membership = next(m for m in corpus.memberships if m["community_id"] in open_ids)
        username = corpus.members[membership["user_id"] - 1]["username"]
        _, login = http(
            "POST", f"{base}/api/v1/auth/token", body={"login": username, "password": PASSWORD}
        )
        token = login["token"]
        threads = [
            t["id"]
            for t in corpus.threads
            if t["community_id"] == membership["community_id"] and t["status"] == "published"
        ]
        rng = random.Random(SEED)
        run = "".join(random.choice(string.ascii_lowercase) for _ in range(4))
        latencies: list[float] = []
        misses = 0
        lock = threading.Lock()
        pollers: list[threading.Thread] = []

        def poll(word: str, answered: float) -> None:
            nonlocal misses
            url = f"{base}/api/v1/search?" + urllib.parse.urlencode({"q": word})
            while time.monotonic() - answered < 10:
                _, found = http("GET", url, token=token)
                if found["total"]:
                    with lock:
                        latencies.append(time.monotonic() - answered)
                    return
                time.sleep(POLL_SECONDS)
            with lock:
                misses += 1

        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < seconds:
            due = started + sent / rate
            time.sleep(max(0.0, due - time.monotonic()))
            # Words new to this run: with --reuse the database keeps earlier runs' posts.
            word = f"zq{run}" + "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
            status, _ = http(
                "POST",
                f"{base}/api/v1/threads/{rng.choice(threads)}/posts",
                token=token,
                body={"body": f"Freshness check {word} while members keep writing."},
            )
            answered = time.monotonic()
            assert status == 201, status
            sent += 1
            poller = threading.Thread(target=poll, args=(word, answered), daemon=True)
            poller.start()
            pollers.append(poller)
        for poller in pollers:
            poller.join(timeout=15)
        return {"posts": sent, "rate_per_s": rate, "missed": misses, **summary(latencies)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# Main ----------------------------------------------------------------------------------------


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "load_average_at_end": load_average(),
        "sqlite": sqlite3.sqlite_version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Connect search benchmark")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-search"))
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full corpus")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the query set")
    parser.add_argument("--procs", type=int, default=1, help="rebuild writer processes")
    parser.add_argument(
        "--limit-mb", type=int, default=256, help="rebuild memory per writer (connect reindex)"
    )
    parser.add_argument("--fresh-seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=5.0, help="posts per second")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "search.json"))
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of an earlier run (same seed)"
    )
    parser.add_argument(
        "--freshness-only",
        action="store_true",
        help="with --reuse: measure freshness again on the earlier run's database and index",
    )
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    s = args.scale

    started = time.perf_counter()
    corpus = generate(
        posts=int(100_000 * s),
        threads=max(10, int(5_000 * s)),
        entries=max(10, int(5_000 * s)),
        members=max(100, int(50_000 * s)),
    )
    generated = time.perf_counter() - started
    print(f"corpus generated in {generated:.0f} s: {len(corpus.queries)} queries", flush=True)
    started = time.perf_counter()
    if args.reuse and (data_dir / "connect.db").exists():
        url = f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"
    else:
        url = build_database(corpus, data_dir)
    loaded = time.perf_counter() - started
    print(f"database loaded in {loaded:.0f} s", flush=True)
    settings = settings_for(data_dir, url)

    async def measure(context):
        built = await rebuild(context, args.procs, args.limit_mb)
        print(f"rebuild: {built}", flush=True)
        queries = await query_latencies(context, corpus, args.rounds)
        print(f"queries (warm): {queries['warm']}", flush=True)
        return built, queries

    if args.freshness_only:
        # Reuse the database and index of the run that wrote --output; measure freshness again.
        result = json.loads(Path(args.output).read_text())
        result["freshness"] = freshness(
            corpus, data_dir, seconds=args.fresh_seconds, rate=args.rate
        )
        result["machine"] = machine()
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
        print(markdown(result))
        return
    built, queries = asyncio.run(with_context(settings, measure))
    fts = fts5_baseline(corpus, data_dir / "fts5.db", args.rounds)
    print(f"fts5: {fts}", flush=True)
    fresh = freshness(corpus, data_dir, seconds=args.fresh_seconds, rate=args.rate)
    print(f"freshness: {fresh}", flush=True)

    warm = queries["warm"]
    result = {
        "machine": machine(),
        "corpus": {
            "seed": corpus.seed,
            "scale": s,
            "posts": len(corpus.posts),
            "threads": len(corpus.threads),
            "entries": len(corpus.entries),
            "members": len(corpus.members),
            "communities": len(corpus.communities),
            "queries": len(corpus.queries),
            "generate_seconds": round(generated, 1),
            "load_seconds": round(loaded, 1),
        },
        "rebuild": built,
        "search": {k: v for k, v in queries.items() if k != "totals"},
        "fts5": fts,
        "ratio_whoosh_to_fts5": {
            "p50": round(warm["p50_ms"] / fts["p50_ms"], 2),
            "p95": round(warm["p95_ms"] / fts["p95_ms"], 2),
        },
        "freshness": fresh,
        "targets": {
            "search_p50_ms": 15,
            "search_p95_ms": 50,
            "ratio_max": 5,
            "freshness_p95_s": 1.0,
            "rebuild_docs_per_s": 2000,
        },
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


def markdown(r: dict) -> str:
    m, c, w, f = r["machine"], r["corpus"], r["search"]["warm"], r["freshness"]
    return "\n".join(
        [
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, "
            f"SQLite {m['sqlite']}; load average at the end {m['load_average_at_end']}.",
            f"Corpus: {c['posts']:,} posts in {c['threads']:,} threads, {c['entries']:,} library "
            f"entries, {c['members']:,} members, {c['queries']} queries (seed {c['seed']}).",
            "",
            "| measure | result | target |",
            "| --- | --- | --- |",
            f"| search p50 (service, highlights, warm) | {w['p50_ms']} ms | ≤ 15 ms |",
            f"| search p95 | {w['p95_ms']} ms | ≤ 50 ms |",
            f"| search p99 | {w['p99_ms']} ms | |",
            f"| search p50 / p95, first pass (cold caches) | {r['search']['cold']['p50_ms']} / "
            f"{r['search']['cold']['p95_ms']} ms | |",
            f"| FTS5 p50 / p95 | {r['fts5']['p50_ms']} / {r['fts5']['p95_ms']} ms | |",
            f"| Whoosh / FTS5, p50 and p95 | {r['ratio_whoosh_to_fts5']['p50']}× / "
            f"{r['ratio_whoosh_to_fts5']['p95']}× | ≤ 5× |",
            f"| new post searchable, p50 / p95 (5 posts/s) | {f['p50_ms']} / {f['p95_ms']} ms "
            f"({f['posts']} posts, {f['missed']} missed) | p95 ≤ 1000 ms |",
            f"| full rebuild | {r['rebuild']['documents_per_second']:,} documents/s "
            f"({r['rebuild']['documents']:,} in {r['rebuild']['seconds']} s, "
            f"{r['rebuild']['procs']} processes) | ≥ 2,000/s |",
            f"| full rebuild, CPU time ÷ cores | "
            f"{r['rebuild']['documents_per_second_if_cores_were_free']:,} documents/s "
            f"({r['rebuild']['cpu_seconds']} CPU-s) | |",
        ]
    )


if __name__ == "__main__":
    main()
