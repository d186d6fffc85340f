"""Serving HTTP: uvicorn in this process, or in several worker processes sharing the port.

With several workers, each one listens on its own socket bound with SO_REUSEPORT, and the
kernel spreads new connections evenly across them. (Workers that share one listening socket,
as uvicorn's own `--workers` arranges, accept unevenly: whichever event loop wakes first
accepts every connection that is waiting, so with keep-alive clients one process ends up
doing most of the work while the others idle.)

The parent process only supervises: it holds the address (bound, never listening, so no
connection waits on it), starts the workers, replaces one that dies, and on SIGINT or
SIGTERM asks each to shut down gracefully.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

from connect import logs
from connect.companion import exit_with_parent
from connect.gc_tuning import tune_gc

APP = "connect.app:create_app"
# A worker gets this long to finish its requests after SIGTERM (uvicorn's graceful shutdown),
# and the supervisor waits a little longer before it kills what is left.
GRACEFUL_SHUTDOWN_S = 10
POLL_S = 0.5
# A worker that exits by itself this soon after starting, or says its start-up failed (uvicorn's
# status 3), cannot start: stop rather than start it again and again. One killed by a signal
# is replaced whenever it dies.
STARTUP_GRACE_S = 5.0
STARTUP_FAILURE = 3


def uvicorn_options(settings, host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "ws": "websockets-sansio",
        # Live events are small JSON messages encoded once per event; per-message deflate
        # would compress each copy again for every connection.
        "ws_per_message_deflate": False,
        "log_level": settings.log_level.lower(),
        # Requests are logged by the app, one structured line each with its timing
        # (connect.app.AccessLogMiddleware), not a second time by uvicorn.
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def serve(settings, host: str, port: int, workers: int) -> int:
    """Serve until told to stop; the exit status."""
    import uvicorn

    options = uvicorn_options(settings, host, port)
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        if workers <= 1:
            _prepare_server_process(options)
        uvicorn.run(APP, factory=True, workers=workers, **options)
        return 0
    return Supervisor(options, workers).run()


def _prepare_server_process(options: dict[str, Any]) -> None:
    import connect.app  # noqa: F401 (everything the app imports, before the freeze)

    logs.configure(options["log_level"])
    tune_gc()


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _worker_main(options: dict[str, Any], parent: int) -> None:
    """One worker process: its own SO_REUSEPORT socket, one uvicorn server."""
    import uvicorn

    exit_with_parent(parent)
    _prepare_server_process(options)
    config = uvicorn.Config(APP, factory=True, **options)
    config.configure_logging()
    sock = _bound_socket(options["host"], options["port"])
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(self, options: dict[str, Any], workers: int) -> None:
        self.options = options
        self.count = workers
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.started_at: dict[int, float] = {}
        self.stopping = False

    def run(self) -> int:
        # Holding the address here makes a port in use an error at once, and fixes port 0
        # to one port that every worker then binds.
        holder = _bound_socket(self.options["host"], self.options["port"])
        self.options = self.options | {"port": holder.getsockname()[1]}
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        status = 0
        try:
            for _ in range(self.count):
                self._start()
            pids = ", ".join(str(p.pid) for p in self.processes)
            print(f"connect: started {self.count} server workers ({pids})", file=sys.stderr)
            while not self.stopping:
                time.sleep(POLL_S)
                status = self._replace_dead()
                if status:
                    break
        finally:
            self._stop_all()
            holder.close()
        return status

    def _on_signal(self, signum, _frame) -> None:
        self.stopping = True

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker_main, args=(self.options, os.getpid()), name="connect-server"
        )
        process.start()
        self.processes.append(process)
        self.started_at[process.pid] = time.monotonic()
        return process

    def _replace_dead(self) -> int:
        for process in list(self.processes):
            if process.is_alive() or self.stopping:
                continue
            self.processes.remove(process)
            lived = time.monotonic() - self.started_at.pop(process.pid, 0.0)
            code = process.exitcode
            if code == STARTUP_FAILURE or (
                code is not None and code >= 0 and lived < STARTUP_GRACE_S
            ):
                print(
                    f"connect: a server worker exited during start-up (status {code}); stopping.",
                    file=sys.stderr,
                )
                return 1
            replacement = self._start()
            print(
                f"connect: server worker {process.pid} exited (status {process.exitcode}); "
                f"started {replacement.pid} in its place",
                file=sys.stderr,
            )
        return 0

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_SHUTDOWN_S + 5
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
