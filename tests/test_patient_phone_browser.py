"""The patient's pages on a phone in Debian's chromium: 375 × 667, touch, JavaScript off.

The patient signs in with the code from their physiotherapist, reports on a session and a
morning by tapping, and the answers are in the database. The same pages are checked with
axe-core in a second context with JavaScript on (axe is a script), under the page's own policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axe import axe_violations, format_violations
from browser import browser, browser_type_launch_args, playwright, screenshot, serve  # noqa: F401 - fixtures
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from dashboard import create_app
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.accounts import issue_sign_in_code
from monitor.store.clinical import add_prescription, save_session_report, week_start
from monitor.store.models import MorningReportRow, SessionReportRow
from monitor.tolerance import Prescription, SessionReport

PHONE: dict[str, Any] = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}
MIN_TARGET_PX = 44
"""WCAG 2.5.5's target size, which the answers meet on a phone (2.5.8's AA minimum is 24 px)."""
AFTER_QUESTION = "How much pain did you have after the session?"
EFFORT_QUESTION = "How hard was the session, all in all?"


@dataclass(frozen=True)
class Clinic:
    store: Store
    url: str
    code: str
    patient_id: int
    session_id: int


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    """A patient with eight weeks of reported walks, and one this morning still to report on."""
    folder = tmp_path_factory.mktemp("phone")
    store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}")
    now = datetime.now(UTC)
    monday = week_start(datetime.now(store.tz).date())
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Physio One")
        patient = Patient(pseudonym="p-phone1", display_name="Ingrid Dahl", clinician=physio)
        db.add_all([physio, patient])
        db.flush()
        prescription = Prescription(
            sessions_per_week=3, kinds=("walking",), volume_per_session=20, volume_unit="minutes", volume_goal=40
        )
        add_prescription(db, patient.id, prescription, valid_from=monday - timedelta(weeks=8), clinician_id=physio.id)
        for weeks_ago in range(1, 9):
            for day, pain in ((0, 4 - weeks_ago % 3), (2, 3), (4, 2)):
                started = datetime.combine(monday - timedelta(weeks=weeks_ago, days=-day), datetime.min.time(), UTC)
                past = TrainingSession(
                    patient=patient,
                    kind="walking",
                    status="complete",
                    started_at=started.replace(hour=9),
                    ended_at=started.replace(hour=9, minute=30),
                    duration_s=1800.0,
                )
                db.add(past)
                db.flush()
                save_session_report(db, past.id, SessionReport(now, pain_before=1, pain_after=pain, effort_cr10=3))
        session = TrainingSession(
            patient=patient,
            kind="walking",
            status="complete",
            started_at=now - timedelta(hours=1),
            ended_at=now - timedelta(minutes=30),
            duration_s=1800.0,
        )
        db.add(session)
        code = issue_sign_in_code(db, patient, by=physio, now=now)
        db.commit()
        ids = (patient.id, session.id)
    # Plain HTTP on loopback: the cookie without the __Host- prefix, which needs a Secure cookie.
    settings = Settings(data_dir=folder, cookie_secure=False)
    with serve(create_app(store, settings=settings)) as url:
        yield Clinic(store, url, code, *ids)
    store.close()


@pytest.fixture(scope="module")
def phone(browser: Browser, clinic: Clinic) -> Iterator[BrowserContext]:  # noqa: F811 - the browser fixture
    context = browser.new_context(**PHONE, base_url=clinic.url, java_script_enabled=False)
    yield context
    context.close()


@pytest.fixture(scope="module")
def signed_in(phone: BrowserContext, clinic: Clinic) -> Page:
    """The phone, signed in through the sign-in page with the patient's code."""
    page = phone.new_page()
    page.goto("/signin")
    page.get_by_role("textbox", name="Your code").fill(clinic.code.lower())
    page.get_by_role("button", name="Sign in").tap()
    page.wait_for_url("**/me")
    return page


def scrolls_sideways(page: Page) -> bool:
    # Read through the browser's protocol: the page's own scripts are off, these are Playwright's.
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width > page.viewport_size["width"] if page.viewport_size else True


def small_targets(page: Page) -> list[str]:
    """Answers smaller than a finger: each label of a radio button, as laid out now."""
    small = []
    for option in page.locator("label.option").all():
        box = option.bounding_box()
        if box is None or box["height"] < MIN_TARGET_PX or box["width"] < MIN_TARGET_PX:
            small.append(f"{option.inner_text()!r}: {box}")
    return small


