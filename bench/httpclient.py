"""A small keep-alive HTTP/1.1 client for the benchmarks' load generators.

The load generators share the 2 CPUs with the server they measure, so their client has to
be cheap: ~0.4 ms of CPU per request (with uvloop), against ~1.3-1.7 ms with httpx.
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path


class HttpError(Exception):
    pass


@dataclass
class Answer:
    status: int
    body: bytes
    cookies: list[str]


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 with a tiny cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, target: str, *, json_body: object | None = None, headers=None
    ) -> Answer:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in {**self.headers, **(headers or {})}.items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if json_body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            reused = self.writer is not None
            if not reused:
                self.reader, self.writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, limit=1 << 20
                )
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(data)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.close()
                nothing = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if reused and attempt == 0 and nothing:
                    continue  # the server closed an idle keep-alive connection: reconnect
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            return await self._answer(head)
        raise HttpError("unreachable")

    async def _answer(self, head: bytes) -> Answer:
        assert self.reader is not None
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close, cookies = None, False, False, []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.lower() == b"close"
            elif name == b"set-cookie":
                cookies.append(value.decode("latin-1"))
        try:
            if status in (204, 304) or status < 200:
                body = b""
            elif chunked:
                body = await self._chunked()
            elif length is not None:
                body = await self.reader.readexactly(length)
            else:
                body, close = await self.reader.read(), True
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise HttpError(f"body cut short: {exc}") from exc
        if close:
            self.close()
        for cookie in cookies:
            pair = cookie.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if not value or "max-age=0" in cookie.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return Answer(status, body, cookies)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


def runner() -> asyncio.Runner:
    """An event loop for a load generator: uvloop (as the server has) when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (Linux: one per `connect serve` worker)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            count += 1
    return count


def wait_for_listeners(port: int, workers: int, timeout: float = 60.0) -> None:
    """Wait until every server worker listens. Keep-alive connections stay with the worker
    that accepted them, so a load started while only the first one is up stays on it."""
    deadline = time.monotonic() + timeout
    while listening_sockets(port) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {listening_sockets(port)} of {workers} workers listen")
        time.sleep(0.1)
