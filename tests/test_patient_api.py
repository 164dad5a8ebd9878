"""The clinician's overview and patient pages over a real SQLite store: lights, reasons, order, forms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import sign_in
from sqlalchemy import select

from dashboard import create_app
from dashboard.queries import AttentionCache, patient_statuses
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import add_prescription, save_morning_report, save_session_report, week_start
from monitor.store.models import AuditEvent, SessionLoadRow
from monitor.tolerance import MorningReport, Prescription, SessionReport

TODAY = datetime.now(UTC).date()
THIS_MONDAY = week_start(TODAY)
LAST_MONDAY = THIS_MONDAY - timedelta(weeks=1)
PRESCRIPTION = Prescription(
    sessions_per_week=1, kinds=("walking",), volume_per_session=30, volume_unit="minutes", volume_goal=45
)
NAMES = {
    "p-decided": "Anna Decided",
    "p-none": "Bo None",
    "p-waiting": "Cleo Awaiting",
    "p-unknown": "Dag Unknown",
    "p-amber": "Eva Amber",
    "p-red": "Finn Red",
}
NEED_ORDER = ["p-red", "p-amber", "p-unknown", "p-waiting", "p-decided", "p-none"]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass(frozen=True)
class Clinic:
    store: Store
    physio_id: int
    other_physio_id: int
    sessions: dict[str, int]
    """The pseudonym's session last Monday."""


def add_walk(store: Store, pseudonym: str, day: date, *, trimp: float | None = None) -> int:
    with store.session() as db:
        patient = db.scalars(select(Patient).where(Patient.pseudonym == pseudonym)).one()
        session = TrainingSession(
            patient_id=patient.id,
            kind="walking",
            status="complete",
            started_at=at(day, 10),
            ended_at=at(day, 10) + timedelta(minutes=30),
            duration_s=1800.0,
            hr_coverage=0.99,
        )
        db.add(session)
        db.flush()
        if trimp is not None:
            db.add(SessionLoadRow(session_id=session.id, trimp_banister=trimp, trimp_edwards=2 * trimp))
        db.commit()
        return session.id


def report(store: Store, session_id: int, *, before: float, during: float, after: float, effort: float = 3) -> None:
    with store.session() as db:
        save_session_report(
            db,
            session_id,
            SessionReport(
                at(LAST_MONDAY, 11), pain_before=before, pain_during=during, pain_after=after, effort_cr10=effort
            ),
        )
        db.commit()


def morning(store: Store, pseudonym: str, day: date, *, pain: float, red_flags: frozenset[str] = frozenset()) -> None:
    with store.session() as db:
        patient = db.scalars(select(Patient).where(Patient.pseudonym == pseudonym)).one()
        save_morning_report(db, patient.id, MorningReport(day, at(day, 7), pain=pain, red_flags=red_flags))
        db.commit()


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    """Six patients, one in each state the overview tells apart; names in the reverse of their need."""
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Physio One")
        other = Clinician(email="other@example.invalid", display_name="Physio Two")
        db.add_all([physio, other])
        db.flush()
        for pseudonym, name in NAMES.items():
            patient = Patient(pseudonym=pseudonym, display_name=name, clinician_id=physio.id)
            db.add(patient)
            db.flush()
            if pseudonym != "p-none":
                add_prescription(
                    db, patient.id, PRESCRIPTION, valid_from=LAST_MONDAY - timedelta(weeks=1), clinician_id=physio.id
                )
        db.add(Patient(pseudonym="p-theirs", display_name="Not Yours", clinician_id=other.id))
        db.commit()
        ids = (physio.id, other.id)
    sessions = {p: add_walk(store, p, LAST_MONDAY, trimp=40.0) for p in NAMES if p != "p-none"}
    tuesday = LAST_MONDAY + timedelta(days=1)
    for pseudonym in ("p-decided", "p-waiting", "p-red"):
        report(store, sessions[pseudonym], before=1, during=1, after=1)
        morning(store, pseudonym, tuesday, pain=1)
    report(store, sessions["p-amber"], before=2, during=4, after=3)
    morning(store, "p-amber", tuesday, pain=2)
    morning(store, "p-red", TODAY, pain=1, red_flags=frozenset({"fever"}))
    yield Clinic(store, *ids, sessions)
    store.close()