def test_the_patient_reports_pain_after_a_session_by_tapping(signed_in: Page, clinic: Clinic) -> None:
    page = signed_in
    assert page.locator("h1").inner_text() == "Hello, Ingrid Dahl"
    assert page.evaluate("typeof window.htmx") == "undefined"  # the page's scripts did not run
    card = page.locator(f'[data-session-id="{clinic.session_id}"]')
    assert "Pain after" in card.locator(".parts").inner_text()
    card.get_by_role("link").tap()
    page.wait_for_url(f"**/me/sessions/{clinic.session_id}")
    assert not scrolls_sideways(page)
    assert small_targets(page) == []

    page.get_by_role("group", name=AFTER_QUESTION).get_by_label("3", exact=True).tap()
    page.get_by_role("group", name=EFFORT_QUESTION).get_by_label("5 Strong").tap()
    page.get_by_role("group", name="Have you had a fever?").get_by_label("No").tap()
    page.get_by_role("region", name="After the session").get_by_role("button", name="Save").tap()
    page.wait_for_url(f"**/me/sessions/{clinic.session_id}?saved=yes")

    assert page.get_by_role("status").inner_text() == "Thank you. Your answers are saved."
    assert page.get_by_role("group", name=AFTER_QUESTION).get_by_label("3", exact=True).is_checked()
    with clinic.store.session() as db:
        row = db.get(SessionReportRow, clinic.session_id)
        assert row is not None
        assert (row.pain_before, row.pain_during, row.pain_after, row.effort_cr10) == (None, None, 3.0, 5.0)
        assert row.red_flags == []
    screenshot(page, "patient_phone.png")

    page.get_by_role("link", name="My training").first.tap()
    page.wait_for_url("**/me")
    left = page.locator(f'[data-session-id="{clinic.session_id}"] .parts').inner_text()
    assert "Pain after" not in left
    assert "Pain before" in left


def test_a_red_flag_on_a_morning_asks_the_patient_to_make_contact(signed_in: Page, clinic: Clinic) -> None:
    page = signed_in
    page.goto("/me")
    page.get_by_role("link", name="Report this morning").tap()
    page.wait_for_url("**/me/mornings/*")
    assert not scrolls_sideways(page)
    assert small_targets(page) == []
    page.get_by_role("group", name="How much pain did you have when you woke up?").get_by_label("2", exact=True).tap()
    page.get_by_role("group", name="Have you felt dizzy?").get_by_label("Yes").tap()
    page.get_by_role("region", name="Warning signs").get_by_role("button", name="Save").tap()
    page.wait_for_url("**/me/mornings/*?saved=yes")
    alert = page.get_by_role("alert")
    assert "Contact your physiotherapist or doctor before you train again." in alert.inner_text()
    assert "dizziness" in alert.inner_text()
    with clinic.store.session() as db:
        row = db.scalars(select(MorningReportRow).where(MorningReportRow.patient_id == clinic.patient_id)).one()
        assert (row.pain, row.stiffness, row.red_flags) == (2.0, None, ["dizziness"])
    page.goto("/me")
    assert "dizziness" in page.get_by_role("alert").inner_text()


def test_the_start_page_fits_the_phone_with_a_chart_and_its_table(signed_in: Page) -> None:
    page = signed_in
    page.goto("/me")
    assert not scrolls_sideways(page)
    chart = page.get_by_role("img", name="Sessions per week for the last 12 weeks", exact=False)
    assert "25 sessions in all." in (chart.get_attribute("aria-label") or "")  # 8 weeks × 3, and this morning's
    assert chart.bounding_box() is not None
    page.get_by_text("Show as table").tap()
    assert page.locator("#progress-table tbody tr").count() == 12
    assert not scrolls_sideways(page)


@pytest.mark.parametrize("path", ["/me", "/me/sessions/{session_id}", "/me/morning"])
def test_the_pages_have_no_accessibility_violations(
    browser: Browser,  # noqa: F811 - the browser fixture
    phone: BrowserContext,
    signed_in: Page,
    clinic: Clinic,
    path: str,
) -> None:
    # axe-core is a script: it runs in a context of its own with JavaScript on, signed in as the phone is.
    with_scripts = browser.new_context(**PHONE, base_url=clinic.url)
    try:
        with_scripts.add_cookies([{"name": c["name"], "value": c["value"], "url": clinic.url} for c in phone.cookies()])
        page = with_scripts.new_page()
        page.goto(path.format(session_id=clinic.session_id))
        assert page.url.rstrip("/") != f"{clinic.url}/signin"
        assert page.evaluate("1 + 1") == 2
        violations = axe_violations(page)
        assert violations == [], format_violations(violations)
        # That axe really ran here: on a page with an unlabelled field it finds the fault.
        page.set_content('<!doctype html><html lang="en"><title>t</title><main><input type="text"></main></html>')
        assert "label" in {v["id"] for v in axe_violations(page)}
    finally:
        with_scripts.close()
