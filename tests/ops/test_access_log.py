"""`connect serve` logs one structured line per request, with its timing, and only one."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from tests.browser.helpers import LiveServer


def test_each_request_is_one_line_with_method_path_status_and_time(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECT_LOG_LEVEL", "info")
    server = LiveServer(tmp_path / "var")
    server.start()
    try:
        for path in ("/members", "/no-such-page"):
            try:
                urllib.request.urlopen(server.url + path, timeout=10).close()
            except urllib.error.HTTPError as answer:
                assert answer.code == 404
    finally:
        server.stop()
    lines = server.log_path.read_text(errors="replace").splitlines()
    for path, status in (("/members", 200), ("/no-such-page", 404)):
        ours = [line for line in lines if f"path={path} " in line]
        assert len(ours) == 1, lines
        assert re.search(rf"request method=GET path={path} status={status} ms=\d+\.\d", ours[0])
        # Not logged a second time by uvicorn in its own words.
        assert not [line for line in lines if f'"GET {path} HTTP/1.1"' in line], lines
