"""The session page in Debian's chromium: sign-in through the real form, the charts, zoom into raw signals, axe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from axe import axe_violations, format_violations
from browser import browser, browser_type_launch_args, playwright, screenshot, serve, wait_until  # noqa: F401 - fixtures
from playwright.sync_api import Page

from dashboard import create_app
from monitor.analysis import heart_rate_summary, resample_hr_1hz
from monitor.settings import Settings
from monitor.store import Patient, SessionEvent, Store, TrainingSession
from monitor.store.accounts import create_clinician
from monitor.store.clinical import add_prescription, write_session_load
from monitor.store.models import ClinicalProfile
from monitor.tolerance import Prescription

EMAIL = "physio@example.invalid"
PASSWORD = "a long password for the browser test"
NS_PER_S = 1_000_000_000
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START_S = int(START.timestamp())
WALK_SECONDS = 600
DROPOUT_S = range(300, 320)
CEILING_BPM = 112.0
HR_STROKE_RGB = (15, 118, 110)  # #0f766e in static/session.js
CEILING_RGB = (185, 28, 28)  # #b91c1c


@dataclass(frozen=True)
class Server:
    url: str
    store: Store
    walk_id: int
    live_id: int


def walk_hr_bpm(second: int) -> int:
    """A warm-up, a steady walk with a stretch above the ceiling, and a cool-down."""
    if second < 120:
        return 80 + second // 4
    if second < 480:
        return 110 + (second // 20) % 5
    return 112 - (second - 480) // 6


def fill_store(store: Store) -> tuple[int, int]:
    with store.session() as db:
        physio = create_clinician(db, email=EMAIL, display_name="Physio One", password=PASSWORD)
        astrid = Patient(pseudonym="pt-0001", display_name="Astrid Berg", clinician=physio)
        bjorn = Patient(pseudonym="pt-0002", display_name="Bjørn Ås", clinician=physio)
        walk = TrainingSession(
            patient=astrid,
            kind="walking",
            status="complete",
            started_at=START,
            ended_at=START + timedelta(seconds=WALK_SECONDS),
            duration_s=float(WALK_SECONDS),
            devices="Polar H10 A1B2C3D4",
            source="test",
            malformed_count=1,
            events=[SessionEvent(kind="malformed", message="PMD frame type 9 is not supported", t_ns=None)],
        )
        live = TrainingSession(patient=bjorn, kind="walking", status="live", started_at=START)
        db.add_all([astrid, bjorn, walk, live])
        db.flush()
        db.add(ClinicalProfile(patient_id=astrid.id, hr_rest_bpm=60, hr_max_bpm=170, updated_at=START))
        prescription = Prescription(
            sessions_per_week=3,
            kinds=("walking",),
            volume_per_session=10,
            volume_unit="minutes",
            volume_goal=30,
            hr_ceiling_bpm=CEILING_BPM,
        )
        add_prescription(db, astrid.id, prescription, valid_from=date(2026, 1, 1), clinician_id=physio.id)
        db.commit()
        walk_id, live_id = walk.id, live.id
    seconds = [s for s in range(WALK_SECONDS) if s not in DROPOUT_S]
    store.signals.append(
        walk_id,
        "hr_bpm",
        "H10",
        [(START_S + s) * NS_PER_S + NS_PER_S // 4 for s in seconds],
        [[walk_hr_bpm(s), 1] for s in seconds],
    )
    hr = store.signals.read(walk_id, "hr_bpm")
    t_s, hr_bpm, contact = hr.t_ns / 1e9, hr.values[:, 0], hr.values[:, 1]
    summary = heart_rate_summary(t_s=t_s, hr_bpm=hr_bpm, sensor_contact=contact)
    with store.session() as db:
        row = db.get_one(TrainingSession, walk_id)
        row.hr_mean_bpm, row.hr_max_bpm, row.hr_coverage = summary.mean_bpm, summary.max_bpm, summary.coverage
        write_session_load(db, row, resample_hr_1hz(t_s=t_s, hr_bpm=hr_bpm, sensor_contact=contact)[1], tz=store.tz)
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
    folder = tmp_path_factory.mktemp("session-browser")
    store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}", tz=UTC)
    walk_id, live_id = fill_store(store)
    # Plain HTTP on loopback: the cookie without the __Host- prefix, which needs a Secure cookie.
    with serve(create_app(store, settings=Settings(data_dir=folder, cookie_secure=False))) as url:
        yield Server(url, store, walk_id, live_id)
    store.close()


@pytest.fixture(scope="module")
def base_url(server: Server) -> str:
    return server.url


@pytest.fixture(scope="module")
def browser_context_args(base_url: str) -> dict[str, Any]:
    return {"base_url": base_url, "viewport": {"width": 1200, "height": 900}}


@pytest.fixture
def signed_in(page: Page) -> Page:
    """Signed in the way a clinician does: the session page sends them to the form and back."""
    page.goto("/sessions/1")
    page.wait_for_url("**/login?next=/sessions/1")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sessions/1")
    return page


STROKE_PIXELS_JS = """([selector, [r, g, b]]) => {
    const canvas = document.querySelector(selector + ' canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        const close = Math.abs(pixels[i] - r) < 24 && Math.abs(pixels[i + 1] - g) < 24
            && Math.abs(pixels[i + 2] - b) < 24;
        if (close && pixels[i + 3] > 200) count++;
    }
    return count;
}"""


def test_a_clinician_signs_in_and_sees_the_heart_rate_with_zones_and_ceiling(
    signed_in: Page, server: Server, browser_errors: list[str]
) -> None:
    page = signed_in
    wait_until(page, "window.dosisChart && window.dosisChart.data[0].length > 0")
    assert page.evaluate("window.dosisChart.data[0].length") == WALK_SECONDS
    # The strap's 20 s dropout: the last reading is held 3 s, then 17 s without a value.
    assert page.evaluate("window.dosisChart.data[1].filter(v => v === null).length") == 17
    assert page.evaluate(STROKE_PIXELS_JS, ["#hr-chart", list(HR_STROKE_RGB)]) > 500
    assert page.evaluate(STROKE_PIXELS_JS, ["#hr-chart", list(CEILING_RGB)]) > 300  # the ceiling line
    assert page.locator("#hr-chart-status").inner_text() == "600 seconds, 583 of them with a valid heart rate."
    zones = page.get_by_role("table", name="Time in heart-rate zones")
    assert zones.get_by_role("row").count() == 6
    gaps = page.locator("#quality-heading ~ table tbody tr")
    assert gaps.count() == 1
    assert gaps.first.inner_text().split() == ["09:05:03", "00:17"]
    screenshot(page, "session.png")
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)
    assert browser_errors == []


def test_zooming_into_the_heart_rate_loads_the_raw_signal_of_that_range(
    signed_in: Page, server: Server, browser_errors: list[str]
) -> None:
    page = signed_in
    wait_until(page, "window.dosisRawChart && window.dosisRawChart.data[0].length > 0")
    whole = page.evaluate("window.dosisRawChart.data[0].length")
    box = page.locator("#hr-chart .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
    page.mouse.up()
    wait_until(page, f"window.dosisRawChart.data[0].length < {whole}")
    shown_s = page.evaluate("[window.dosisRawChart.data[0][0], window.dosisRawChart.data[0].at(-1)]")
    # 5 % of a 600 s chart: about 30 s, around 40 % of the way in.
    assert 20 <= shown_s[1] - shown_s[0] <= 40
    assert START_S + 200 <= shown_s[0] <= START_S + 260
    # Zoomed in, each notification is its own bucket: min and max are the reading itself.
    values = page.evaluate("[window.dosisRawChart.data[1], window.dosisRawChart.data[2]]")
    assert values[0] == values[1]
    assert page.locator("#raw-status").inner_text().startswith("Showing 09:0")
    assert browser_errors == []


def test_a_live_sessions_chart_follows_new_data(page: Page, server: Server, browser_errors: list[str]) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/sessions/{server.live_id}")
    wait_until(page, "window.dosisChart && window.dosisChart.data[0].length === 10")
    assert page.locator("#hr-latest").inner_text() == "99 bpm"
    append_live_hr(server.store, server.live_id, range(10, 15))
    wait_until(page, "window.dosisChart.data[0].length === 15", timeout_s=6)
    assert page.locator("#hr-latest").inner_text() == "104 bpm"
    assert browser_errors == []
