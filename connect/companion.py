"""The `connect worker` process that `connect serve` starts beside the web server.

The event consumers and jobs (search indexing, notifications, mail, text extraction) take
tens of milliseconds of CPU per post. In the web server's process they would run on the
event loop, or hold the GIL in a thread, that serves pages and fans live events out to
every socket. In a process of their own they use another core, and a slow index commit
never delays a page or a live update.

The companion dies with the server (PR_SET_PDEATHSIG on Linux, and it watches its parent
elsewhere), is stopped cleanly when the server stops, and is started again if it exits
while the server runs. Leases (connect/workers.py) still decide who runs what, so extra
`connect worker` processes on other machines are safe beside it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import subprocess
import sys
import threading

RESTART_DELAY = 2.0
STOP_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1


def exit_with_parent(parent: int) -> None:
    """SIGTERM this process when its parent (pid `parent`) goes, however it goes; exit at
    once if the parent already died while this process was starting. For every process a
    server starts: this worker, server workers, search processes."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: `connect worker` also stops when its parent is gone
    if os.getppid() != parent:
        os._exit(0)  # the parent died before prctl took effect


class Companion:
    """Runs `python -m connect.cli worker` for as long as the server runs."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.command = [sys.executable, "-m", "connect.cli", "worker"]
        self.env = {**os.environ, **(env or {}), "CONNECT_PARENT_PID": str(os.getpid())}
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # The thread that starts the child must outlive it: PR_SET_PDEATHSIG fires when
        # that thread ends. So one thread starts it, waits for it, and restarts it.
        self._thread = threading.Thread(target=self._supervise, name="companion", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                preexec_fn=functools.partial(exit_with_parent, os.getpid()),
                process_group=0,  # Ctrl-C reaches the server, which then stops it
            )
            code = self._process.wait()
            if self._stopping.is_set():
                return
            print(
                f"connect: the worker process exited ({code}); starting it again",
                file=sys.stderr,
            )
            self._stopping.wait(RESTART_DELAY)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT)
