"""Browser-test helpers: the live server process, axe checks and small journey steps."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_SERVICES = os.environ.get("CONNECT_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CONNECT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PASSWORD = "a long and unusual password"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def unavailable(reason: str) -> None:
    """A missing browser or server fails the run when services are required, else skips."""
    if REQUIRE_SERVICES:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# The live server ------------------------------------------------------------------------


def playwright_expect():
    """Playwright's `expect`, for a journey module to call as it loads: without Playwright
    the module is skipped, or fails when the services are required."""
    try:
        from playwright.sync_api import expect
    except ImportError as exc:
        if REQUIRE_SERVICES:
            raise
        pytest.skip(f"Playwright is not installed: {exc}", allow_module_level=True)
    return expect


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """`connect serve` in a subprocess, on its own data folder and port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "server.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        env = {
            **os.environ,
            "CONNECT_DATA_DIR": str(self.data_dir),
            "CONNECT_BASE_URL": self.url,
            "CONNECT_SECRET_KEY": "browser-test-secret-key-" + "k" * 32,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CONNECT_DATABASE_URL", None)
        env.pop("CONNECT_REDIS_URL", None)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "connect.cli", "serve"]
                + ["--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"connect serve exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"connect serve did not answer /healthz in {STARTUP_TIMEOUT:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


# Accessibility ---------------------------------------------------------------------------


def check_a11y(page) -> None:
    """Run axe-core on the page as it is now; any violation fails with a readable list."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    if not violations:
        return
    lines = [f"{len(violations)} accessibility violation(s) on {page.url}:"]
    for v in violations:
        targets = [", ".join(node["target"]) for node in v["nodes"][:3]]
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"- {v['id']} [{v['impact']}]: {v['help']}")
        lines.append(f"    at {'; '.join(targets)}{more}")
    pytest.fail("\n".join(lines), pytrace=False)


# Journey steps ---------------------------------------------------------------------------


def path_is(path: str) -> re.Pattern[str]:
    """A URL pattern for `expect(page).to_have_url`: this path, any query string."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


def by_label(page, label: str):
    """The field whose visible label is `label`, with or without the required-field star."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(\s*\*)?$"))


def fill_form(page, fields: dict[str, str]) -> None:
    """Type into fields found by their label."""
    for label, value in fields.items():
        by_label(page, label).fill(value)


def register(page, *, username: str, display_name: str, email: str) -> None:
    """Fill in and send the sign-up form at /register."""
    page.goto("/register")
    fill_form(
        page,
        {"Username": username, "Your name": display_name, "Email": email, "Password": PASSWORD},
    )
    page.get_by_role("button", name="Create account").click()


def write_png(path: Path, size: tuple[int, int] = (120, 80)) -> Path:
    """A small real PNG (wider than tall, so the server's square crop has work to do)."""
    from PIL import Image

    Image.new("RGB", size, (11, 83, 148)).save(path, format="PNG")
    return path
