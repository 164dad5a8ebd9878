"""The patient's own pages and API on a real SQLite store: reports merge, bad answers are shown, access is own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from sqlalchemy import select

from dashboard import create_app
from dashboard.clinical_schemas import RedFlag
from dashboard.patient_pages import RED_FLAG_NAMES, RED_FLAG_TEXTS, RedFlagAnswers
from dashboard.patient_self_api import PROGRESS_WEEKS
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import add_prescription, save_session_report, week_start
from monitor.store.models import AuditEvent, MorningReportRow, SessionReportRow
from monitor.tolerance import Prescription, SessionReport
from monitor.tolerance.reports import RED_FLAG_QUESTIONS

TODAY = datetime.now(UTC).date()
THIS_MONDAY = week_start(TODAY)
PRESCRIPTION = Prescription(
    sessions_per_week=3, kinds=("walking",), volume_per_session=30, volume_unit="minutes", volume_goal=45
)
PRESCRIBED_FROM = THIS_MONDAY - timedelta(weeks=6)
SAVED = "Thank you. Your answers are saved."
CONTACT = "Contact your physiotherapist or doctor before you train again."


@dataclass(frozen=True)
class Clinic:
    store: Store
    clinician_id: int
    patient_id: int
    other_patient_id: int
    session_id: int
    """Mine: a walk that ended this morning, nothing reported yet."""
    strength_id: int
    live_id: int
    other_session_id: int


def at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def add_session(
    db: Any, patient: Patient, started: datetime, *, kind: str = "walking", status: str = "complete"
) -> int:
    session = TrainingSession(
        patient=patient,
        kind=kind,
        status=status,
        started_at=started,
        ended_at=None if status == "live" else started + timedelta(minutes=30),
        duration_s=None if status == "live" else 1800.0,
    )
    db.add(session)
    db.flush()
    return session.id


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    now = datetime.now(UTC)
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Physio One")
        mine = Patient(pseudonym="p-mine01", display_name="Anna Berg", clinician=physio)
        theirs = Patient(pseudonym="p-their1", display_name="Bo Holm", clinician=physio)
        db.add_all([physio, mine, theirs])
        db.flush()
        add_prescription(db, mine.id, PRESCRIPTION, valid_from=PRESCRIBED_FROM, clinician_id=physio.id)
        ids = (
            add_session(db, mine, now - timedelta(hours=1)),
            add_session(db, mine, now - timedelta(days=1), kind="strength"),
            add_session(db, mine, now - timedelta(minutes=5), status="live"),
            add_session(db, theirs, now - timedelta(hours=1)),
        )
        db.commit()
        yield Clinic(store, physio.id, mine.id, theirs.id, *ids)
    store.close()


@pytest.fixture
def client(clinic: Clinic, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(clinic.store, settings=Settings(data_dir=tmp_path))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        sign_in(test_client, patient_id=clinic.patient_id)
        yield test_client


class FormState(HTMLParser):
    """The answers a page's form shows: the checked radio button of each group, each text field's value."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.checked: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.text: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name, value = attributes.get("name") or "", attributes.get("value") or ""
        if tag != "input" or attributes.get("type") == "hidden":
            return
        if attributes.get("type") == "radio":
            self.radios.setdefault(name, []).append(value)
            if "checked" in attributes:
                self.checked[name] = value
        else:
            self.text[name] = value


def report_row(store: Store, session_id: int) -> SessionReportRow | None:
    with store.session() as db:
        return db.get(SessionReportRow, session_id)


def morning_row(store: Store, patient_id: int, day: date) -> MorningReportRow | None:
    with store.session() as db:
        return db.scalar(
            select(MorningReportRow).where(MorningReportRow.patient_id == patient_id, MorningReportRow.day == day)
        )


