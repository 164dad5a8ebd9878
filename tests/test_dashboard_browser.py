"""The dashboard in a real browser: Debian chromium, driven by pytest-playwright, against uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from helpers import skip_or_fail
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from dashboard import create_app
from monitor.analysis import heart_rate_summary
from monitor.store import Patient, SessionEvent, Store, TrainingSession

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS_DIR = Path(__file__).parent / "artifacts"
NS_PER_S = 1_000_000_000
START_S = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp())
WALK_SECONDS = 600
CHART_STROKE_RGB = (15, 118, 110)  # #0f766e in static/app.js


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing; install it with: apt-get install -y chromium")
    # Playwright's own browser download is not used: Debian's chromium is.
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}


# pytest-playwright keeps one Playwright for the whole session, and its event loop stays
# registered as running, so later tests that call asyncio.run() fail
# (microsoft/playwright-pytest#167). Scoped to this module, it is released when these
# tests end; pytest-playwright's context, page and artifact fixtures still apply.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def browser_context_args(base_url: str) -> dict[str, Any]:
    return {"base_url": base_url}


@dataclass(frozen=True)
class Server:
    url: str
    store: Store
    walk_id: int
    live_id: int


def walk_hr_bpm(second: int) -> int:
    """A warm-up, a steady walk and a cool-down, so the chart has a shape to look at."""
    if second < 120:
        return 80 + second // 4
    if second < 480:
        return 110 + (second // 20) % 5
    return 112 - (second - 480) // 6


def fill_store(store: Store) -> tuple[int, int]:
    started_at = datetime.fromtimestamp(START_S, tz=UTC)
    with store.session() as db:
        astrid = Patient(pseudonym="pt-0001", display_name="Astrid Berg")
        bjorn = Patient(pseudonym="pt-0002", display_name="Bjørn Ås")
        carla = Patient(pseudonym="pt-0003", display_name="Carla Nunes")
        strength = TrainingSession(
            patient=astrid,
            kind="strength",
            status="interrupted",
            started_at=started_at - timedelta(days=3),
            ended_at=started_at - timedelta(days=3) + timedelta(seconds=1234),
            duration_s=1234.0,
            hr_mean_bpm=96.4,
            hr_max_bpm=121.0,
            hr_coverage=0.93,
            malformed_count=1,
            events=[SessionEvent(kind="malformed", message="Heart Rate Measurement of 1 byte", t_ns=None)],
        )
        walk = TrainingSession(
            patient=astrid,
            kind="walking",
            status="complete",
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=WALK_SECONDS),
            duration_s=float(WALK_SECONDS),
            devices="Polar H10 A1B2C3D4",
            source="test",
            malformed_count=2,
            events=[
                SessionEvent(
                    kind="malformed", message="PMD frame type 9 is not supported", t_ns=(START_S + 47) * NS_PER_S
                ),
                SessionEvent(
                    kind="malformed", message="Heart Rate Measurement of 1 byte", t_ns=(START_S + 301) * NS_PER_S
                ),
            ],
        )
        live = TrainingSession(patient=bjorn, kind="walking", status="live", started_at=started_at)
        db.add_all([astrid, bjorn, carla, strength, walk, live])
        db.commit()
        walk_id, live_id = walk.id, live.id
    # A 20 s strap dropout in the middle: the last reading is held 3 s, then a 17 s gap.
    seconds = [s for s in range(WALK_SECONDS) if not 300 <= s < 320]
    store.signals.append(
        walk_id,
        "hr_bpm",
        "H10",
        [(START_S + s) * NS_PER_S + NS_PER_S // 4 for s in seconds],
        [[walk_hr_bpm(s), 1] for s in seconds],
    )
    hr = store.signals.read(walk_id, "hr_bpm")
    summary = heart_rate_summary(t_s=hr.t_ns / 1e9, hr_bpm=hr.values[:, 0], sensor_contact=hr.values[:, 1])
    with store.session() as db:
        row = db.get_one(TrainingSession, walk_id)
        row.hr_mean_bpm, row.hr_max_bpm, row.hr_coverage = summary.mean_bpm, summary.max_bpm, summary.coverage
        db.commit()
    append_live_hr(store, live_id, range(10))
    return walk_id, live_id


def append_live_hr(store: Store, live_id: int, seconds: range) -> None:
    store.signals.append(
        live_id,
        "hr_bpm",
        "H10",
        [(START_S + s) * NS_PER_S + NS_PER_S // 4 for s in seconds],
        [[90 + s, 1] for s in seconds],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'dosis.sqlite3'}")
    walk_id, live_id = fill_store(store)
    # ws="none": the dashboard has no websockets, and uvicorn's websockets backends warn.
    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=0, log_level="warning", ws="none")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    yield Server(f"http://127.0.0.1:{port}", store, walk_id, live_id)
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    # Also keeps pytest-playwright's fallback base_url fixture out of use: pytest 9.2
    # deprecates it (a session-scoped fixture defined as an instance method).
    return server.url


@pytest.fixture
def browser_errors(page: Page) -> list[str]:
    """Script errors and failed requests on the page; a test ends by asserting there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / name, full_page=True)


