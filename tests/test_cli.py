"""The `connect` command, run as an administrator would: in a subprocess, configured by env."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connect.app import create_app
from connect.settings import Settings
from tests.conftest import PASSWORD, children_of

ROOT = Path(__file__).resolve().parent.parent


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any CONNECT_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
    env["CONNECT_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def connect(data_dir: Path, *args: str, stdin: str = "", **env: str):
    result = subprocess.run(
        [sys.executable, "-m", "connect.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=data_dir.parent,
        env=cli_env(data_dir, **env),
        timeout=60,
    )
    result.output = result.stdout + result.stderr
    return result


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output, result.output


def test_check_on_a_fresh_folder_says_migrate(tmp_path):
    result = connect(tmp_path / "var", "check")
    assert result.returncode != 0
    assert "FAIL schema" in result.stdout
    assert "connect migrate" in result.stdout
    assert_no_traceback(result)


def test_migrate_then_check_passes(tmp_path):
    data = tmp_path / "var"
    migrated = connect(data, "migrate")
    assert migrated.returncode == 0, migrated.output
    assert (data / "connect.db").exists()
    result = connect(data, "check")
    assert result.returncode == 0, result.output
    assert "All checks passed." in result.stdout
    assert "FAIL" not in result.stdout


def test_create_admin_makes_an_administrator_who_can_sign_in(tmp_path):
    data = tmp_path / "var"
    result = connect(
        data, "create-admin", "root", "root@example.org", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert result.returncode == 0, result.output
    assert "root" in result.stdout

    app = create_app(Settings.from_env({"CONNECT_DATA_DIR": str(data)}))
    with TestClient(app) as client:
        answer = client.post("/api/v1/auth/token", json={"login": "root", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.json()["member"]["site_role"] == "admin"
        wrong = client.post("/api/v1/auth/token", json={"login": "root", "password": "not it!!"})
        assert wrong.status_code == 401
        # The site is no longer empty: no setup page.
        assert client.get("/", follow_redirects=False).status_code == 200


def test_create_admin_refuses_a_common_password(tmp_path):
    result = connect(
        tmp_path / "var",
        "create-admin",
        "root",
        "root@example.org",
        "--password-stdin",
        stdin="password123\n",
    )
    assert result.returncode != 0
    assert "common" in result.stderr
    assert_no_traceback(result)


def test_create_admin_needs_password_stdin(tmp_path):
    result = connect(tmp_path / "var", "create-admin", "root", "root@example.org")
    assert result.returncode != 0
    assert "--password-stdin" in result.stderr


def test_check_reports_an_unreachable_database(tmp_path):
    result = connect(
        tmp_path / "var",
        "check",
        CONNECT_DATABASE_URL="postgresql+asyncpg://x:y@127.0.0.1:1/nope",
    )
    assert result.returncode != 0
    assert "FAIL database" in result.stdout
    assert "x:y@" not in result.output  # the password is not printed
    assert_no_traceback(result)


@pytest.mark.parametrize("command", ["check", "migrate"])
def test_bad_setting_is_a_clear_error_not_a_traceback(tmp_path, command):
    result = connect(tmp_path / "var", command, CONNECT_MAX_UPLOAD_MB="abc")
    assert result.returncode != 0
    assert "CONNECT_MAX_UPLOAD_MB" in result.output
    assert "whole number" in result.output
    assert_no_traceback(result)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_serve_starts_and_leads_an_empty_site_to_setup(tmp_path):
    data = tmp_path / "var"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "connect.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=cli_env(data, CONNECT_LOG_LEVEL="warning"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                response = get(port, "/")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.1)
        assert response.status == 303
        assert response.getheader("location") == "/setup"
        assert get(port, "/setup").status == 200
        assert get(port, "/healthz").status == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
    assert server.returncode is not None


def call(port: int, method: str, path: str, body: dict | None = None, token: str = ""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, data


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def test_serve_runs_the_workers_in_a_process_that_goes_when_it_goes(tmp_path):
    data = tmp_path / "var"
    assert connect(data, "migrate").returncode == 0
    assert connect(data, "create-admin", "root", "root@example.org", "--password-stdin",
                   stdin=PASSWORD + "\n").returncode == 0  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "connect.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=cli_env(data, CONNECT_LOG_LEVEL="warning", CONNECT_BASE_URL=f"http://127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "connect serve exited"
            try:
                get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.1)
        helpers = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children_of(server.pid)
        }
        workers = [pid for pid, cmdline in helpers.items() if b"connect.cli\x00worker" in cmdline]
        assert len(workers) == 1, helpers
        # The search process (and multiprocessing's resource tracker beside it).
        assert any(b"multiprocessing.spawn" in cmdline for cmdline in helpers.values()), helpers

        # The worker process indexes what the server writes: a new thread becomes findable.
        login = {"login": "root", "password": PASSWORD}
        token = call(port, "POST", "/api/v1/auth/token", login)[1]["token"]
        desk = {"slug": "desk", "name": "Reference desk", "visibility": "open"}
        call(port, "POST", "/api/v1/communities", desk, token)
        thread = {"title": "Marginalia workshop", "body": "Bring pencils."}
        status, _ = call(port, "POST", "/api/v1/communities/desk/threads", thread, token)
        assert status == 201
        deadline = time.monotonic() + 30
        while True:
            status, found = call(port, "GET", "/api/v1/search?q=marginalia", token=token)
            if status == 200 and found["total"] >= 1:
                break
            assert time.monotonic() < deadline, f"not searchable after 30 s: {status} {found}"
            time.sleep(0.2)

        # However the server ends, its worker and search process do not outlive it.
        server.kill()
        server.wait(timeout=15)
        deadline = time.monotonic() + 15
        while left := [p for p, c in helpers.items() if _cmdline(p) == c]:
            assert time.monotonic() < deadline, f"outlived the server: {left}"
            time.sleep(0.1)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _usernames(data: Path) -> list[str]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(data / "connect.db")) as db:
        return [name for (name,) in db.execute("SELECT username FROM users ORDER BY id")]


def test_demo_seeds_an_empty_site_once_and_never_a_real_one(tmp_path):
    demo = tmp_path / "demo"
    first = connect(demo, "demo")
    assert first.returncode == 0, first.output
    assert "Sign in as demo-admin" in first.output
    seeded = _usernames(demo)
    assert seeded[0] == "demo-admin" and len(seeded) == 41
    again = connect(demo, "demo")
    assert again.returncode == 0 and "0 created" in again.output, again.output
    assert _usernames(demo) == seeded

    real = tmp_path / "real"
    made = connect(
        real, "create-admin", "root", "root@example.org", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.output
    refused = connect(real, "demo")
    assert refused.returncode == 1
    assert "already has members of its own" in refused.output
    assert_no_traceback(refused)
    assert _usernames(real) == ["root"]  # no administrator with a published password
