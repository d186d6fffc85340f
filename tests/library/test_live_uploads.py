"""Against the real server (uvicorn in a subprocess): streaming limits and dropped clients.

The figures (server memory at rest and at its peak while refusing 200 MB) are printed;
bench/library_throughput.py records them with the throughput.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.library.live import LiveApp

httpx = pytest.importorskip("httpx2")

MB = 1024 * 1024
BOUNDARY = "live-upload-boundary"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    app = LiveApp(tmp_path_factory.mktemp("live") / "var", max_upload_mb=25)
    app.start()
    client = httpx.Client(base_url=app.url, headers=app.auth, timeout=60)
    assert (
        client.post("/api/v1/communities", json={"slug": "mem", "name": "Mem"}).status_code == 201
    )
    warm = client.post(
        "/api/v1/communities/mem/library/entries",
        files=[("file", ("warm.txt", b"warming up\n"))],
    )
    assert warm.status_code == 201, warm.text
    try:
        yield app, client
    finally:
        client.close()
        app.stop()


def multipart_stream(megabytes: int, chunk: int = MB):
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    block = b"a" * chunk
    for _ in range(megabytes * MB // chunk):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def leftovers(app: LiveApp) -> tuple[list[Path], list[Path], int]:
    files = app.data_dir / "files"
    blobs = [p for p in files.glob("??/??/*") if p.is_file()]
    tmp = list((files / "tmp").glob("*")) if (files / "tmp").exists() else []
    with sqlite3.connect(app.data_dir / "connect.db") as db:
        rows = db.execute("SELECT count(*) FROM library_entries").fetchone()[0]
    return blobs, tmp, rows


class PeakSampler:
    """Samples the server's RSS every 5 ms (and reads the kernel's peak, when resettable)."""

    def __init__(self, app: LiveApp) -> None:
        self.app, self.peak, self.running = app, 0, True
        clear = Path(f"/proc/{app.process.pid}/clear_refs")
        try:
            clear.write_text("5")  # resets VmHWM to the current RSS
            self.kernel_peak = True
        except OSError:
            self.kernel_peak = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.app.memory_kb().get("VmRSS", 0))
            time.sleep(0.005)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        if self.kernel_peak:
            self.peak = max(self.peak, self.app.memory_kb()["VmHWM"])
        return self.peak


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_200_mb_against_a_25_mb_limit_is_413_and_memory_stays_flat(live, declared):
    app, client = live
    before = leftovers(app)
    at_rest = app.memory_kb()["VmRSS"]
    sampler = PeakSampler(app)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if declared:
        stream = multipart_stream(200)
        head, tail = next(stream), b"".join(list(stream)[-1:])
        headers["Content-Length"] = str(len(head) + 200 * MB + len(tail))
    started = time.monotonic()
    try:
        answer = client.post(
            "/api/v1/communities/mem/library/entries",
            content=multipart_stream(200),
            headers=headers,
        )
    finally:
        peak = sampler.stop()
    elapsed = time.monotonic() - started
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "too_large"
    growth_mb = (peak - at_rest) / 1024
    print(
        f"\n200 MB upload ({'declared length' if declared else 'chunked'}): refused in "
        f"{elapsed:.2f} s; server RSS at rest {at_rest / 1024:.1f} MB, "
        f"peak {peak / 1024:.1f} MB (+{growth_mb:.1f} MB)"
    )
    assert growth_mb < 100
    time.sleep(0.2)
    assert leftovers(app) == before  # no new blob, no temporary file, no row


def test_a_client_that_hangs_up_mid_upload_leaves_nothing(live):
    app, client = live
    before = leftovers(app)
    announced = 10 * MB
    head = (
        f"POST /api/v1/communities/mem/library/entries HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{app.port}\r\nAuthorization: {app.auth['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {announced}\r\n\r\n"
    ).encode()
    stream = multipart_stream(9)
    with socket.create_connection(("127.0.0.1", app.port)) as sock:
        sock.sendall(head + next(stream))
        for _ in range(3):
            sock.sendall(next(stream))
        # 3 MB of a file is on its way to the temporary folder; the client goes away.
        deadline = time.monotonic() + 5
        while not leftovers(app)[1] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert leftovers(app)[1], "the upload never started"
    deadline = time.monotonic() + 10
    while leftovers(app) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(app) == before
    # The server is fine afterwards.
    assert client.get("/api/v1/communities/mem/library").status_code == 200