def chart_points(page: Page) -> int:
    points: int = page.evaluate("window.dosisChart.data[0].length")
    return points


STROKE_PIXELS_JS = """([r, g, b]) => {
    const canvas = document.querySelector('#hr-chart canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        const close = Math.abs(pixels[i] - r) < 24 && Math.abs(pixels[i + 1] - g) < 24
            && Math.abs(pixels[i + 2] - b) < 24;
        if (close && pixels[i + 3] > 200) count++;
    }
    return count;
}"""


def test_session_chart_draws_the_heart_rate(page: Page, server: Server, browser_errors: list[str]) -> None:
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"/sessions/{server.walk_id}")
    page.wait_for_selector("#hr-chart canvas")
    page.wait_for_function("window.dosisChart && window.dosisChart.data[0].length > 0")
    assert chart_points(page) == WALK_SECONDS
    assert page.evaluate("window.dosisChart.data[1].filter(v => v === null).length") == 17
    # The line itself is on the canvas, not just the axes: count pixels of its colour.
    assert page.evaluate(STROKE_PIXELS_JS, list(CHART_STROKE_RGB)) > 500
    assert page.locator("#hr-chart-status").inner_text() == "600 seconds, 583 of them with a valid heart rate."
    assert page.get_by_role("img", name="Heart rate").count() == 1
    screenshot(page, "session.png")
    page.get_by_text("Show heart rate as a table").click()
    assert page.locator("#hr-table tbody tr").count() == WALK_SECONDS
    assert page.locator("#hr-table tbody tr").nth(1).inner_text().split() == ["09:00:01", "80", "bpm"]
    assert browser_errors == []


def test_live_session_chart_follows_new_data(page: Page, server: Server, browser_errors: list[str]) -> None:
    page.goto(f"/sessions/{server.live_id}")
    page.wait_for_function("window.dosisChart && window.dosisChart.data[0].length === 10")
    assert page.locator("#hr-latest").inner_text() == "99 bpm"
    append_live_hr(server.store, server.live_id, range(10, 15))
    page.wait_for_function("window.dosisChart.data[0].length === 15", timeout=6000)
    assert page.locator("#hr-latest").inner_text() == "104 bpm"
    screenshot(page, "session-live.png")
    assert browser_errors == []


def test_overview_and_patient_pages(page: Page, server: Server, browser_errors: list[str]) -> None:
    page.set_viewport_size({"width": 1200, "height": 700})
    page.goto("/")
    assert page.locator("main tbody tr").count() == 3
    assert page.get_by_role("complementary", name="Warning about this build").is_visible()
    screenshot(page, "patients.png")
    page.get_by_role("link", name="Astrid Berg").click()
    page.wait_for_url("/patients/pt-0001")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Astrid Berg")
    assert page.locator("main tbody tr").first.inner_text().split("\t")[2] == "10:00"
    screenshot(page, "patient.png")
    assert browser_errors == []
