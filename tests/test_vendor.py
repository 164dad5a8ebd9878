"""Vendored front-end files match their recorded checksums; the axe-core helper finds what it should."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe import axe_violations, format_violations
from browser import browser, browser_type_launch_args, playwright, serve  # noqa: F401 - fixtures
from playwright.sync_api import ConsoleMessage, Page

from dashboard import create_app
from monitor.store import Store

ROOT = Path(__file__).parent.parent
VENDOR_DIRS = (ROOT / "dashboard" / "static" / "vendor", ROOT / "tests" / "vendor")
VENDOR_SCRIPT = ROOT / "scripts" / "vendor_frontend.sh"


def versions(directory: Path) -> dict[str, dict[str, str]]:
    """VERSIONS.txt of ``directory``: file name → package, version, licence, sha256."""
    rows = {}
    for line in (directory / "VERSIONS.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        file, package, version, licence, sha256 = line.split()
        rows[file] = {"package": package, "version": version, "licence": licence, "sha256": sha256}
    return rows


@pytest.mark.parametrize("directory", VENDOR_DIRS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_vendored_file_matches_its_recorded_sha256(directory: Path) -> None:
    recorded = versions(directory)
    present = {path.name for path in directory.iterdir()} - {"VERSIONS.txt"}
    assert present == set(recorded), "files and VERSIONS.txt differ: re-run scripts/vendor_frontend.sh"
    for file, row in recorded.items():
        assert hashlib.sha256((directory / file).read_bytes()).hexdigest() == row["sha256"], file


def test_vendored_versions_are_the_ones_the_script_pins() -> None:
    pins = dict(re.findall(r'^(\w+)_VERSION="([^"]+)"$', VENDOR_SCRIPT.read_text(encoding="utf-8"), re.MULTILINE))
    recorded = {row["package"]: row["version"] for directory in VENDOR_DIRS for row in versions(directory).values()}
    assert recorded == {
        "uplot": pins["UPLOT"],
        "htmx.org": pins["HTMX"],
        "htmx-ext-sse": pins["HTMX_SSE"],
        "axe-core": pins["AXE"],
    }
    # htmx 4 (npm "latest") changed the API and the SSE extension; the pages are written for htmx 2.
    assert recorded["htmx.org"].startswith("2.0.")
    assert recorded["htmx-ext-sse"].startswith("2.2.")
    assert recorded["axe-core"].startswith("4.")


def test_axe_is_for_tests_only_and_htmx_is_served() -> None:
    served = versions(VENDOR_DIRS[0])
    assert {"htmx.min.js", "sse.min.js"} <= set(served)
    assert not any(row["package"] == "axe-core" for row in served.values())


# A page with exactly two WCAG A failures: an image without a text alternative, a field without a label.
BROKEN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Broken on purpose</title></head>
<body><main>
  <h1>Two problems</h1>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">
  <form><input type="text" name="pain"><button type="submit">Save</button></form>
</main></body></html>"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('axe') / 'dosis.sqlite3'}")
    with serve(create_app(store)) as url:
        yield url
    store.close()


@pytest.fixture(scope="module")
def base_url(app_url: str) -> str:
    # Also keeps pytest-playwright's fallback base_url fixture out of use (deprecated in pytest 9.2).
    return app_url


@pytest.fixture(scope="module")
def browser_context_args(base_url: str) -> dict[str, Any]:
    return {"base_url": base_url}


@pytest.fixture
def browser_errors(page: Page) -> list[str]:
    """Script errors and console errors (a refused script or style is one), except the page's own 404 status."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        own_status = message.location.get("url") == page.url and "status of 404" in message.text
        if message.type == "error" and not own_status:
            errors.append(message.text)

    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", on_console)
    return errors


def test_axe_finds_exactly_the_known_violations(page: Page) -> None:
    page.set_content(BROKEN_PAGE)
    violations = axe_violations(page)
    assert {v["id"] for v in violations} == {"image-alt", "label"}, format_violations(violations)
    assert [len(v["nodes"]) for v in violations] == [1, 1]
    message = format_violations(violations)
    assert "image-alt" in message
    assert 'input type="text" name="pain"' in message


def test_axe_skips_excluded_elements(page: Page) -> None:
    page.set_content(BROKEN_PAGE)
    assert [v["id"] for v in axe_violations(page, exclude=["img"])] == ["label"]


@pytest.mark.parametrize("language", ["en", "da", "nb"])
def test_the_not_found_page_has_no_accessibility_violations(
    page: Page, base_url: str, browser_errors: list[str], language: str
) -> None:
    page.context.add_cookies([{"name": "lang", "value": language, "url": base_url}])
    response = page.goto("/lang/xx")
    assert response is not None
    assert response.status == 404
    assert page.locator("html").get_attribute("lang") == language
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)
    # The vendored scripts load and run under the page's Content-Security-Policy, without errors.
    # goto() waits for the load event, after deferred scripts have run. (Not wait_for_function: its polling
    # evaluates a string, which the policy refuses.)
    # The SSE extension, once registered, provides htmx.createEventSource.
    assert page.evaluate("[htmx.version.slice(0, 4), typeof htmx.createEventSource]") == ["2.0.", "function"]
    assert browser_errors == []
