"""The dashboard's JSON API and pages over a real SQLite store with known sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import sign_in

from dashboard import create_app
from drivers.readings import HeartRateReading
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.session import SessionRecorder
from monitor.settings import Settings
from monitor.sinks import PatientInStore, StoreSink
from monitor.store import Clinician, Patient, Store, TrainingSession

NS_PER_S = 1_000_000_000
WALK_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALK_START_S = int(WALK_START.timestamp())
STRENGTH_START = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
LIVE_START_S = int(datetime(2026, 3, 6, 8, 0, tzinfo=UTC).timestamp())
GAP_SECONDS = range(30, 40)
NO_CONTACT_SECOND = 5
READING_OFFSET_S = 0.25  # notifications arrive at any host time, not on whole seconds


def dashboard_app(store: Store) -> FastAPI:
    return create_app(store, settings=Settings(data_dir=Path("/nonexistent")))


def expected_walk_hr_bpm() -> list[float | None]:
    """The 1 Hz series of the walk: a ramp of 100 + k bpm read at k + 0.25 s.

    Second k shows the latest valid reading before k + 1, if that is at most 3 s older
    than k, else None (a gap). The no-contact reading is dropped, so the one before it
    is held instead.
    """
    last_before_gap_s = GAP_SECONDS.start - 1 + READING_OFFSET_S
    series: list[float | None] = []
    for k in range(60):
        if k == NO_CONTACT_SECOND:
            series.append(100.0 + k - 1)
        elif k in GAP_SECONDS:
            series.append(100.0 + GAP_SECONDS.start - 1 if k - last_before_gap_s <= 3 else None)
        else:
            series.append(100.0 + k)
    return series


def reading_t_ns(start_s: int, k: int) -> int:
    return start_s * NS_PER_S + k * NS_PER_S + round(READING_OFFSET_S * NS_PER_S)


@dataclass(frozen=True)
class Clinic:
    store: Store
    physio_id: int
    walk_id: int
    strength_id: int
    live_id: int


def record_walk(store: Store, patient_id: int) -> int:
    recorder = SessionRecorder.start(
        PatientInStore(store, patient_id),
        kind="walking",
        started_at_ns=WALK_START_S * NS_PER_S,
        source="test",
        devices="H10",
    )
    for k in range(60):
        if k in GAP_SECONDS:
            continue
        bpm = 100 + k
        recorder.consume(
            HeartRateReading("H10", reading_t_ns(WALK_START_S, k), bpm, (60_000 / bpm,), k != NO_CONTACT_SECOND)
        )
    recorder.report_problem("Heart Rate Measurement of 1 byte, needs at least 2", t_ns=(WALK_START_S + 12) * NS_PER_S)
    recorder.report_problem("PMD frame type 9 is not supported", t_ns=(WALK_START_S + 47) * NS_PER_S)
    return recorder.finish(ended_at_ns=(WALK_START_S + 60) * NS_PER_S).id


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        physio = Clinician(email="physio@example.org", display_name="Physio Test")
        astrid = Patient(pseudonym="pt-0001", display_name="Astrid Berg", clinician=physio)
        bjorn = Patient(pseudonym="pt-0002", display_name="Bjørn Ås", clinician=physio)
        carla = Patient(pseudonym="pt-0003", display_name="Carla Nunes", clinician=physio)
        strength = TrainingSession(
            patient=astrid,
            kind="strength",
            status="interrupted",
            started_at=STRENGTH_START,
            ended_at=datetime(2026, 3, 5, 14, 50, 34, tzinfo=UTC),
            duration_s=1234.0,
            hr_mean_bpm=95.0,
            hr_max_bpm=120.0,
            hr_coverage=0.9,
        )
        db.add_all([physio, astrid, bjorn, carla, strength])
        db.commit()
        physio_id, astrid_id, bjorn_id, strength_id = physio.id, astrid.id, bjorn.id, strength.id
    walk_id = record_walk(store, astrid_id)
    live_sink = StoreSink.create(store, patient_id=bjorn_id, kind="walking", started_at_ns=LIVE_START_S * NS_PER_S)
    live = SessionRecorder(live_sink, LIVE_START_S * NS_PER_S)
    live.report_problem("Heart Rate Measurement of 1 byte, needs at least 2", t_ns=(LIVE_START_S + 3) * NS_PER_S)
    store.signals.append(
        live_sink.session_id,
        "hr_bpm",
        "H10",
        [reading_t_ns(LIVE_START_S, k) for k in range(10)],
        [[90 + k, 1] for k in range(10)],
    )
    yield Clinic(store, physio_id, walk_id, strength_id, live_sink.session_id)
    store.close()


@pytest.fixture(scope="module")
def client(clinic: Clinic) -> Iterator[TestClient]:
    with TestClient(dashboard_app(clinic.store), base_url="https://testserver") as test_client:
        sign_in(test_client, clinician_id=clinic.physio_id)
        yield test_client


def test_patients_list_counts_and_last_session(client: TestClient) -> None:
    patients = client.get("/api/patients").json()
    assert [p["pseudonym"] for p in patients] == ["pt-0001", "pt-0002", "pt-0003"]
    astrid, bjorn, carla = patients
    assert astrid["display_name"] == "Astrid Berg"
    assert astrid["session_count"] == 2
    assert astrid["last_session_kind"] == "strength"
    assert datetime.fromisoformat(astrid["last_session_at"]) == STRENGTH_START
    assert astrid["last_session_hr_mean_bpm"] == 95.0
    assert bjorn["session_count"] == 1
    assert bjorn["last_session_hr_mean_bpm"] is None
    assert carla["session_count"] == 0
    assert carla["last_session_at"] is None


def test_patient_sessions_newest_first_with_summary(client: TestClient, clinic: Clinic) -> None:
    sessions = client.get("/api/patients/pt-0001/sessions").json()
    assert [s["id"] for s in sessions] == [clinic.strength_id, clinic.walk_id]
    walk = sessions[1]
    valid_bpm = [bpm for bpm in expected_walk_hr_bpm() if bpm is not None]
    assert walk["kind"] == "walking"
    assert walk["status"] == "complete"
    assert walk["duration_s"] == 60.0
    assert walk["hr_mean_bpm"] == pytest.approx(sum(valid_bpm) / len(valid_bpm))
    assert walk["hr_max_bpm"] == 159.0
    assert walk["hr_coverage"] == pytest.approx(len(valid_bpm) / 60)
    assert walk["beat_count"] == 50
    assert walk["malformed_count"] == 2
    assert datetime.fromisoformat(walk["started_at"]) == WALK_START


def test_session_detail_lists_events(client: TestClient, clinic: Clinic) -> None:
    detail = client.get(f"/api/sessions/{clinic.walk_id}").json()
    assert detail["patient_pseudonym"] == "pt-0001"
    assert detail["patient_display_name"] == "Astrid Berg"
    assert [e["kind"] for e in detail["events"]] == ["malformed", "malformed"]
    assert detail["events"][1]["message"] == "PMD frame type 9 is not supported"
    assert datetime.fromisoformat(detail["events"][0]["at"]) == datetime(2026, 3, 2, 9, 0, 12, tzinfo=UTC)


def test_heart_rate_series_is_the_1hz_grid_with_gaps_as_null(client: TestClient, clinic: Clinic) -> None:
    series = client.get(f"/api/sessions/{clinic.walk_id}/heart-rate").json()
    assert series["t_s"] == list(range(WALK_START_S, WALK_START_S + 60))
    assert series["bpm"] == expected_walk_hr_bpm()


def test_chart_series_gives_the_summary_mean(client: TestClient, clinic: Clinic) -> None:
    # One definition per metric: the chart must show what the summary was computed from.
    series = client.get(f"/api/sessions/{clinic.walk_id}/heart-rate").json()
    summary = client.get(f"/api/sessions/{clinic.walk_id}").json()
    valid_bpm = [bpm for bpm in series["bpm"] if bpm is not None]
    assert sum(valid_bpm) / len(valid_bpm) == pytest.approx(summary["hr_mean_bpm"])
    assert max(valid_bpm) == summary["hr_max_bpm"]


def test_live_and_signal_less_sessions(client: TestClient, clinic: Clinic) -> None:
    live = client.get(f"/api/sessions/{clinic.live_id}").json()
    assert live["status"] == "live"
    assert live["hr_mean_bpm"] is None
    # The recorder keeps the count current while the session is live.
    assert live["malformed_count"] == 1
    assert client.get(f"/api/sessions/{clinic.live_id}/heart-rate").json()["bpm"] == [90.0 + k for k in range(10)]
    assert client.get(f"/api/sessions/{clinic.strength_id}/heart-rate").json() == {"t_s": [], "bpm": []}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/sessions/9999", "no session 9999 among your patients'"),
        ("/api/sessions/9999/heart-rate", "no session 9999 among your patients'"),
        ("/api/patients/nobody/sessions", "no patient 'nobody' among yours"),
        ("/api/patients/nobody/days", "no patient 'nobody' among yours"),
    ],
)
def test_unknown_ids_are_404_with_a_message(client: TestClient, path: str, detail: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


def test_invalid_session_id_is_422(client: TestClient) -> None:
    assert client.get("/api/sessions/abc").status_code == 422


def test_unknown_pages_are_html_404(client: TestClient) -> None:
    response = client.get("/patients/nobody")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no patient &#39;nobody&#39; among yours" in response.text


def test_openapi_documents_the_api_but_not_the_pages(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/overview",
        "/api/patients",
        "/api/patients/{pseudonym}/days",
        "/api/patients/{pseudonym}/load",
        "/api/patients/{pseudonym}/prescriptions",
        "/api/patients/{pseudonym}/sessions",
        "/api/patients/{pseudonym}/weeks",
        "/api/patients/{pseudonym}/weeks/{start}/decision",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/heart-rate",
    } <= set(paths)
    assert [path for path in paths if not path.startswith("/api/")] == []
    assert "404" in paths["/api/patients/{pseudonym}/days"]["get"]["responses"]
    assert "409" in paths["/api/patients/{pseudonym}/weeks/{start}/decision"]["post"]["responses"]
    assert set(paths["/api/overview"]["get"]["parameters"][0]["schema"]["enum"]) == {
        "need",
        "name",
        "last_session",
        "adherence",
        "load_change",
    }


def test_overview_page_lists_patients(client: TestClient, clinic: Clinic) -> None:
    page = client.get("/").text
    assert "Astrid Berg" in page
    assert "Bjørn Ås" in page
    assert 'href="/patients/pt-0003"' in page
    assert f'href="/sessions/{clinic.strength_id}">5 Mar 2026, 14:30</a>' in page
    # No prescriptions in this clinic: nothing to judge, and the page says so rather than showing green.
    assert page.count("No prescription yet: tolerance cannot be judged.") == 3
    assert "Showing 3 of 3 patients." in page


def test_patient_page_lists_sessions_newest_first(client: TestClient, clinic: Clinic) -> None:
    page = client.get("/patients/pt-0001").text
    assert page.index(f'href="/sessions/{clinic.strength_id}"') < page.index(f'href="/sessions/{clinic.walk_id}"')
    assert "20:34" in page  # 1234 s
    assert "01:00" in page  # the 60 s walk
    valid_bpm = [bpm for bpm in expected_walk_hr_bpm() if bpm is not None]
    assert f"{round(sum(valid_bpm) / len(valid_bpm))} bpm" in page  # the walk's mean
    assert "interrupted" in page
    assert "Write the first prescription" in page


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.event_handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.event_handlers += [name for name in attributes if name.startswith("on")]
        if tag == "script":
            if attributes.get("src"):
                self.urls.append(attributes["src"] or "")
            else:
                self.inline_scripts += 1
        if tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"] or "")


def test_pages_load_only_local_scripts_and_styles(client: TestClient) -> None:
    for path in ("/", "/patients/pt-0001", "/patients/nobody"):
        collector = _AssetCollector()
        collector.feed(client.get(path).text)
        assert collector.urls, path
        assert all(url.startswith("/static/") for url in collector.urls), (path, collector.urls)
        assert collector.inline_scripts == 0, path
        assert collector.event_handlers == [], path
        for url in collector.urls:
            assert client.get(url).status_code == 200, url


def test_sessions_show_what_the_batch_analysis_found(store: Store, patient_id: int) -> None:
    with store.session() as db:
        physio = Clinician(email="physio@example.org", display_name="Physio Test")
        db.add(physio)
        db.flush()
        db.get_one(Patient, patient_id).clinician_id = physio.id
        db.commit()
        physio_id = physio.id
    walk = asyncio.run(replay_capture(WALKING_CAPTURE, PatientInStore(store, patient_id))).session
    lift = asyncio.run(replay_capture(STRENGTH_CAPTURE, PatientInStore(store, patient_id))).session
    with TestClient(dashboard_app(store), base_url="https://testserver") as client:
        sign_in(client, clinician_id=physio_id)
        walking = client.get(f"/api/sessions/{walk.id}").json()
        strength = client.get(f"/api/sessions/{lift.id}").json()
    assert 200 < walking["steps"] < 230
    assert walking["rmssd_ms"] > 0
    assert 0 <= walking["rr_artifact_fraction"] <= 0.05
    assert (walking["sets"], walking["reps"]) == (None, None)
    assert strength["sets"] == 3
    assert 54 <= strength["reps"] <= 66
