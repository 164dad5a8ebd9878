"""The live group view in Debian's chromium, following virtual Polar H10s recorded live beside the server.

Three patients train at once, each wearing a virtual H10 replaying a bundled capture in real
time: two of this clinician's (a walk with a heart-rate ceiling set low, and a strength
session) and another clinician's. The page must show this clinician's two, each heart rate
within a second of the strap's notification (the issue's acceptance criterion), an alert in
words when the ceiling is exceeded or the strap goes quiet, and remove a card when its
session ends; the other clinician's patient never reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from axe import axe_violations, format_violations
from browser import (  # noqa: F401 - fixtures
    browser,
    browser_type_launch_args,
    playwright,
    screenshot,
    serve,
    wait_until,
)
from helpers import open_browser_session
from live_recording import WATCH_HEART_RATES_JS, LiveRecording, Wearer, latencies_ms
from playwright.sync_api import Page, expect

from dashboard import create_app
from drivers.devices import ReconnectPolicy
from monitor.livefeed import AlertLimits, LiveFeed
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store
from monitor.store.clinical import add_prescription
from monitor.store.models import ClinicalProfile
from monitor.tolerance import Prescription

RECORD_S = 30.0
"""Long enough to see the alerts come and go and a dozen heart rates arrive."""
CEILING_BPM = 60.0
"""Below the walking capture's heart rate throughout, so the ceiling alert must come."""
ALERTS = AlertLimits(ceiling_after_s=3.0, no_data_after_s=2.0)
"""Shorter than in the clinic, so the test sees both alerts within one session."""
MAX_LATENCY_MS = 1000.0
"""From the strap's notification to the value on the page (issue 7: "within 1 s of the notification")."""
MIN_UPDATES = 10
QUIET_S = 60.0
"""How long a strap may stay connected but silent before its driver reconnects: longer than the test's silence,
so the page shows it as no data (the watchdog itself is tests/test_devices.py's)."""
WAIT_MS = 10_000


@dataclass(frozen=True)
class Gym:
    store: Store
    feed: LiveFeed
    settings: Settings
    url: str
    clinician_id: int
    walker: int
    lifter: int
    other_clinicians: int


@pytest.fixture(scope="module")
def gym(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gym]:
    folder = tmp_path_factory.mktemp("live")
    store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Pia Physio")
        colleague = Clinician(email="colleague@example.invalid", display_name="Carl Colleague")
        walker = Patient(pseudonym="p-walk01", display_name="Wanda Walker", clinician=physio)
        lifter = Patient(pseudonym="p-lift01", display_name="Liv Lifter", clinician=physio)
        other = Patient(pseudonym="p-other1", display_name="Olaf Other", clinician=colleague)
        db.add_all([physio, colleague, walker, lifter, other])
        db.flush()
        db.add(ClinicalProfile(patient_id=walker.id, hr_rest_bpm=55, hr_max_bpm=175, updated_at=datetime.now(UTC)))
        add_prescription(
            db,
            walker.id,
            Prescription(
                sessions_per_week=3,
                kinds=("walking",),
                volume_per_session=20,
                volume_unit="minutes",
                volume_goal=30,
                hr_ceiling_bpm=CEILING_BPM,
            ),
            valid_from=date(2020, 1, 6),
            clinician_id=physio.id,
        )
        db.commit()
        ids = physio.id, walker.id, lifter.id, other.id
    feed = LiveFeed(alert_limits=ALERTS)
    # Plain HTTP on loopback: the cookie without the __Host- prefix, which needs a Secure cookie.
    settings = Settings(data_dir=folder, cookie_secure=False)
    with serve(create_app(store, settings=settings, live_feed=feed)) as url:
        yield Gym(store, feed, settings, url, *ids)
    store.close()


@pytest.fixture(scope="module")
def base_url(gym: Gym) -> str:
    return gym.url


@pytest.fixture
def signed_in(page: Page, gym: Gym) -> Page:
    session = open_browser_session(gym.store, gym.settings, clinician_id=gym.clinician_id)
    page.context.add_cookies([{"name": session.cookie_name, "value": session.token, "url": gym.url}])
    return page


def test_the_live_view_follows_virtual_straps_within_a_second(
    signed_in: Page, gym: Gym, browser_errors: list[str]
) -> None:
    page = signed_in
    wearers = [Wearer(gym.walker, "walking"), Wearer(gym.lifter, "strength"), Wearer(gym.other_clinicians, "walking")]
    policy = ReconnectPolicy(silence_timeout_s=QUIET_S)
    with LiveRecording(gym.store, gym.feed, wearers, duration_s=RECORD_S, policy=policy) as recording:
        sessions = {status.info.patient_id: status.info.session_id for status in gym.feed.snapshot()}
        walk, lift = sessions[gym.walker], sessions[gym.lifter]
        page.goto("/live")
        assert page.locator(".live-card").count() == 2  # rendered by the server: the page reads without JavaScript
        expect(page.locator("#live-connection")).to_have_text("Live: updated every second.")
        page.evaluate(WATCH_HEART_RATES_JS)  # from now on: what the page showed already is not an update
        walker_card, lifter_card = page.locator(f"#live-session-{walk}"), page.locator(f"#live-session-{lift}")
        expect(walker_card.get_by_role("heading")).to_contain_text("Wanda Walker")
        expect(lifter_card.locator('[data-field="activity-label"]')).to_have_text("Repetitions, latest set")

        # The walker's heart rate stays above her ceiling: an alert in words, not colour alone.
        alert = walker_card.get_by_role("alert")
        expect(alert).to_contain_text("Heart rate above the ceiling of 60 bpm for more than 3 seconds", timeout=WAIT_MS)
        expect(walker_card).to_have_class("live-card live-card-alert")
        expect(lifter_card.get_by_role("alert")).to_have_text("")
        expect(walker_card.locator('[data-field="zone"]')).not_to_have_text("—")
        screenshot(page, "live.png")
        violations = axe_violations(page)
        assert violations == [], format_violations(violations)

        # The strap goes quiet (still connected): "no data" after the limit, gone when data comes again.
        walker_strap = wearers[0].strap
        assert walker_strap is not None
        recording.call(walker_strap.go_silent)
        expect(alert).to_contain_text("No data from the sensor for more than 2 seconds", timeout=WAIT_MS)
        recording.call(walker_strap.resume)
        expect(alert).not_to_contain_text("No data", timeout=WAIT_MS)

        wait_until(
            page,
            f"new Set(window.dosisHeartRates.filter(r => r.session_id === {walk} && r.hr_at).map(r => r.hr_at)).size"
            f" >= {MIN_UPDATES}",
            timeout_s=RECORD_S,
        )
        records = page.evaluate("window.dosisHeartRates")
        sent = {walk: list(walker_strap.sent)}
        seen = latencies_ms(records, sent)
        assert len(seen) >= MIN_UPDATES
        for update in seen:
            assert update.text == f"{update.bpm} bpm"  # paired with the notification that carried it
            assert update.latency_ms < MAX_LATENCY_MS, update
        assert {r["session_id"] for r in records} <= {walk, lift}

        # Each session ends: its card goes, and the page says nobody is training.
        recording.wait_ended(RECORD_S + 10)
        expect(page.locator(".live-card")).to_have_count(0, timeout=WAIT_MS)
        expect(page.locator("#live-empty")).to_be_visible()
    content = page.content()
    assert "Olaf Other" not in content
    assert "p-other1" not in content
    assert browser_errors == []
