"""The clinical API over a real SQLite store: prescriptions, reports, weekly assessments, decisions, load."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in

from dashboard import create_app
from dashboard.clinical_schemas import RedFlag
from monitor.settings import Settings
from monitor.store import Clinician, Patient, SessionAnalysis, Store, TrainingSession
from monitor.store.clinical import week_start
from monitor.tolerance.reports import RED_FLAG_QUESTIONS

TODAY = datetime.now(UTC).date()
THIS_MONDAY = week_start(TODAY)
LAST_MONDAY = THIS_MONDAY - timedelta(weeks=1)
PRESCRIPTION = {
    "sessions_per_week": 2,
    "kinds": ["walking"],
    "volume_per_session": 30,
    "volume_unit": "minutes",
    "volume_goal": 45,
    "hr_ceiling_percent_hrr": 70,
}


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        clinician = Clinician(email="physio@example.invalid", display_name="Physio One")
        db.add(clinician)
        db.flush()
        db.add(Patient(pseudonym="p-api01", display_name="Test Patient", clinician_id=clinician.id))
        db.commit()
        clinician_id = clinician.id
    app = create_app(store, settings=Settings(data_dir=tmp_path))
    with TestClient(app, base_url="https://testserver") as test_client:
        sign_in(test_client, clinician_id=clinician_id)
        yield test_client
    store.close()


def add_session(client: TestClient, day: date, *, minutes: float = 30) -> int:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    with store.session() as db:
        patient = db.query(Patient).filter_by(pseudonym="p-api01").one()
        started = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=10)
        session = TrainingSession(
            patient_id=patient.id,
            kind="walking",
            status="complete",
            started_at=started,
            ended_at=started + timedelta(minutes=minutes),
            duration_s=minutes * 60,
            hr_coverage=0.99,
        )
        db.add(session)
        db.commit()
        return session.id


def test_prescriptions_are_versioned_with_who_and_when(client: TestClient) -> None:
    first = client.post(
        "/api/patients/p-api01/prescriptions",
        json={"prescription": PRESCRIPTION, "valid_from": LAST_MONDAY.isoformat(), "note": "start"},
    )
    assert first.status_code == 201, first.text
    second = client.post(
        "/api/patients/p-api01/prescriptions",
        json={"prescription": PRESCRIPTION | {"volume_per_session": 33}, "valid_from": THIS_MONDAY.isoformat()},
    )
    versions = client.get("/api/patients/p-api01/prescriptions").json()
    assert [(v["version"], v["prescription"]["volume_per_session"]) for v in versions] == [(2, 33), (1, 30)]
    assert versions[1]["created_by"] == "Physio One"
    assert versions[1]["note"] == "start"
    assert second.json()["prescription"]["pain_during_limit"] == 5  # the model's default


@pytest.mark.parametrize(
    ("url", "body", "message"),
    [
        ("/api/patients/p-api01/prescriptions", {"prescription": PRESCRIPTION | {"volume_goal": 10}}, "valid_from"),
        (
            "/api/patients/p-api01/prescriptions",
            {"prescription": PRESCRIPTION | {"volume_goal": 10}, "valid_from": "2026-01-05"},
            "at most volume_goal",
        ),
        ("/api/patients/p-api01/mornings/2026-01-05", {"day": "2026-01-05", "pain": 11}, "less than or equal to 10"),
        ("/api/patients/p-api01/mornings/2026-01-05", {"day": "2026-01-06", "pain": 1}, "the path for 2026-01-05"),
        ("/api/patients/p-api01/mornings/2026-01-05", {"day": "2026-01-05", "red_flags": ["headache"]}, "weight_loss"),
    ],
)
def test_invalid_input_gets_a_422_that_says_why(
    client: TestClient, url: str, body: dict[str, Any], message: str
) -> None:
    method = client.post if url.endswith("prescriptions") else client.put
    response = method(url, json=body)
    assert response.status_code == 422
    assert message in response.text


def test_unknown_patients_and_sessions_are_404(client: TestClient) -> None:
    assert client.get("/api/patients/p-nobody/weeks").status_code == 404
    assert client.put("/api/sessions/999/report", json={"pain_during": 1}).status_code == 404


def test_a_week_with_a_flare_is_red_with_reasons_and_steps_back_when_confirmed(client: TestClient) -> None:
    client.post(
        "/api/patients/p-api01/prescriptions",
        json={"prescription": PRESCRIPTION, "valid_from": (LAST_MONDAY - timedelta(weeks=1)).isoformat()},
    )
    monday, thursday = LAST_MONDAY, LAST_MONDAY + timedelta(days=3)
    calm, flare = add_session(client, monday), add_session(client, thursday)
    reported = datetime.combine(monday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=11)
    late = reported + timedelta(days=1)
    client.put(
        f"/api/sessions/{calm}/report",
        json={
            "pain_before": 1,
            "pain_during": 2,
            "pain_after": 1,
            "effort_cr10": 4,
            "reported_at": reported.isoformat(),
        },
    )
    answer = client.put(
        f"/api/sessions/{flare}/report",
        json={"pain_before": 1, "pain_during": 7, "pain_after": 4, "effort_cr10": 6, "reported_at": late.isoformat()},
    )
    assert answer.status_code == 200
    assert datetime.fromisoformat(answer.json()["reported_at"]) == late
    for offset in range(8):
        day = monday + timedelta(days=offset)
        client.put(f"/api/patients/p-api01/mornings/{day}", json={"day": day.isoformat(), "pain": 1, "stiffness": 1})

    weeks = client.get("/api/patients/p-api01/weeks").json()
    week = next(w for w in weeks if w["start"] == LAST_MONDAY.isoformat())
    assert week["complete"] is True
    assert [v["level"] for v in week["verdicts"]] == ["green", "red"]
    finding = week["verdicts"][1]["findings"][0]
    assert finding["key"] == "verdict.pain_during_above_limit"
    assert finding["params"] == {"pain": 7.0, "limit": 5.0}
    assert finding["text"] == "Pain during the session was 7/10, above the limit of 5/10."
    (flag,) = week["flags"]
    assert (flag["rule"], flag["severity"], flag["source"], flag["session_id"]) == (
        "pain_during_above_limit",
        "warning",
        "self-report",
        flare,
    )
    assert flag["message"]["params"]["pain"] == 7
    assert week["advice"]["action"] == "step_back"
    assert week["advice"]["changes"] == {"volume_per_session": [30, 24]}
    assert week["load_au"] == 4 * 30 + 6 * 30
    assert week["decision"] is None

    page = client.get("/patients/p-api01").text
    assert "Step back from 30 to 24 minutes per session (−20%): 1 session(s) broke the pain-monitoring rules." in page
    assert "Session on " + thursday.isoformat() + ": pain during was 7/10, above the limit of 5/10." in page
    assert 'class="badge verdict-red"' in page
    assert "Awaiting a decision" in page

    url = f"/api/patients/p-api01/weeks/{LAST_MONDAY}/decision"
    decided = client.post(url, json={"decision": "confirmed", "note": "agreed with the patient"})
    assert decided.status_code == 201, decided.text
    assert decided.json()["prescription_version"] == 2
    assert client.post(url, json={"decision": "rejected"}).status_code == 409
    assert (
        client.post(f"/api/patients/p-api01/weeks/{THIS_MONDAY}/decision", json={"decision": "rejected"}).status_code
        == 409
    )
    tuesday = LAST_MONDAY + timedelta(days=1)
    assert (
        client.post(f"/api/patients/p-api01/weeks/{tuesday}/decision", json={"decision": "rejected"}).status_code == 422
    )
    newest = client.get("/api/patients/p-api01/prescriptions").json()[0]
    assert (newest["valid_from"], newest["prescription"]["volume_per_session"]) == (THIS_MONDAY.isoformat(), 24)
    weeks = client.get("/api/patients/p-api01/weeks").json()
    assert next(w for w in weeks if w["start"] == LAST_MONDAY.isoformat())["decision"]["decided_by"] == "Physio One"
    assert weeks[-1]["prescription"]["volume_per_session"] == 24
    assert "Confirmed by Physio One: agreed with the patient" in client.get("/patients/p-api01").text

    load = client.get("/api/patients/p-api01/load", params={"weeks": 4}).json()
    by_day = dict(zip(load["days"], load["daily_au"], strict=True))
    assert by_day[monday.isoformat()] == 120  # CR-10 4 × 30 min
    assert by_day[thursday.isoformat()] == 180  # 6 × 30
    assert sum(load["daily_au"]) == 300
    assert load["days"][0] == (THIS_MONDAY - timedelta(weeks=3)).isoformat()
    assert len(load["acute_au"]) == len(load["ratio"]) == len(load["days"])
    last_week = next(w for w in load["weeks"] if w["start"] == LAST_MONDAY.isoformat())
    # Foster: mean 300/7, SD (ddof=1) of [120, 0, 0, 180, 0, 0, 0].
    mean, sd = 300 / 7, statistics.stdev([120, 0, 0, 180, 0, 0, 0])
    assert (last_week["total_au"], last_week["days"]) == (300, 7)
    assert last_week["monotony"] == pytest.approx(mean / sd)
    assert last_week["strain_au"] == pytest.approx(300 * mean / sd)
    assert last_week["change"] is None  # nothing the week before
    session = client.get(f"/api/sessions/{flare}").json()
    assert session["srpe_au"] == 180
    assert session["trimp_banister"] is None  # no clinical profile: not made up


def test_a_changed_decision_needs_the_chosen_prescription(client: TestClient) -> None:
    client.post(
        "/api/patients/p-api01/prescriptions",
        json={"prescription": PRESCRIPTION, "valid_from": LAST_MONDAY.isoformat()},
    )
    url = f"/api/patients/p-api01/weeks/{LAST_MONDAY}/decision"
    assert client.post(url, json={"decision": "changed"}).status_code == 422
    changed = client.post(url, json={"decision": "changed", "prescription": PRESCRIPTION | {"sessions_per_week": 3}})
    assert changed.status_code == 201
    assert client.get("/api/patients/p-api01/prescriptions").json()[0]["prescription"]["sessions_per_week"] == 3


def test_the_api_red_flag_questions_are_the_engines() -> None:
    assert set(RedFlag.__args__) == set(RED_FLAG_QUESTIONS)  # type: ignore[attr-defined]


def test_a_strength_session_shows_its_volume_with_the_weight_entered(client: TestClient) -> None:
    session_id = add_session(client, LAST_MONDAY, minutes=20)
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    sets = [
        {"start_s": 0, "end_s": 40, "reps": 12, "period_s": 3, "time_under_tension_s": 36, "rest_before_s": None},
        {"start_s": 100, "end_s": 140, "reps": 10, "period_s": 3, "time_under_tension_s": 30, "rest_before_s": 60},
    ]
    with store.session() as db:
        db.add(SessionAnalysis(session_id=session_id, version=2, activity={"duration_s": 1200, "sets": sets}))
        db.commit()
    assert client.get(f"/api/sessions/{session_id}").json()["volume_kg"] is None  # nothing entered yet
    assert client.put(f"/api/sessions/{session_id}/report", json={"weight_kg": 0}).status_code == 422
    client.put(f"/api/sessions/{session_id}/report", json={"effort_cr10": 5, "weight_kg": 7.5})
    session = client.get(f"/api/sessions/{session_id}").json()
    assert (session["sets"], session["reps"], session["time_under_tension_s"]) == (2, 22, 66)
    assert session["volume_kg"] == 22 * 7.5
    assert session["srpe_au"] == 5 * 20