def test_a_report_posted_in_parts_through_the_form_is_merged_in_the_store(client: TestClient, clinic: Clinic) -> None:
    page = f"/me/sessions/{clinic.strength_id}"
    before = client.post(page, data={"pain_before": "2"})
    assert before.status_code == 303
    assert before.headers["location"] == f"{page}?saved=yes"
    row = report_row(clinic.store, clinic.strength_id)
    assert row is not None
    assert (row.pain_before, row.pain_during, row.pain_after, row.effort_cr10) == (2.0, None, None, None)
    first_time = row.reported_at

    after = client.post(page, data={"pain_during": "4", "pain_after": "3", "effort_cr10": "0.5", "weight_kg": "12,5"})
    assert after.status_code == 303
    row = report_row(clinic.store, clinic.strength_id)
    assert row is not None
    assert (row.pain_before, row.pain_during, row.pain_after, row.effort_cr10, row.weight_kg) == (2, 4, 3, 0.5, 12.5)
    assert row.red_flags == []
    assert row.reported_at >= first_time  # the time of the latest answer

    shown = client.get(after.headers["location"])
    assert shown.status_code == 200
    assert SAVED in shown.text
    form = FormState(shown.text)
    assert form.checked == {"pain_before": "2", "pain_during": "4", "pain_after": "3", "effort_cr10": "0.5"}
    assert form.text["weight_kg"] == "12.5"
    assert form.radios["pain_after"] == [str(n) for n in range(11)]
    assert form.radios["effort_cr10"] == ["0", "0.5", *(str(n) for n in range(1, 11))]
    assert "Worst imaginable pain" in shown.text
    assert "Extremely weak" in shown.text
    assert SAVED not in client.get(page).text


def test_a_walk_has_no_weight_question(client: TestClient, clinic: Clinic) -> None:
    walk = FormState(client.get(f"/me/sessions/{clinic.session_id}").text)
    strength = FormState(client.get(f"/me/sessions/{clinic.strength_id}").text)
    assert "weight_kg" not in walk.text
    assert "weight_kg" in strength.text


def test_a_red_flag_yes_stays_and_tells_the_patient_to_make_contact(client: TestClient, clinic: Clinic) -> None:
    page = f"/me/sessions/{clinic.session_id}"
    assert CONTACT not in client.get(page).text
    answers = {"pain_after": "3", "fever": "yes", "dizziness": "no", "numbness": "no"}
    assert client.post(page, data=answers).status_code == 303
    row = report_row(clinic.store, clinic.session_id)
    assert row is not None
    assert row.red_flags == ["fever"]
    shown = client.get(page)
    assert CONTACT in shown.text
    assert "<li>fever</li>" in shown.text
    assert "fever" not in FormState(shown.text).radios  # answered: no longer asked
    assert {"dizziness", "numbness", "weight_loss", "redness"} <= set(FormState(shown.text).radios)
    assert CONTACT in client.get("/me").text
    # A later "no" does not take the yes back: only the clinician can.
    assert client.post(page, data={"fever": "no", "redness": "yes"}).status_code == 303
    row = report_row(clinic.store, clinic.session_id)
    assert row is not None
    assert row.red_flags == ["fever", "redness"]


def test_invalid_answers_are_shown_with_what_to_fix_and_kept(client: TestClient, clinic: Clinic) -> None:
    page = f"/me/sessions/{clinic.strength_id}"
    assert client.post(page, data={"pain_before": "2"}).status_code == 303
    refused = client.post(
        page, data={"pain_during": "12", "pain_after": "4", "weight_kg": "heavy", "dizziness": "maybe"}
    )
    assert refused.status_code == 422
    assert "Your answers are not saved yet." in refused.text
    assert "Choose one of the answers shown." in refused.text
    assert "Write the weight as a number of kilograms, for example 12.5." in refused.text
    assert "Answer yes or no." in refused.text
    assert 'href="#pain_during"' in refused.text
    form = FormState(refused.text)
    assert form.checked == {"pain_before": "2", "pain_after": "4"}  # the saved answer and the new valid one
    assert form.text["weight_kg"] == "heavy"
    row = report_row(clinic.store, clinic.strength_id)
    assert row is not None
    assert (row.pain_before, row.pain_after, row.weight_kg) == (2, None, None)  # nothing of the refused post

    too_heavy = client.post(page, data={"weight_kg": "900"})
    assert too_heavy.status_code == 422
    assert "The weight must be more than 0 and at most 500 kg." in too_heavy.text


def test_an_empty_form_is_refused(client: TestClient, clinic: Clinic) -> None:
    refused = client.post(f"/me/sessions/{clinic.session_id}", data={})
    assert refused.status_code == 422
    assert "Choose at least one answer before you save." in refused.text
    assert report_row(clinic.store, clinic.session_id) is None


def test_form_errors_are_in_the_readers_language(client: TestClient, clinic: Clinic) -> None:
    refused = client.post(
        f"/me/sessions/{clinic.session_id}", data={"pain_after": "11"}, headers={"Accept-Language": "da"}
    )
    assert refused.status_code == 422
    assert refused.headers["content-language"] == "da"
    assert "Spring til hovedindhold" in refused.text  # the page around the form is Danish
    english = client.post(f"/me/sessions/{clinic.session_id}", data={"pain_after": "11"})
    assert english.headers["content-language"] == "en"
    assert "Choose one of the answers shown." in english.text


