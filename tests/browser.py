"""Browser-test fixtures: Debian's chromium through Playwright, and the dashboard served by uvicorn in a thread.

Import the fixtures a test module uses (``from browser import browser, browser_type_launch_args, playwright``)
and give the module a ``base_url`` fixture; :func:`serve` runs an app for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from helpers import skip_or_fail
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from starlette.types import ASGIApp

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS_DIR = Path(__file__).parent / "artifacts"
SERVER_START_TIMEOUT_S = 10
WAIT_S = 10


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing; install it with: apt-get install -y chromium")
    # Playwright's own browser download is not used: Debian's chromium is.
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}


# pytest-playwright keeps one Playwright for the whole session, and its event loop stays
# registered as running, so later tests that call asyncio.run() fail
# (microsoft/playwright-pytest#167). Scoped to the module that uses it, it is released when
# that module's tests end; pytest-playwright's context, page and artifact fixtures still apply.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@contextmanager
def serve(app: ASGIApp, *, log_level: str = "warning") -> Iterator[str]:
    """``app`` on a free loopback port for the duration; yields its base URL."""
    # ws="none": the dashboard has no websockets, and uvicorn's websockets backends warn.
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level=log_level, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT_S)


def wait_until(page: Page, expression: str, *, timeout_s: float = WAIT_S) -> Any:
    """Poll ``expression`` until truthy (wait_for_function evaluates a string, which the page's policy refuses)."""
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.05)
    return value


def screenshot(page: Page, name: str) -> None:
    """The whole page into ARTIFACTS_DIR (`make screenshots` copies some into the README)."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / name, full_page=True)
