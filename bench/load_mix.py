"""Load generator: a realistic mix of reads, writes and searches against a running site.

Standalone (not collected by pytest); point it at any deployment, e.g. the scale-out one
from docs/deploy.md (several `connect serve` workers, one `connect worker`, PostgreSQL):

    .venv/bin/python bench/load_mix.py --base-url http://127.0.0.1:8000 \
        --login admin --password-stdin [--clients 32 --seconds 60 --communities 3]

It signs in (bearer token of an administrator), makes --communities open communities with
a few threads each (reused when they exist), then --clients concurrent clients pick, for
each request, one of: thread page JSON (40%), board listing (20%), search (15%), member
directory (10%), reply (10%), new thread (5%). Latency is measured in the client until the
whole body is read. Any 5xx counts as an error. Set CONNECT_RATE_LIMITS=off on the server,
or use an administrator (admins are not rate limited). Figures per kind are printed and
written to bench/results/load_mix.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

try:
    import httpx2 as httpx  # what the project's dev extras install
except ImportError:  # pragma: no cover - plain httpx has the same API
    import httpx

ROOT = Path(__file__).resolve().parents[1]
MIX = (
    ("thread", 40),
    ("board", 20),
    ("search", 15),
    ("directory", 10),
    ("reply", 10),
    ("new_thread", 5),
)
WORDS = [
    "catalog",
    "metadata",
    "archive",
    "preservation",
    "patron",
    "circulation",
    "reference",
    "consortium",
]


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


async def prepare(client, auth: dict, communities: int, rng: random.Random) -> dict:
    slugs, threads = [], []
    for n in range(communities):
        slug = f"load-{n}"
        answer = await client.post(
            "/api/v1/communities", json={"slug": slug, "name": f"Load {n}"}, headers=auth
        )
        if answer.status_code not in (201, 409, 422):
            raise SystemExit(f"cannot create community {slug}: {answer.status_code} {answer.text}")
        slugs.append(slug)
        listing = await client.get(f"/api/v1/communities/{slug}/threads", headers=auth)
        found = [t["id"] for t in listing.json().get("items", [])]
        while len(found) < 5:
            made = await client.post(
                f"/api/v1/communities/{slug}/threads",
                json={"title": sentence(rng, 5), "body": sentence(rng)},
                headers=auth,
            )
            found.append(made.json()["id"])
        threads.extend(found)
    return {"slugs": slugs, "threads": threads}


async def one_request(client, kind: str, auth: dict, site: dict, rng: random.Random):
    if kind == "thread":
        return await client.get(f"/api/v1/threads/{rng.choice(site['threads'])}", headers=auth)
    if kind == "board":
        slug = rng.choice(site["slugs"])
        return await client.get(f"/api/v1/communities/{slug}/threads", headers=auth)
    if kind == "search":
        return await client.get("/api/v1/search", params={"q": rng.choice(WORDS)}, headers=auth)
    if kind == "directory":
        return await client.get("/api/v1/members", headers=auth)
    if kind == "reply":
        thread = rng.choice(site["threads"])
        body = {"body": sentence(rng)}
        return await client.post(f"/api/v1/threads/{thread}/posts", json=body, headers=auth)
    slug = rng.choice(site["slugs"])
    answer = await client.post(
        f"/api/v1/communities/{slug}/threads",
        json={"title": sentence(rng, 5), "body": sentence(rng)},
        headers=auth,
    )
    if answer.status_code == 201:
        site["threads"].append(answer.json()["id"])
    return answer


async def run(args) -> dict:
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=args.clients + 4)
    async with httpx.AsyncClient(base_url=args.base_url, limits=limits, timeout=30) as client:
        signed = await client.post(
            "/api/v1/auth/token", json={"login": args.login, "password": args.password}
        )
        if signed.status_code != 200:
            raise SystemExit(f"sign-in failed: {signed.status_code} {signed.text}")
        auth = {"Authorization": f"Bearer {signed.json()['token']}"}
        site = await prepare(client, auth, args.communities, rng)
        kinds = [k for k, weight in MIX for _ in range(weight)]
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        deadline = time.monotonic() + args.seconds

        async def worker(n: int) -> None:
            mine = random.Random(args.seed * 1000 + n)
            while time.monotonic() < deadline:
                kind = mine.choice(kinds)
                started = time.perf_counter()
                try:
                    answer = await one_request(client, kind, auth, site, mine)
                    failed = answer.status_code >= 500
                except httpx.HTTPError:
                    failed = True
                latencies[kind].append((time.perf_counter() - started) * 1000)
                if failed:
                    errors[kind] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(args.clients)))
        elapsed = time.monotonic() - started
    total = sum(len(v) for v in latencies.values())
    report = {
        "when": datetime.now(UTC).isoformat(),
        "machine": f"{platform.machine()} {platform.system()} python {platform.python_version()}",
        "base_url": args.base_url,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "per_second": round(total / elapsed, 1),
        "errors": sum(errors.values()),
        "kinds": {
            kind: {
                "requests": len(values),
                "errors": errors[kind],
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": round(statistics.quantiles(values, n=20)[18], 1)
                if len(values) >= 20
                else None,
                "max_ms": round(max(values), 1),
            }
            for kind, values in sorted(latencies.items())
        },
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password-stdin", action="store_true")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--communities", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.password_stdin:
        parser.error("pass --password-stdin and send the password on standard input")
    args.password = sys.stdin.readline().rstrip("\r\n")
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results" / "load_mix.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
