"""The clinician's Patients and Patient pages in Debian's chromium, on the demo clinic.

The demo clinic is seeded as ``dosis demo`` seeds it (last week's advice left to decide), then
Lars Holm answers a red-flag question this morning, which the page must react to.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from axe import axe_violations, format_violations
from browser import (  # noqa: F401 - fixtures
    browser,
    browser_type_launch_args,
    screenshot,
    serve,
    wait_until,
)
from fastapi.testclient import TestClient
from helpers import open_browser_session, sign_in
from playwright.sync_api import Page, Playwright, sync_playwright
from sqlalchemy import select

from dashboard import create_app
from monitor.demo import DEMO_CLINICIAN, seed_demo_clinic
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store
from monitor.store.clinical import save_morning_report, week_start
from monitor.tolerance import MorningReport

HISTORY_WEEKS = 11
"""With this week, the 12 weeks the patient page's chart shows."""
LARS, SOFIE, INGRID = "p-8c04d9", "p-b61e5c", "p-3f7a21"
LIGHT_WORDS = {"red": "Needs action", "amber": "Check", "unknown": "Reports missing", "green": "On track"}
LIGHT_ORDER = ["red", "amber", "unknown", "green", "none"]
SRPE_STROKE_RGB = (15, 118, 110)  # #0f766e in static/patient.js
PAIN_DURING_RGB = (185, 28, 28)  # #b91c1c


@dataclass(frozen=True)
class Demo:
    store: Store
    settings: Settings
    clinician_id: int
    url: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo")
    store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}")
    today = datetime.now(store.tz).date()
    asyncio.run(seed_demo_clinic(store, today=today, weeks=HISTORY_WEEKS))
    with store.session() as db:
        patients = {p.pseudonym: p.id for p in db.scalars(select(Patient))}
        reported = min(datetime.now(store.tz), datetime.combine(today, datetime.min.time(), tzinfo=store.tz))
        save_morning_report(
            db, patients[LARS], MorningReport(today, reported, pain=3, stiffness=3, red_flags=frozenset({"dizziness"}))
        )
        db.commit()
        clinician_id = db.scalars(select(Clinician.id).where(Clinician.email == DEMO_CLINICIAN.email)).one()
    # Plain HTTP on loopback: the cookie without the __Host- prefix, which needs a Secure cookie.
    settings = Settings(data_dir=folder, cookie_secure=False)
    with serve(create_app(store, settings=settings)) as url:
        yield Demo(store, settings, clinician_id, url)
    store.close()


# Started after the demo is seeded: seeding runs asyncio.run(), which fails once Playwright's loop is running.
@pytest.fixture(scope="module")
def playwright(demo: Demo) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def base_url(demo: Demo) -> str:
    return demo.url


@pytest.fixture
def signed_in(page: Page, demo: Demo) -> Page:
    session = open_browser_session(demo.store, demo.settings, clinician_id=demo.clinician_id)
    page.context.add_cookies([{"name": session.cookie_name, "value": session.token, "url": demo.url}])
    return page


@pytest.fixture
def api(demo: Demo) -> Iterator[TestClient]:
    """The JSON API as the same clinician, for what the pages should show."""
    with TestClient(create_app(demo.store, settings=demo.settings)) as client:
        sign_in(client, clinician_id=demo.clinician_id)
        yield client


COLOUR_PIXELS_JS = """([r, g, b]) => {
    const canvas = document.querySelector('#patient-chart canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        const close = Math.abs(pixels[i] - r) < 24 && Math.abs(pixels[i + 1] - g) < 24
            && Math.abs(pixels[i + 2] - b) < 24;
        if (close && pixels[i + 3] > 200) count++;
    }
    return count;
}"""


