"""The session page's data: zones, ceiling, α1, cadence, sets, gaps, reports and raw signals, from real recordings."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from sqlalchemy import select

from dashboard import create_app
from dashboard.schemas import HeartRateSeries
from dashboard.session_queries import hr_gaps
from monitor.analysis.dfa import dfa_alpha1
from monitor.analysis.heart_rate import karvonen_bpm
from monitor.analysis.rr import correct_rr
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.settings import Settings
from monitor.sinks import PatientInStore
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import add_prescription, save_session_report
from monitor.store.models import ClinicalProfile
from monitor.tolerance import Prescription, SessionReport

HR_REST_BPM = 60.0
HR_MAX_BPM = 180.0
CEILING_BPM = 110.0


@dataclass(frozen=True)
class Recorded:
    store: Store
    physio_id: int
    walk_id: int
    lift_id: int


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('session-page') / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Physio")
        patient = Patient(pseudonym="p-walker", display_name="Walker", clinician=physio)
        db.add_all([physio, patient])
        db.flush()
        db.add(
            ClinicalProfile(
                patient_id=patient.id, hr_rest_bpm=HR_REST_BPM, hr_max_bpm=HR_MAX_BPM, updated_at=datetime.now(UTC)
            )
        )
        add_prescription(
            db,
            patient.id,
            Prescription(
                sessions_per_week=3,
                kinds=("walking", "strength"),
                volume_per_session=20,
                volume_unit="minutes",
                volume_goal=30,
                hr_ceiling_bpm=CEILING_BPM,
            ),
            valid_from=date(2000, 1, 1),
            clinician_id=physio.id,
        )
        db.commit()
        physio_id, patient_id = physio.id, patient.id
    walk = asyncio.run(replay_capture(WALKING_CAPTURE, PatientInStore(store, patient_id))).session
    lift = asyncio.run(replay_capture(STRENGTH_CAPTURE, PatientInStore(store, patient_id))).session
    with store.session() as db:
        report = SessionReport(reported_at=datetime.now(UTC), pain_before=2, pain_after=3, effort_cr10=4)
        save_session_report(db, walk.id, report)
        db.commit()
    yield Recorded(store, physio_id, walk.id, lift.id)
    store.close()


@pytest.fixture(scope="module")
def client(recorded: Recorded) -> Iterator[TestClient]:
    app = create_app(recorded.store, settings=Settings(data_dir=Path("/nonexistent")))
    with TestClient(app, base_url="https://testserver") as test_client:
        sign_in(test_client, clinician_id=recorded.physio_id)
        yield test_client


def test_zones_are_karvonen_bands_and_hold_every_second_with_a_heart_rate(
    client: TestClient, recorded: Recorded
) -> None:
    traces = client.get(f"/api/sessions/{recorded.walk_id}/traces").json()
    zones = traces["zones"]
    assert [z["name"] for z in zones] == ["very_light", "light", "moderate", "vigorous", "near_maximal"]
    moderate = zones[2]
    assert moderate["lower_bpm"] == pytest.approx(karvonen_bpm(hr_rest_bpm=60, hr_max_bpm=180, fraction_hrr=0.40))
    assert moderate["upper_bpm"] == zones[3]["lower_bpm"]
    assert zones[-1]["upper_bpm"] is None
    valid_s = sum(bpm is not None for bpm in traces["heart_rate"]["bpm"])
    assert sum(z["seconds"] for z in zones) == valid_s
    hr = np.array([np.nan if b is None else b for b in traces["heart_rate"]["bpm"]])
    in_moderate = np.count_nonzero((hr >= moderate["lower_bpm"]) & (hr < moderate["upper_bpm"]))
    assert moderate["seconds"] == in_moderate


def test_the_ceiling_is_the_one_prescribed_and_the_report_is_the_patients(
    client: TestClient, recorded: Recorded
) -> None:
    traces = client.get(f"/api/sessions/{recorded.walk_id}/traces").json()
    assert traces["ceiling_bpm"] == CEILING_BPM
    assert traces["report"] | {"reported_at": None} == {
        "pain_before": 2.0,
        "pain_during": None,
        "pain_after": 3.0,
        "effort_cr10": 4.0,
        "red_flags": [],
        "reported_at": None,
    }
    assert client.get(f"/api/sessions/{recorded.lift_id}/traces").json()["report"] is None


def test_cadence_per_minute_adds_up_to_the_steps_counted(client: TestClient, recorded: Recorded) -> None:
    traces = client.get(f"/api/sessions/{recorded.walk_id}/traces").json()
    summary = client.get(f"/api/sessions/{recorded.walk_id}").json()
    cadence = traces["cadence"]
    assert traces["sets"] is None
    assert len(cadence["t_s"]) == int(summary["duration_s"] // 60)
    # Whole minutes only: the steps of a last, partial minute are not in them.
    assert summary["steps"] - 2 * max(cadence["spm"]) <= sum(cadence["spm"]) <= summary["steps"]
    assert summary["minutes_at_100_spm"] == sum(spm >= 100 for spm in cadence["spm"])
    started_s = datetime.fromisoformat(summary["started_at"]).timestamp()
    assert started_s <= cadence["t_s"][0] < started_s + 5


def test_sets_are_the_analysis_sets_on_the_clock(client: TestClient, recorded: Recorded) -> None:
    traces = client.get(f"/api/sessions/{recorded.lift_id}/traces").json()
    summary = client.get(f"/api/sessions/{recorded.lift_id}").json()
    sets = traces["sets"]
    assert traces["cadence"] is None
    assert [s["number"] for s in sets] == list(range(1, summary["sets"] + 1))
    assert sum(s["reps"] for s in sets) == summary["reps"]
    started_s = datetime.fromisoformat(summary["started_at"]).timestamp()
    assert all(started_s <= s["start_s"] < s["end_s"] <= started_s + summary["duration_s"] + 1 for s in sets)
    assert all(
        b["start_s"] - a["end_s"] == pytest.approx(b["rest_before_s"], abs=0.01) for a, b in itertools.pairwise(sets)
    )


def test_alpha1_trace_is_dfa_of_the_last_two_minutes_of_corrected_beats(
    client: TestClient, recorded: Recorded, recordings: Path
) -> None:
    # An hour of beats (pyhrv's long sample, 1.6 % artifacts): the bundled captures are under 2 minutes.
    rr_ms = np.loadtxt(recordings / "hrv_reference" / "pyhrv_SampleNNISeriesLong_ms.txt")
    started = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with recorded.store.session() as db:
        patient = db.scalars(select(Patient)).first()
        assert patient is not None
        row = TrainingSession(patient=patient, kind="walking", status="complete", started_at=started)
        db.add(row)
        db.commit()
        session_id = row.id
    beat_t_ns = int(started.timestamp() * 1e9) + np.cumsum(rr_ms * 1e6).astype(np.int64)
    recorded.store.signals.append(session_id, "rr_ms", "H10", beat_t_ns, rr_ms[:, None])

    alpha1 = client.get(f"/api/sessions/{session_id}/traces").json()["alpha1"]
    corrected = correct_rr(rr_ms).rr_ms
    beat_end_s = started.timestamp() + np.cumsum(corrected) / 1000
    assert np.diff(alpha1["t_s"]) == pytest.approx(5.0)
    assert alpha1["t_s"][0] == pytest.approx(started.timestamp() + 120, abs=0.01)
    assert len(alpha1["t_s"]) == pytest.approx((beat_end_s[-1] - beat_end_s[0] - 120) / 5, abs=2)
    for index in (0, len(alpha1["t_s"]) // 2, -1):
        end_s = alpha1["t_s"][index]
        window = corrected[(beat_end_s > end_s - 120 + 1e-6) & (beat_end_s <= end_s + 1e-6)]
        assert alpha1["alpha1"][index] == pytest.approx(dfa_alpha1(window), abs=1e-3)


def test_gaps_are_runs_without_heart_rate_of_at_least_the_minimum() -> None:
    series = HeartRateSeries(t_s=list(range(100, 120)), bpm=[80.0] * 3 + [None] * 2 + [81.0] + [None] * 6 + [82.0] * 8)
    assert [(g.start_s, g.duration_s) for g in hr_gaps(series, min_gap_s=5)] == [(106.0, 6.0)]
    assert [(g.start_s, g.duration_s) for g in hr_gaps(series, min_gap_s=1)] == [(103.0, 2.0), (106.0, 6.0)]
    tail = HeartRateSeries(t_s=[0, 1, 2], bpm=[None, None, None])
    assert [(g.start_s, g.duration_s) for g in hr_gaps(tail, min_gap_s=3)] == [(0.0, 3.0)]


def test_raw_signals_are_decimated_on_the_server_for_any_zoom(client: TestClient, recorded: Recorded) -> None:
    acc = recorded.store.signals.read(recorded.walk_id, "acc_mg")
    whole = client.get(f"/api/sessions/{recorded.walk_id}/signals/acc_mg", params={"channel": "z", "points": 200})
    assert whole.status_code == 200
    body = whole.json()
    assert (body["unit"], body["channel"]) == ("mG", "z")
    assert len(body["t_ns"]) <= 200
    assert min(body["min"]) == acc.values[:, 2].min()
    assert max(body["max"]) == acc.values[:, 2].max()
    from_ns, to_ns = int(acc.t_ns[1000]), int(acc.t_ns[1100])
    zoomed = client.get(
        f"/api/sessions/{recorded.walk_id}/signals/acc_mg",
        params={"channel": "z", "points": 1000, "from_ns": from_ns, "to_ns": to_ns},
    ).json()
    # Zoomed in far enough, every sample is its own bucket: the raw values themselves.
    assert zoomed["min"] == zoomed["max"] == acc.values[1000:1101, 2].tolist()
    assert zoomed["t_ns"][0] == from_ns


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/signals/nothing", "no signal 'nothing'"),
        ("/signals/acc_mg?channel=w", "acc_mg has channels x, y, z, not 'w'"),
    ],
)
def test_unknown_signals_and_channels_are_422_with_the_choices(
    client: TestClient, recorded: Recorded, query: str, message: str
) -> None:
    response = client.get(f"/api/sessions/{recorded.walk_id}{query}")
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_the_session_page_shows_zones_ceiling_report_and_quality(client: TestClient, recorded: Recorded) -> None:
    page = client.get(f"/sessions/{recorded.walk_id}")
    assert page.status_code == 200
    text = page.text
    assert f"{CEILING_BPM:.0f} bpm" in text
    assert "Moderate" in text
    assert "Pain after" in text
    assert "Steps per minute" in text
    assert 'data-traces-url="/api/sessions/' in text
