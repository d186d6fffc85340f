"""Idle live connections: server memory for 10,000 WebSockets held open on one process.

Starts one `connect serve` process (fresh data folder, rate limits off) on 127.0.0.1,
creates an open community, then opens N anonymous WebSockets to /api/v1/live from
several client processes, each subscribed to `community:<slug>`, and holds them.
It reads the server's resident memory (VmRSS in /proc/<pid>/status) before and
after, and prints memory per connection. To show the connections are live and not
only open, it then starts one thread and counts how many sockets get the
`thread.created` event and how long the last one took.

    .venv/bin/python bench/live_idle.py [--connections 10000] [--client-procs 4]
        [--no-compression] [--timeout 900]

Writes bench/results/live_idle.json. Target (the issue): 10,000 connections in 1.5 GB.
Everything is on 127.0.0.1; the whole run is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_fanout import (  # noqa: E402
    PASSWORD,
    ConnectServer,
    api,
    machine,
    proc_status_kb,
    raise_nofile,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "live_idle.json"
TARGET_TOTAL_MB = 1536.0
TARGET_CONNECTIONS = 10_000
SLUG = "idle"


# Clients: each process holds its share of the sockets -----------------------------------


def client_entry(pipe, url: str, channel: str, count: int, ramp: int, compression: bool):
    raise_nofile()
    asyncio.run(run_client(pipe, url, channel, count, ramp, compression))


async def run_client(pipe, url: str, channel: str, count: int, ramp: int, compression: bool):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(ramp)
    sockets: list = []
    ready = 0
    received = 0
    last_received = 0.0
    closed_early = 0
    settled = 0
    all_settled = asyncio.Event()  # every socket is in, or has failed to get in

    async def hold(index: int) -> None:
        nonlocal settled
        try:
            ws = await open_one()
        finally:
            settled += 1
            if settled == count:
                all_settled.set()
        await listen(ws)

    async def open_one():
        nonlocal ready
        async with gate:
            ws = await connect(
                url,
                open_timeout=300,
                ping_interval=None,  # the server pings; the client answers
                compression="deflate" if compression else None,
            )
            sockets.append(ws)
            await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
            while True:
                answer = json.loads(await ws.recv())
                if answer.get("op") == "subscribed":
                    break
                if answer.get("op") == "error":
                    raise RuntimeError(f"subscription refused: {answer}")
        ready += 1
        return ws

    async def listen(ws) -> None:
        nonlocal received, last_received, closed_early
        try:
            async for raw in ws:
                if '"thread.created"' in raw:
                    received += 1
                    last_received = time.time()
        except ConnectionClosed:
            pass
        closed_early += 1

    tasks = [asyncio.create_task(hold(i)) for i in range(count)]
    if count:
        await all_settled.wait()
    failures = [repr(t.exception()) for t in tasks if t.done() and t.exception()]
    pipe.send(("ready", ready, len(failures), failures[:3]))
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    pipe.send(("done", received, last_received, closed_early))
    # Exit without a close handshake per socket: the process ending closes them all.
    os._exit(0)


class Clients:
    def __init__(self, url, channel, connections, procs, ramp, compression) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        share, extra = divmod(connections, procs)
        for n in range(procs):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=client_entry,
                args=(
                    theirs,
                    url,
                    channel,
                    share + (1 if n < extra else 0),
                    max(1, ramp // procs),
                    compression,
                ),
                daemon=True,
            )
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def wait_ready(self, deadline: float) -> tuple[int, int, list[str]]:
        ready = failed = 0
        samples: list[str] = []
        for pipe in self.pipes:
            if not pipe.poll(max(1.0, deadline - time.monotonic())):
                raise TimeoutError("client processes did not open their sockets in time")
            _, n, bad, some = pipe.recv()
            ready, failed, samples = ready + n, failed + bad, samples + some
        return ready, failed, samples

    def stop(self, timeout: float = 60) -> tuple[int, float, int]:
        for pipe in self.pipes:
            pipe.send("stop")
        received, last, closed = 0, 0.0, 0
        for pipe in self.pipes:
            if pipe.poll(timeout):
                _, n, t, c = pipe.recv()
                received, last, closed = received + n, max(last, t), closed + c
        for process in self.processes:
            process.join(10)
        return received, last, closed

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()


# Main ---------------------------------------------------------------------------------


def _out_of_time(signum, frame) -> None:
    raise TimeoutError("the run went past --timeout")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--ramp", type=int, default=200, help="sockets being opened at once")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--check-wait", type=float, default=30.0, help="wait for the event")
    parser.add_argument(
        "--no-compression", action="store_true", help="clients offer no permessage-deflate"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="bound for the whole run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    # The whole run is bounded: an alarm ends it (the finally blocks still stop processes).
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(args.timeout) + 60)

    nofile = raise_nofile()
    per_client = -(-args.connections // args.client_procs) + 100
    if nofile < max(args.connections + 200, per_client):
        print(f"open-files limit {nofile} is below what {args.connections} need", file=sys.stderr)
    sys.path.insert(0, str(ROOT))
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, websockets {info['websockets']}, uvicorn {info['uvicorn']}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="connect-live-idle-"))
    server = ConnectServer(workdir / "var")
    clients = None
    try:
        server.create_admin()
        server.start()
        token = api(server.url, "POST", "/auth/token", {"login": "root", "password": PASSWORD})[
            "token"
        ]
        api(
            server.url,
            "POST",
            "/communities",
            {"slug": SLUG, "name": "Idle", "visibility": "open"},
            token,
        )
        time.sleep(2)  # let start-up work (search index, workers) finish
        rss_before = proc_status_kb(server.pid)
        fds_before = open_fds(server.pid)
        print(f"server pid {server.pid}: VmRSS {rss_before / 1024:.1f} MB before")

        started = time.monotonic()
        clients = Clients(
            f"ws://127.0.0.1:{server.port}/api/v1/live",
            f"community:{SLUG}",
            args.connections,
            args.client_procs,
            args.ramp,
            not args.no_compression,
        )
        ready, failed, samples = clients.wait_ready(deadline)
        ramp_s = time.monotonic() - started
        print(f"{ready} sockets open and subscribed in {ramp_s:.1f} s ({failed} failed)")
        if samples:
            print(f"  failures, first few: {samples}", file=sys.stderr)
        time.sleep(args.settle)
        rss_after = proc_status_kb(server.pid)
        hwm = proc_status_kb(server.pid, "VmHWM")
        fds_after = open_fds(server.pid)
        per_connection_kb = (rss_after - rss_before) / max(ready, 1)
        print(
            f"VmRSS {rss_after / 1024:.1f} MB after (peak {hwm / 1024:.1f} MB): "
            f"{per_connection_kb:.1f} KB per connection; {fds_after} open files"
        )

        # Live, not only open: one new thread reaches every socket.
        posted_at = time.time()
        api(
            server.url,
            "POST",
            f"/communities/{SLUG}/threads",
            {"title": "Anyone there?", "body": "Checking that idle sockets are live."},
            token,
        )
        posted_ms = (time.time() - posted_at) * 1000
        time.sleep(args.check_wait)
        rss_event = proc_status_kb(server.pid)
        received, last, closed = clients.stop()
        delivered_s = (last - posted_at) if last else None
        print(
            f"one thread.created reached {received}/{ready} sockets; last after "
            f"{delivered_s if delivered_s is None else round(delivered_s, 2)} s; "
            f"{closed} closed early"
        )
    finally:
        if clients is not None:
            clients.kill()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.alarm(0)

    total_mb = rss_after / 1024
    # The target is stated for 10,000: a smaller run reports its figures, not a verdict.
    met = (
        None
        if args.connections < TARGET_CONNECTIONS
        else (ready >= TARGET_CONNECTIONS and total_mb <= TARGET_TOTAL_MB)
    )
    results = {
        "benchmark": "live_idle",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "parameters": {
            "connections": args.connections,
            "client_procs": args.client_procs,
            "compression_offered": not args.no_compression,
            "channel": f"community:{SLUG}",
            "anonymous": True,
        },
        "target": {"connections": TARGET_CONNECTIONS, "total_rss_mb": TARGET_TOTAL_MB},
        "connections_open": ready,
        "connections_failed": failed,
        "open_ramp_s": round(ramp_s, 1),
        "server_rss_mb_before": round(rss_before / 1024, 1),
        "server_rss_mb_after": round(total_mb, 1),
        "server_rss_peak_mb": round(hwm / 1024, 1),
        "server_rss_mb_after_one_event": round(rss_event / 1024, 1),
        "rss_per_connection_kb": round(per_connection_kb, 1),
        "server_open_files_before_after": [fds_before, fds_after],
        "event_check": {
            "post_http_ms": round(posted_ms, 1),
            "received": received,
            "last_delivery_s": None if delivered_s is None else round(delivered_s, 2),
            "closed_early": closed,
        },
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "target_met": met,
    }
    verdict = {True: "MET", False: "MISSED", None: "not judged (fewer connections)"}[met]
    print(
        f"target ({TARGET_CONNECTIONS:,} connections within {TARGET_TOTAL_MB:.0f} MB): "
        f"{verdict} ({ready} connections, {total_mb:.0f} MB)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if met is False else 0


if __name__ == "__main__":
    sys.exit(main())
