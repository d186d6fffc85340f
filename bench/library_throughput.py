"""Library upload and download throughput against a plain file copy on the same disk.

Starts the app under uvicorn in a subprocess (tests/library/live.py), uploads a
20 MB file through POST /api/v1/communities/{slug}/library/entries and downloads it
through GET /api/v1/library/files/{id}/download, several times each, and compares the
median MB/s with shutil.copyfile of the same 20 MB on the same disk. It also records
the server's memory while it refuses a 200 MB upload under a 25 MB limit.

    .venv/bin/python bench/library_throughput.py [--runs 7] [--size-mb 20]

Writes bench/results/library_throughput.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2 as httpx  # noqa: E402

from tests.library.live import LiveApp  # noqa: E402

MB = 1024 * 1024
RESULTS = ROOT / "bench" / "results" / "library_throughput.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # an allowed type whose sniffing reads only the head


def payload(size: int) -> bytes:
    """Fresh random bytes each run, so no upload is deduplicated into a no-op."""
    return PNG_MAGIC + os.urandom(size - len(PNG_MAGIC))


def multipart(data: bytes, boundary: str = "bench-boundary"):
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.png"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, f"multipart/form-data; boundary={boundary}"


def copy_once(folder: Path, size: int) -> tuple[float, float]:
    """MB/s of shutil.copyfile, and of copyfile followed by fsync (what uploads do)."""
    source, target = folder / "source.bin", folder / "target.bin"
    source.write_bytes(payload(size))
    os.sync()  # no writeback left over from earlier work lands in the timing
    started = time.perf_counter()
    shutil.copyfile(source, target)
    plain = size / MB / (time.perf_counter() - started)
    target.unlink()
    os.sync()
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    synced = size / MB / (time.perf_counter() - started)
    target.unlink()
    source.unlink()
    return plain, synced


def hash_once(size: int) -> float:
    """MB/s of SHA-256 alone over the same bytes in memory: what verifying an upload costs.

    Every uploaded byte is hashed (blobs are named by their SHA-256), so no upload can be
    faster than this, whatever the server, before a byte is read from a socket or written.
    """
    data = payload(size)
    started = time.perf_counter()
    hashlib.sha256(data).digest()
    return size / MB / (time.perf_counter() - started)


def measure(app: LiveApp, folder: Path, size: int, runs: int) -> dict[str, list[float]]:
    """Each run copies, uploads and downloads in turn, so load from elsewhere hits all three."""
    found: dict[str, list[float]] = {
        "upload": [],
        "download": [],
        "copy": [],
        "copy_fsync": [],
        "sha256": [],
    }
    uploads, downloads = found["upload"], found["download"]
    with httpx.Client(base_url=app.url, headers=app.auth, timeout=120) as client:
        client.post("/api/v1/communities", json={"slug": "bench", "name": "Bench"})
        for _ in range(runs):
            plain, synced = copy_once(folder, size)
            found["copy"].append(plain)
            found["copy_fsync"].append(synced)
            found["sha256"].append(hash_once(size))
            body, content_type = multipart(payload(size))
            os.sync()
            started = time.perf_counter()
            answer = client.post(
                "/api/v1/communities/bench/library/entries",
                content=body,
                headers={"Content-Type": content_type},
            )
            uploads.append(size / MB / (time.perf_counter() - started))
            answer.raise_for_status()
            url = answer.json()["files"][0]["download_url"]
            os.sync()
            started = time.perf_counter()
            received = 0
            with client.stream("GET", url) as got:
                for chunk in got.iter_raw(MB):
                    received += len(chunk)
            downloads.append(size / MB / (time.perf_counter() - started))
            assert received == size, received
    return found


def refusal_memory(app: LiveApp) -> dict:
    """Server RSS at rest and at its peak while a client streams 200 MB at a 25 MB limit."""

    def stream():
        yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n')
        block = b"a" * MB
        for _ in range(200):
            yield block
        yield b"\r\n--b--\r\n"

    at_rest = app.memory_kb()["VmRSS"]
    Path(f"/proc/{app.process.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM)
    with httpx.Client(base_url=app.url, headers=app.auth, timeout=120) as client:
        answer = client.post(
            "/api/v1/communities/bench/library/entries",
            content=stream(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    peak = app.memory_kb()["VmHWM"]
    return {
        "status": answer.status_code,
        "rss_at_rest_mb": round(at_rest / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - at_rest) / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mb", type=int, default=20)
    args = parser.parse_args()
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(prefix="connect-bench-") as scratch:
        folder = Path(scratch)
        app = LiveApp(folder / "var", max_upload_mb=max(25, args.size_mb + 1))
        app.start()
        try:
            found = measure(app, folder, size, args.runs)
            memory = refusal_memory(app) if args.size_mb < 25 else None
        finally:
            app.stop()
    uploads, downloads = found["upload"], found["download"]
    plain, synced = found["copy"], found["copy_fsync"]

    def median(values):
        return round(statistics.median(values), 1)

    result = {
        "file_mb": args.size_mb,
        "runs": args.runs,
        "upload_mb_s": median(uploads),
        "download_mb_s": median(downloads),
        "copyfile_mb_s": median(plain),
        "copyfile_fsync_mb_s": median(synced),
        "upload_vs_copyfile": round(median(uploads) / median(plain), 2),
        "download_vs_copyfile": round(median(downloads) / median(plain), 2),
        "upload_vs_copyfile_fsync": round(median(uploads) / median(synced), 2),
        # The most any verified upload could reach: hashing alone, against the copy.
        "sha256_mb_s": median(found["sha256"]),
        "sha256_vs_copyfile": round(median(found["sha256"]) / median(plain), 2),
        "samples": {
            "upload_mb_s": [round(v, 1) for v in uploads],
            "download_mb_s": [round(v, 1) for v in downloads],
            "copyfile_mb_s": [round(v, 1) for v in plain],
            "copyfile_fsync_mb_s": [round(v, 1) for v in synced],
            "sha256_mb_s": [round(v, 1) for v in found["sha256"]],
        },
        "refusing_200_mb_at_25_mb_limit": memory,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({k: v for k, v in result.items() if k not in ("samples", "machine")}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