def dashboard_app(store: Store, tmp_path: Path) -> FastAPI:
    return create_app(store, settings=Settings(data_dir=tmp_path))


@pytest.fixture
def client(clinic: Clinic, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(dashboard_app(clinic.store, tmp_path), base_url="https://testserver") as test_client:
        sign_in(test_client, clinician_id=clinic.physio_id)
        decided = test_client.post(
            f"/api/patients/p-decided/weeks/{LAST_MONDAY}/decision", json={"decision": "rejected"}
        )
        assert decided.status_code == 201, decided.text
        yield test_client


def overview(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/overview", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def reasons(row: dict[str, Any]) -> list[str]:
    return [m["text"] for m in row["reasons"]]


def test_patients_needing_attention_come_first_with_the_reason_in_words(client: TestClient) -> None:
    rows = overview(client)
    assert [r["pseudonym"] for r in rows] == NEED_ORDER
    by_pseudonym = {r["pseudonym"]: r for r in rows}
    assert [by_pseudonym[p]["light"] for p in NEED_ORDER] == ["red", "amber", "unknown", "green", "green", "none"]
    assert reasons(by_pseudonym["p-red"])[0] == (
        f"Red-flag answer on {TODAY.isoformat()}: fever. Refer to a doctor before training on."
    )
    assert reasons(by_pseudonym["p-amber"]) == ["Pain reached 4/10: acceptable (up to 5/10) but above the safe 2/10."]
    assert (
        reasons(by_pseudonym["p-unknown"])[0] == "No pain rating during the session yet, so tolerance cannot be judged."
    )
    assert reasons(by_pseudonym["p-waiting"]) == ["Pain stayed at or below 2/10 and had settled by the next morning."]
    assert by_pseudonym["p-waiting"]["awaiting_decision"] == LAST_MONDAY.isoformat()
    assert by_pseudonym["p-decided"]["awaiting_decision"] is None
    assert by_pseudonym["p-none"]["reasons"] == []
    assert "p-theirs" not in by_pseudonym
    amber = by_pseudonym["p-amber"]
    assert amber["latest_verdict"]["level"] == "amber"
    assert (amber["sessions_done_this_week"], amber["sessions_prescribed_this_week"]) == (0, 1)


def test_sorts_and_filters(client: TestClient) -> None:
    assert [r["pseudonym"] for r in overview(client, sort="name")] == list(NAMES)
    attention = [r["pseudonym"] for r in overview(client, filter="attention")]
    assert attention == ["p-red", "p-amber", "p-unknown", "p-waiting", "p-none"]
    assert [r["pseudonym"] for r in overview(client, filter="awaiting")] == [
        "p-red",
        "p-amber",
        "p-unknown",
        "p-waiting",
    ]
    # Never trained comes last; the rest trained at the same moment, so their order is the stable name order.
    assert overview(client, sort="last_session")[-1]["pseudonym"] == "p-none"
    assert client.get("/api/overview", params={"sort": "colour"}).status_code == 422


def test_the_light_follows_new_reports_at_once(client: TestClient, clinic: Clinic) -> None:
    assert {r["pseudonym"]: r["light"] for r in overview(client)}["p-unknown"] == "unknown"
    report(clinic.store, clinic.sessions["p-unknown"], before=1, during=1, after=1)
    morning(clinic.store, "p-unknown", LAST_MONDAY + timedelta(days=1), pain=1)
    assert {r["pseudonym"]: r["light"] for r in overview(client)}["p-unknown"] == "green"
    # The same number of reports, one rating changed: the light follows that too.
    report(clinic.store, clinic.sessions["p-unknown"], before=1, during=7, after=1)
    row = next(r for r in overview(client) if r["pseudonym"] == "p-unknown")
    assert row["light"] == "red"
    assert reasons(row)[0] == (f"Session on {LAST_MONDAY.isoformat()}: pain during was 7/10, above the limit of 5/10.")


def test_the_cache_assesses_only_patients_whose_rows_changed(clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    import dashboard.queries as queries

    assessed: list[int] = []
    real = queries.attention

    def counting(db: object, patient_id: int, **kwargs: object) -> queries.Attention:
        assessed.append(patient_id)
        return real(db, patient_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(queries, "attention", counting)
    cache = AttentionCache()
    with clinic.store.session() as db:
        first = patient_statuses(db, clinician_id=clinic.physio_id, tz=UTC, cache=cache)
        assert len(assessed) == len(NAMES)
        assert patient_statuses(db, clinician_id=clinic.physio_id, tz=UTC, cache=cache) == first
        assert len(assessed) == len(NAMES)
    morning(clinic.store, "p-amber", TODAY, pain=2)
    with clinic.store.session() as db:
        patient_statuses(db, clinician_id=clinic.physio_id, tz=UTC, cache=cache)
        amber_id = db.scalars(select(Patient.id).where(Patient.pseudonym == "p-amber")).one()
    assert assessed[len(NAMES) :] == [amber_id]


def test_the_overview_is_audited(client: TestClient, clinic: Clinic) -> None:
    overview(client)
    with clinic.store.session() as db:
        details = db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "view")).all()
    assert "GET /api/overview: the overview of 6 patients" in details


def test_days_give_trimp_and_pain_beside_the_load(client: TestClient, clinic: Clinic) -> None:
    days = client.get("/api/patients/p-amber/days").json()
    load = client.get("/api/patients/p-amber/load").json()
    assert days["days"] == load["days"]
    assert days["days"][0] == (THIS_MONDAY - timedelta(weeks=11)).isoformat()
    assert days["days"][-1] == TODAY.isoformat()
    i = days["days"].index(LAST_MONDAY.isoformat())
    assert (days["sessions"][i], days["trimp_banister"][i], days["trimp_edwards"][i]) == (1, 40.0, 80.0)
    assert (days["pain_during"][i], days["pain_after"][i], days["pain_next_morning"][i]) == (4.0, 3.0, 2.0)
    assert load["daily_au"][i] == 3 * 30  # CR-10 3 × 30 minutes
    assert sum(days["sessions"]) == 1
    assert [v for v in days["pain_during"] if v is not None] == [4.0]
    assert client.get("/api/patients/p-theirs/days").status_code == 404


class RowOrder(HTMLParser):
    """The data-pseudonym of every overview row, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.pseudonyms: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pseudonym = dict(attrs).get("data-pseudonym")
        if tag == "tr" and pseudonym:
            self.pseudonyms.append(pseudonym)


def page_order(html: str) -> list[str]:
    parser = RowOrder()
    parser.feed(html)
    return parser.pseudonyms


def test_the_patients_page_sorts_and_filters_without_javascript(client: TestClient) -> None:
    page = client.get("/").text
    assert page_order(page) == NEED_ORDER
    lights = [
        row.split("</span>", 1)[1].split("<", 1)[0] for row in page.split('class="light-shape" aria-hidden="true">')[1:]
    ]
    assert lights == ["Needs action", "Check", "Reports missing", "On track", "On track", "No prescription"]
    assert f"Red-flag answer on {TODAY.isoformat()}: fever." in page
    assert 'href="/patients/p-waiting#advice">Advice for the week of' in page
    assert '<a href="/?sort=name&amp;filter=all">' in page
    assert '<th scope="col" aria-sort="ascending"><a href="/?sort=need&amp;filter=all" aria-current="true">' in page
    assert page_order(client.get("/?sort=name").text) == list(NAMES)
    filtered = client.get("/?filter=attention&sort=name").text
    assert page_order(filtered) == ["p-none", "p-waiting", "p-unknown", "p-amber", "p-red"]
    assert "Showing 5 of 6 patients." in filtered
    assert page_order(client.get("/?sort=colour&filter=nonsense").text) == NEED_ORDER


def test_confirming_the_advice_on_the_page_records_it(client: TestClient) -> None:
    page = client.get("/patients/p-waiting").text
    action = f'action="/patients/p-waiting/weeks/{LAST_MONDAY.isoformat()}/decision"'
    assert action in page
    csrf = client.headers.pop("X-CSRF-Token")  # as a browser without JavaScript: the token in the form
    url = f"/patients/p-waiting/weeks/{LAST_MONDAY}/decision"
    refused = client.post(url, data={"decision": "confirmed"}, follow_redirects=False)
    assert refused.status_code == 403
    posted = client.post(
        url, data={"decision": "confirmed", "note": "fine", "csrf_token": csrf}, follow_redirects=False
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/patients/p-waiting#advice"
    weeks = client.get("/api/patients/p-waiting/weeks").json()
    decision = next(w for w in weeks if w["start"] == LAST_MONDAY.isoformat())["decision"]
    assert (decision["decision"], decision["decided_by"], decision["note"]) == ("confirmed", "Physio One", "fine")
    page = client.get("/patients/p-waiting").text
    assert action not in page
    assert "Confirmed by Physio One" in page
    again = client.post(url, data={"decision": "rejected", "csrf_token": csrf})
    assert again.status_code == 409
    assert "has been decided already" in again.text


def test_changing_the_advice_needs_a_valid_prescription(client: TestClient) -> None:
    url = f"/patients/p-amber/weeks/{LAST_MONDAY}/decision"
    bad = client.post(url, data={"decision": "changed", "volume_per_session": "lots"})
    assert bad.status_code == 422
    assert "Volume per session must be a number, not “lots”." in bad.text
    nothing = client.post(url, data={"decision": "maybe"})
    assert nothing.status_code == 422
    assert "Choose to confirm, change or reject the advice." in nothing.text
    changed = client.post(url, data={"decision": "changed", "volume_per_session": "25", "sessions_per_week": "2"})
    assert changed.status_code == 200  # followed the redirect to the page
    newest = client.get("/api/patients/p-amber/prescriptions").json()[0]
    assert newest["valid_from"] == THIS_MONDAY.isoformat()
    assert (newest["prescription"]["volume_per_session"], newest["prescription"]["sessions_per_week"]) == (25, 2)


def test_the_prescription_form_adds_a_version_and_keeps_what_it_does_not_change(client: TestClient) -> None:
    url = "/patients/p-amber/prescriptions"
    form = {"valid_from": TODAY.isoformat(), "volume_per_session": "35", "hr_ceiling_bpm": "120", "note": "longer"}
    saved = client.post(url, data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/patients/p-amber#prescription"
    versions = client.get("/api/patients/p-amber/prescriptions").json()
    assert [v["version"] for v in versions] == [2, 1]
    newest = versions[0]
    assert (newest["created_by"], newest["note"], newest["valid_from"]) == ("Physio One", "longer", TODAY.isoformat())
    assert newest["prescription"] | {"volume_per_session": 30, "hr_ceiling_bpm": None} == versions[1]["prescription"]
    assert (newest["prescription"]["volume_per_session"], newest["prescription"]["hr_ceiling_bpm"]) == (35, 120)
    page = client.get("/patients/p-amber").text
    assert "heart rate below 120 bpm" in page
    invalid = client.post(url, data={"valid_from": TODAY.isoformat(), "volume_per_session": "60"})
    assert invalid.status_code == 422
    assert "volume_per_session must be positive and at most volume_goal" in invalid.text
    assert client.post(url, data={"valid_from": "soon"}).status_code == 422
    assert len(client.get("/api/patients/p-amber/prescriptions").json()) == 2


def test_another_clinicians_patient_is_not_found_on_every_route(client: TestClient) -> None:
    assert client.get("/patients/p-theirs").status_code == 404
    assert client.post("/patients/p-theirs/prescriptions", data={"valid_from": TODAY.isoformat()}).status_code == 404
    decision = client.post(f"/patients/p-theirs/weeks/{LAST_MONDAY}/decision", data={"decision": "rejected"})
    assert decision.status_code == 404