def test_the_patient_list_is_sorted_by_need(signed_in: Page, api: TestClient, browser_errors: list[str]) -> None:
    page = signed_in
    page.goto("/")
    rows = page.locator("#overview tbody tr")
    order = [rows.nth(i).get_attribute("data-pseudonym") for i in range(rows.count())]
    expected = api.get("/api/overview").json()
    assert order == [row["pseudonym"] for row in expected]
    assert order[0] == LARS
    lights = [row["light"] for row in expected]
    assert lights[0] == "red"
    assert [LIGHT_ORDER.index(light) for light in lights] == sorted(LIGHT_ORDER.index(light) for light in lights)
    # Within a light, advice awaiting a decision comes first.
    for before, after in itertools.pairwise(expected):
        if before["light"] == after["light"]:
            assert before["awaiting_decision"] is not None or after["awaiting_decision"] is None
    assert expected[0]["awaiting_decision"] is not None  # the demo leaves last week's advice to decide
    lars = page.locator(f'tr[data-pseudonym="{LARS}"]')
    assert lars.locator(".light").inner_text() == "Needs action"
    assert "Red-flag answer on" in lars.locator(".reason").inner_text()
    assert "dizziness. Refer to a doctor before training on." in lars.locator(".reason").inner_text()
    for row in expected:
        shown = page.locator(f'tr[data-pseudonym="{row["pseudonym"]}"]')
        assert shown.locator(".light").inner_text() == LIGHT_WORDS[row["light"]]
        assert shown.locator(".reason").inner_text() == row["reasons"][0]["text"]
    assert "awaits your decision" in page.locator(f'tr[data-pseudonym="{SOFIE}"] .awaiting').inner_text()
    screenshot(page, "patients.png")
    # Sorting is a link: by name, Ingrid, Lars, Sofie.
    page.get_by_role("link", name="Patient", exact=True).click()
    page.wait_for_url("**/?sort=name&filter=all")
    assert [rows.nth(i).get_attribute("data-pseudonym") for i in range(rows.count())] == [INGRID, LARS, SOFIE]
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)
    assert browser_errors == []


def test_a_patients_12_weeks_are_drawn_with_data(signed_in: Page, api: TestClient, browser_errors: list[str]) -> None:
    page = signed_in
    days = api.get(f"/api/patients/{INGRID}/days").json()
    page.goto(f"/patients/{INGRID}")
    page.wait_for_selector("#patient-chart canvas")
    wait_until(page, "window.dosisPatientChart !== undefined")
    lengths = page.evaluate("window.dosisPatientChart.data.map(series => series.length)")
    assert lengths == [len(days["days"])] * 8
    assert 78 <= len(days["days"]) <= 84  # 11 whole weeks and this one so far
    sessions = sum(days["sessions"])
    assert sessions >= 3 * HISTORY_WEEKS  # three walks a week
    pain_points = page.evaluate("window.dosisPatientChart.data[5].filter(v => v !== null).length")
    assert pain_points == len([v for v in days["pain_during"] if v is not None]) > 0
    assert page.evaluate(COLOUR_PIXELS_JS, list(SRPE_STROKE_RGB)) > 100  # the load bars
    assert page.evaluate(COLOUR_PIXELS_JS, list(PAIN_DURING_RGB)) > 100  # the pain points
    assert page.locator("#patient-chart-status").inner_text() == f"{len(days['days'])} days, {sessions} sessions."
    chart = page.get_by_role("img", name="Session load")
    assert f"{sessions} sessions" in (chart.get_attribute("aria-label") or "")
    screenshot(page, "patient.png")
    page.get_by_text("Show as table").click()
    assert page.locator("#patient-chart-table tbody tr").count() == len(days["days"])
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)
    assert browser_errors == []


def test_confirming_an_advice_records_and_shows_it(
    signed_in: Page, api: TestClient, demo: Demo, browser_errors: list[str]
) -> None:
    page = signed_in
    page.goto(f"/patients/{SOFIE}")
    advice = page.locator("#advice-text").inner_text()
    assert advice
    page.get_by_label("Note (optional)").fill("Agreed at the visit.")
    page.get_by_role("button", name="Confirm the advice").click()
    page.wait_for_url(f"**/patients/{SOFIE}#advice")
    assert page.locator("#advice-text").count() == 0
    decided = page.locator("#last-decision").inner_text()
    assert "Confirmed by Demo Physiotherapist" in decided
    assert "Agreed at the visit." in decided
    last_monday = week_start(datetime.now(demo.store.tz).date()) - timedelta(weeks=1)
    weeks = api.get(f"/api/patients/{SOFIE}/weeks").json()
    decision = next(w for w in weeks if w["start"] == last_monday.isoformat())["decision"]
    assert (decision["decision"], decision["decided_by"], decision["note"]) == (
        "confirmed",
        "Demo Physiotherapist",
        "Agreed at the visit.",
    )
    assert next(r for r in api.get("/api/overview").json() if r["pseudonym"] == SOFIE)["awaiting_decision"] is None
    assert browser_errors == []