def test_the_api_merges_partial_reports(client: TestClient, clinic: Clinic) -> None:
    url = f"/api/me/sessions/{clinic.session_id}/report"
    first = client.put(url, json={"pain_before": 1})
    assert first.status_code == 200, first.text
    second = client.put(url, json={"pain_after": 4, "effort_cr10": 3, "red_flags": ["numbness"]})
    assert second.status_code == 200, second.text
    body = second.json()
    assert (body["pain_before"], body["pain_after"], body["effort_cr10"], body["red_flags"]) == (1, 4, 3, ["numbness"])
    third = client.put(url, json={"red_flags": []})
    assert third.json()["red_flags"] == ["numbness"]
    row = report_row(clinic.store, clinic.session_id)
    assert row is not None
    assert (row.pain_before, row.pain_during, row.pain_after, row.effort_cr10) == (1, None, 4, 3)
    assert row.red_flags == ["numbness"]
    session = client.get(f"/api/me/sessions/{clinic.session_id}").json()
    assert session["still_to_report"] == ["pain_during"]
    assert session["report"]["pain_after"] == 4


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"pain_after": 11}, "pain_after"),
        ({"effort_cr10": -1}, "effort_cr10"),
        ({"red_flags": ["nausea"]}, "red_flags"),
        ({"weight_kg": 0}, "weight_kg"),
    ],
)
def test_the_api_refuses_values_off_the_scales(
    client: TestClient, clinic: Clinic, body: dict[str, Any], where: str
) -> None:
    refused = client.put(f"/api/me/sessions/{clinic.session_id}/report", json=body)
    assert refused.status_code == 422
    assert where in refused.json()["detail"][0]["loc"]
    assert report_row(clinic.store, clinic.session_id) is None


def test_a_patient_cannot_date_their_own_report(client: TestClient, clinic: Clinic) -> None:
    earlier = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    refused = client.put(f"/api/me/sessions/{clinic.session_id}/report", json={"pain_after": 2, "reported_at": earlier})
    assert refused.status_code == 422
    assert "reported_at" in refused.json()["detail"]
    assert report_row(clinic.store, clinic.session_id) is None


def test_a_morning_is_reported_through_the_form_and_the_api(client: TestClient, clinic: Clinic) -> None:
    today = client.get("/me/morning")
    assert today.status_code == 303
    page = f"/me/mornings/{TODAY.isoformat()}"
    assert today.headers["location"] == page
    assert "This morning" in client.get(page).text
    assert client.post(page, data={"pain": "3", "dizziness": "yes"}).status_code == 303
    put = client.put(f"/api/me/mornings/{TODAY}", json={"day": TODAY.isoformat(), "stiffness": 5})
    assert put.status_code == 200, put.text
    assert (put.json()["pain"], put.json()["stiffness"], put.json()["red_flags"]) == (3, 5, ["dizziness"])
    row = morning_row(clinic.store, clinic.patient_id, TODAY)
    assert row is not None
    assert (row.pain, row.stiffness, row.red_flags) == (3, 5, ["dizziness"])
    shown = client.get(page)
    assert FormState(shown.text).checked == {"pain": "3", "stiffness": "5"}
    assert CONTACT in shown.text
    assert client.get(f"/api/me/mornings/{TODAY}").json()["stiffness"] == 5
    home = client.get("/api/me").json()
    assert home["morning"]["pain"] == 3
    assert home["recent_red_flags"] == ["dizziness"]


def test_a_late_morning_report_is_kept_for_its_own_day(client: TestClient, clinic: Clinic) -> None:
    yesterday = TODAY - timedelta(days=1)
    assert client.post(f"/me/mornings/{yesterday}", data={"stiffness": "2"}).status_code == 303
    row = morning_row(clinic.store, clinic.patient_id, yesterday)
    assert row is not None
    assert row.stiffness == 2
    assert row.reported_at.date() >= TODAY  # given today, for yesterday: visible as late
    assert morning_row(clinic.store, clinic.patient_id, TODAY) is None


