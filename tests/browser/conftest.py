"""Fixtures for browser tests: the real server in a subprocess and Debian's Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, LiveServer, check_a11y, unavailable

HERE = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_MS = 10_000
_servers: dict[str, LiveServer] = {}


def pytest_collection_modifyitems(items) -> None:
    """Every test in this folder drives Chromium."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test shows the end of the server's log next to its traceback."""
    report = yield
    server = _servers.get(item.funcargs.get("live_server", ""))
    if report.failed and server is not None:
        report.sections.append(("connect serve log (last lines)", server.log_tail()))
    return report


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> str:
    """A fresh site per test module: `connect serve` (which migrates first) on a free port."""
    server = LiveServer(tmp_path_factory.mktemp("live") / "var")
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        # The app itself is under test here, so a server that will not start is a failure.
        pytest.fail(f"could not start the live server: {exc}", pytrace=False)
    _servers[server.url] = server
    try:
        yield server.url
    finally:
        server.stop()
        _servers.pop(server.url, None)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from the system (never a Playwright download).

    Module-scoped: Playwright's sync API keeps an event loop on the main thread while it
    runs, and stopping it after each browser module lets later tests use asyncio.run().
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"Playwright is not installed: {exc}")
    try:
        manager = sync_playwright().start()
    except Exception as exc:
        unavailable(f"the Playwright driver did not start: {exc}")
    try:
        chromium = manager.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:  # missing binary, sandbox trouble, bad build...
        manager.stop()
        unavailable(f"Chromium at {CHROMIUM} did not launch: {exc}")
    try:
        yield chromium
    finally:
        chromium.close()
        manager.stop()


@pytest.fixture
def new_context(browser, live_server):
    """Make a browser context per member (own cookies); all are closed after the test."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(name="check_a11y")
def check_a11y_fixture():
    """`check_a11y(page)`: fail on any axe-core violation on the page as it is now."""
    return check_a11y
