"""The app served by uvicorn in a subprocess, for measurements a TestClient cannot make
(the server's memory while a client streams 200 MB at it; real upload throughput).

The schema comes from the models (create_all), so this needs no migration.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and unusual password"
SECRET = "live-test-secret-key-" + "s" * 32


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _prepare(settings) -> None:
    from connect.accounts import service as accounts
    from connect.app import create_app
    from connect.db import Database, make_engine
    from connect.models import Base

    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    context = create_app(settings).state.ctx
    context.db = Database(settings.database_url)
    try:
        await accounts.register(
            context, username="root", email="root@example.org", password=PASSWORD,
            display_name="Root", site_role="admin",
        )  # fmt: skip
    finally:
        await context.db.dispose()


@dataclass
class LiveApp:
    data_dir: Path
    max_upload_mb: int = 25
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from connect.settings import Settings

        settings = Settings.from_env(
            {}, data_dir=self.data_dir, secret_key=SECRET, base_url=self.url, run_workers=False
        )
        settings.ensure_data_dir()
        asyncio.run(_prepare(settings))
        env = {
            **os.environ,
            "CONNECT_DATA_DIR": str(self.data_dir),
            "CONNECT_SECRET_KEY": SECRET,
            "CONNECT_BASE_URL": self.url,
            "CONNECT_MAX_UPLOAD_MB": str(self.max_upload_mb),
            "CONNECT_RUN_WORKERS": "0",
            "CONNECT_RATE_LIMITS": "off",
            "CONNECT_LOG_LEVEL": "warning",
        }
        env.pop("CONNECT_DATABASE_URL", None)
        self.log = (self.data_dir.parent / "live-server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "connect.app:create_app"]
            + ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("the server did not answer /healthz in 30 s")
        import httpx2 as httpx

        answer = httpx.post(
            f"{self.url}/api/v1/auth/token", json={"login": "root", "password": PASSWORD}
        )
        answer.raise_for_status()
        self.token = answer.json()["token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak so far) of the server process, in kB."""
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