def test_a_morning_ahead_cannot_be_reported(client: TestClient, clinic: Clinic) -> None:
    tomorrow = TODAY + timedelta(days=1)
    assert client.get(f"/me/mornings/{tomorrow}").status_code == 404
    assert client.post(f"/me/mornings/{tomorrow}", data={"pain": "2"}).status_code == 404
    refused = client.put(f"/api/me/mornings/{tomorrow}", json={"day": tomorrow.isoformat(), "pain": 2})
    assert refused.status_code == 422
    assert "has not come yet" in refused.json()["detail"]
    mismatch = client.put(f"/api/me/mornings/{TODAY}", json={"day": tomorrow.isoformat(), "pain": 2})
    assert mismatch.status_code == 422
    invalid = client.post(f"/me/mornings/{TODAY}", data={"pain": "ten", "stiffness": "4"})
    assert invalid.status_code == 422
    assert FormState(invalid.text).checked == {"stiffness": "4"}
    assert morning_row(clinic.store, clinic.patient_id, tomorrow) is None
    assert morning_row(clinic.store, clinic.patient_id, TODAY) is None


def test_another_patients_session_is_not_found(client: TestClient, clinic: Clinic) -> None:
    theirs = clinic.other_session_id
    assert client.get(f"/me/sessions/{theirs}").status_code == 404
    assert client.post(f"/me/sessions/{theirs}", data={"pain_after": "9"}).status_code == 404
    assert client.get(f"/api/me/sessions/{theirs}").status_code == 404
    assert client.put(f"/api/me/sessions/{theirs}/report", json={"pain_after": 9}).status_code == 404
    assert client.get("/me/sessions/999999").status_code == 404
    assert report_row(clinic.store, theirs) is None
    listed = {s["id"] for s in client.get("/api/me/sessions", params={"days": 366}).json()}
    assert listed == {clinic.session_id, clinic.strength_id, clinic.live_id}
    with clinic.store.session() as db:
        seen = set(db.scalars(select(AuditEvent.patient_pseudonym)))
    assert "p-their1" not in seen


def test_a_clinician_is_refused_the_patients_pages(clinic: Clinic, tmp_path: Path) -> None:
    app = create_app(clinic.store, settings=Settings(data_dir=tmp_path))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, clinician_id=clinic.clinician_id)
        for method, path in [
            ("GET", "/me"),
            ("GET", f"/me/sessions/{clinic.session_id}"),
            ("POST", f"/me/sessions/{clinic.session_id}"),
            ("GET", "/me/morning"),
            ("GET", "/api/me"),
            ("GET", "/api/me/progress"),
            ("PUT", f"/api/me/sessions/{clinic.session_id}/report"),
        ]:
            assert client.request(method, path, json={"pain_after": 1}).status_code == 403, (method, path)
    assert report_row(clinic.store, clinic.session_id) is None


def test_every_read_and_report_is_audited(client: TestClient, clinic: Clinic) -> None:
    client.get("/me")
    client.get(f"/me/sessions/{clinic.session_id}")
    client.put(f"/api/me/sessions/{clinic.session_id}/report", json={"pain_after": 2})
    client.get("/api/me/progress")
    with clinic.store.session() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.actor, e.action, e.patient_pseudonym, e.detail) for e in events] == [
        ("patient:p-mine01", "view", "p-mine01", "GET /me"),
        ("patient:p-mine01", "view", "p-mine01", "GET /me/sessions/{session_id}"),
        ("patient:p-mine01", "change", "p-mine01", "PUT /api/me/sessions/{session_id}/report"),
        ("patient:p-mine01", "view", "p-mine01", "GET /api/me/progress"),
    ]


def test_the_start_page_lists_what_is_still_to_report(client: TestClient, clinic: Clinic) -> None:
    client.put(f"/api/me/sessions/{clinic.strength_id}/report", json={"pain_before": 1, "pain_during": 2})
    me = client.get("/api/me").json()
    assert me["display_name"] == "Anna Berg"
    to_report = {s["id"]: s["still_to_report"] for s in me["sessions"]}
    assert to_report == {
        clinic.live_id: ["pain_before", "pain_during"],  # after and effort once it has ended
        clinic.session_id: ["pain_before", "pain_during", "pain_after", "effort_cr10"],
        clinic.strength_id: ["pain_after", "effort_cr10"],
    }
    assert [s["id"] for s in me["sessions"]] == [clinic.live_id, clinic.session_id, clinic.strength_id]
    page = client.get("/me")
    assert page.status_code == 200
    assert "Hello, Anna Berg" in page.text
    assert "Recording now." in page.text
    assert f'href="/me/sessions/{clinic.strength_id}"' in page.text
    assert f'href="/me/mornings/{TODAY.isoformat()}"' in page.text
    assert "You have not told us how you woke up today." in page.text


def add_reported_walks(store: Store, patient_id: int, pains_by_monday: dict[date, list[float]]) -> None:
    with store.session() as db:
        patient = db.get_one(Patient, patient_id)
        for monday, pains in pains_by_monday.items():
            for i, pain in enumerate(pains):
                session_id = add_session(db, patient, at(monday + timedelta(days=min(i, (TODAY - monday).days))))
                save_session_report(db, session_id, SessionReport(datetime.now(UTC), pain_after=pain))
        db.commit()


def test_progress_counts_sessions_against_the_plan_and_says_how_pain_goes(client: TestClient, clinic: Clinic) -> None:
    pains = {THIS_MONDAY - timedelta(weeks=w): [6.0, 5.0, 5.0] for w in range(2, 6)}
    pains |= {THIS_MONDAY - timedelta(weeks=1): [3.0, 2.0], THIS_MONDAY: [2.0]}
    add_reported_walks(clinic.store, clinic.patient_id, pains)
    progress = client.get("/api/me/progress").json()
    weeks = {date.fromisoformat(w["start"]): w for w in progress["weeks"]}
    assert len(weeks) == PROGRESS_WEEKS
    assert min(weeks) == THIS_MONDAY - timedelta(weeks=PROGRESS_WEEKS - 1)
    # The fixture's own sessions (an hour, a day and five minutes ago) count where they fall; the live one does not.
    fixture_sessions = [datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) - timedelta(days=1)]
    for monday, week in weeks.items():
        extra = sum(week_start(s.date()) == monday for s in fixture_sessions)
        assert week["sessions_done"] == len(pains.get(monday, [])) + extra, monday
        assert week["sessions_prescribed"] == (3 if monday >= PRESCRIBED_FROM else None), monday
    assert weeks[THIS_MONDAY - timedelta(weeks=2)]["pain_after_mean"] == pytest.approx(16 / 3)
    assert progress["pain_after_recent"] == pytest.approx(7 / 3)
    assert progress["pain_after_earlier"] == pytest.approx(64 / 12)
    assert progress["pain_trend"] == "lower"
    page = client.get("/me").text
    assert "Your pain after sessions has gone down: on average 2.3 of 10 in the last 2 weeks, against 5.3" in page
    done = weeks[THIS_MONDAY]["sessions_done"]
    assert f"This week you have done {done} of 3 sessions." in page


def test_progress_says_so_when_there_is_too_little_to_compare(client: TestClient) -> None:
    progress = client.get("/api/me/progress").json()
    assert progress["pain_trend"] == "unknown"
    assert "Report your pain after a few more sessions" in client.get("/me").text


def test_the_chart_is_an_image_with_a_name_and_a_table(client: TestClient, clinic: Clinic) -> None:
    add_reported_walks(clinic.store, clinic.patient_id, {THIS_MONDAY - timedelta(weeks=3): [4.0, 4.0]})
    page = client.get("/me").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg
    total = sum(w["sessions_done"] for w in client.get("/api/me/progress").json()["weeks"])
    assert f"{total} sessions in all." in svg
    assert svg.count("<rect") == PROGRESS_WEEKS
    assert "style=" not in svg  # the page's Content-Security-Policy refuses inline styles
    table = page[page.index('<details id="progress-table">') : page.index("</details>")]
    assert table.count("<tr>") == PROGRESS_WEEKS + 1  # and the heading row


def test_the_red_flag_questions_are_those_of_the_model() -> None:
    assert tuple(RedFlagAnswers.model_fields) == RED_FLAG_QUESTIONS
    assert tuple(RED_FLAG_TEXTS) == RED_FLAG_QUESTIONS
    assert tuple(RED_FLAG_NAMES) == RED_FLAG_QUESTIONS
    assert set(RED_FLAG_QUESTIONS) == set(get_args(RedFlag))


def test_the_api_is_described_with_its_response_models(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("/api/me", "get"): "MeOut",
        ("/api/me/progress", "get"): "ProgressOut",
        ("/api/me/sessions/{session_id}", "get"): "OwnSessionOut",
        ("/api/me/sessions/{session_id}/report", "put"): "SessionReportIn",
        ("/api/me/mornings/{day}", "put"): "MorningReportIn",
    }
    for (path, method), model in expected.items():
        schema = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"/{model}"), (path, method)
    listed = paths["/api/me/sessions"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["items"]["$ref"].endswith("/OwnSessionOut")
    assert not any(path.startswith("/me") for path in paths)  # the pages are not API
