"""The HTML forms under arbitrary text: an answer a browser can show (200, 303, 4xx), never a 5xx, and nothing
invalid in the database.

Every field of each form gets text from :func:`field_text`: any Unicode with control characters
and NUL, numbers as Python's ``float()`` reads them and nearly (nan, inf, 1e400, -0, 1_0, full-width
digits, a comma for the decimal point), negative and huge numbers, and text of thousands of
characters. After each post the rows the form writes are read back and held to the domain's rules
(a rating is one of the answers offered, a prescription's numbers are finite and pass its own
checks, a name is at most 200 characters without surrounding space...). Hypothesis is
derandomized: each run posts the same forms.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dashboard import create_app
from dashboard.i18n import LANGUAGES
from dashboard.pages import DECISIONS
from dashboard.patient_pages import MORNING_QUESTIONS, SESSION_QUESTIONS
from monitor.demo import DEMO_CLINICIAN, seed_demo_clinic
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import prescription_from_json, week_start
from monitor.store.models import (
    AdviceDecision,
    MorningReportRow,
    PrescriptionVersion,
    SessionReportRow,
    WebSession,
)
from monitor.tolerance.reports import MAX_WEIGHT_KG, RED_FLAG_QUESTIONS

TODAY = date(2026, 3, 4)
"""The seeded clinic's today: two weeks of history, the last one's advice still to decide."""
FORM_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NUMBERS_AS_TEXT = (
    *("nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "9" * 400),
    *("-0", "0", "-1", "3", "10", "10.5", "11", "500", "500.01", "-5", "1_0", "٣", "１０", " 7 ", "7\n", "5,5"),
    *("0x10", "1e3", "2026-03-09", "2026-02-30", "\x00", "a\x00b", ""),
)


def field_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBERS_AS_TEXT),
        st.one_of(st.integers(-(10**30), 10**30), st.floats()).map(str),
        st.one_of(
            st.text(max_size=40),
            st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(300, 3000)),
        ),
    )


def form(sensible: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    """The form filled in sensibly (a field now and then left empty) but for one to three fields of arbitrary text:
    the rest gets through, so what the arbitrary ones do is what gets checked."""
    return st.builds(
        operator.or_,
        st.fixed_dictionaries({name: st.sampled_from([value, value, value, ""]) for name, value in sensible.items()}),
        st.dictionaries(st.sampled_from(list(sensible)), field_text(), min_size=1, max_size=3),
    )


@dataclass(frozen=True)
class Clinic:
    store: Store
    clinician_id: int
    patient_id: int
    pseudonym: str
    session_id: int
    week_to_decide: date


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Both databases: PostgreSQL refuses what SQLite takes (NUL in text, text past its column)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('forms') / 'dosis.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    server.start()
    name = server.create_database()
    yield server.database_url(name)
    server.start()
    server.drop_database(name)


@pytest.fixture(scope="module")
def clinic(database_url: str) -> Iterator[Clinic]:
    store = Store(database_url, tz=UTC)
    patients = asyncio.run(seed_demo_clinic(store, today=TODAY, weeks=2))
    with store.session() as db:
        clinician = db.scalars(select(Clinician).where(Clinician.email == DEMO_CLINICIAN.email)).one()
        session_id = db.scalar(select(TrainingSession.id).where(TrainingSession.patient_id == patients[0].id).limit(1))
        assert session_id is not None
        yield Clinic(
            store,
            clinician.id,
            patients[0].id,
            patients[0].pseudonym,
            session_id,
            week_start(TODAY) - timedelta(weeks=1),
        )
    store.close()


def client_for(clinic: Clinic, **who: int) -> Iterator[TestClient]:
    settings_ = Settings(data_dir=Path("/nonexistent"), failed_logins_per_minute=1_000_000)
    with TestClient(
        create_app(clinic.store, settings=settings_), base_url="https://testserver", follow_redirects=False
    ) as client:
        sign_in(client, **who)
        yield client


@pytest.fixture(scope="module")
def clinician(clinic: Clinic) -> Iterator[TestClient]:
    yield from client_for(clinic, clinician_id=clinic.clinician_id)


@pytest.fixture(scope="module")
def patient(clinic: Clinic) -> Iterator[TestClient]:
    yield from client_for(clinic, patient_id=clinic.patient_id)


@pytest.fixture(scope="module")
def nobody(clinic: Clinic) -> Iterator[TestClient]:
    settings_ = Settings(data_dir=Path("/nonexistent"), failed_logins_per_minute=1_000_000)
    with TestClient(
        create_app(clinic.store, settings=settings_), base_url="https://testserver", follow_redirects=False
    ) as client:
        yield client


def posted(client: TestClient, path: str, form: dict[str, Any]) -> int:
    status: int = client.post(path, data=form).status_code
    assert status < 500
    return status


def assert_prescriptions_valid(clinic: Clinic) -> None:
    with clinic.store.session() as db:
        versions = db.scalars(select(PrescriptionVersion).where(PrescriptionVersion.patient_id == clinic.patient_id))
        for version in versions:
            prescription = prescription_from_json(version.fields)  # its own checks, again
            numbers = [v for v in dataclasses.asdict(prescription).values() if isinstance(v, float)]
            assert all(math.isfinite(v) for v in numbers), prescription
            assert len(version.note) <= 1000


KINDS = st.lists(st.one_of(st.sampled_from(["walking", "strength"]), field_text()), min_size=1, max_size=3)
PRESCRIPTION = {
    "sessions_per_week": "3",
    "volume_per_session": "25",
    "volume_unit": "minutes",
    "volume_goal": "40",
    "intensity": "12.5",
    "intensity_unit": "kg",
    "hr_ceiling_bpm": "140",
    "pain_during_limit": "5",
    "pain_after_limit": "5",
    "valid_from": "2026-03-09",
    "note": "Steady weeks",
}


# Found by this test: an infinite number was a 500 (int(inf), and JSON refusing inf), a long note went in whole.
@example(form={"valid_from": "2026-03-09", "sessions_per_week": "inf"})
@example(form={"valid_from": "2026-03-09", "volume_goal": "1e400"})
@example(form={"valid_from": "2026-03-09", "intensity": "nan", "intensity_unit": "kg"})
@example(form={"valid_from": "2026-03-09", "note": "x" * 1001})
@given(form=st.builds(operator.or_, form(PRESCRIPTION), st.fixed_dictionaries({}, optional={"kinds": KINDS})))
@FORM_SETTINGS
def test_the_prescription_form(clinician: TestClient, clinic: Clinic, form: dict[str, Any]) -> None:
    assert posted(clinician, f"/patients/{clinic.pseudonym}/prescriptions", form) in (303, 422)
    assert_prescriptions_valid(clinic)


@example(form={"decision": "changed", "sessions_per_week": "inf"})
@given(
    form=st.builds(
        operator.or_,
        form({"sessions_per_week": "4", "volume_per_session": "30", "intensity": "15", "note": "As advised"}),
        st.fixed_dictionaries({"decision": st.one_of(st.sampled_from(DECISIONS), field_text())}),
    )
)
@FORM_SETTINGS
def test_the_decision_form(clinician: TestClient, clinic: Clinic, form: dict[str, Any]) -> None:
    path = f"/patients/{clinic.pseudonym}/weeks/{clinic.week_to_decide}/decision"
    assert posted(clinician, path, form) in (303, 409, 422)
    with clinic.store.session() as db:
        decisions = db.scalars(select(AdviceDecision).where(AdviceDecision.patient_id == clinic.patient_id)).all()
    assert all(d.decision in DECISIONS and len(d.note) <= 1000 for d in decisions)
    assert_prescriptions_valid(clinic)


def assert_rating(value: float | None, options: set[float]) -> None:
    assert value is None or value in options, value


@given(
    form=form(
        {name: "4" for name in SESSION_QUESTIONS} | {"weight_kg": "12.5"} | dict.fromkeys(RED_FLAG_QUESTIONS, "no")
    )
)
@FORM_SETTINGS
def test_the_session_report_form(patient: TestClient, clinic: Clinic, form: dict[str, Any]) -> None:
    assert posted(patient, f"/me/sessions/{clinic.session_id}", form) in (303, 422)
    with clinic.store.session() as db:
        report = db.get(SessionReportRow, clinic.session_id)
    if report is not None:
        for name, question in SESSION_QUESTIONS.items():
            assert_rating(getattr(report, name), {option.number for option in question.options})
        assert report.weight_kg is None or 0 < report.weight_kg <= MAX_WEIGHT_KG
        assert set(report.red_flags) <= set(RED_FLAG_QUESTIONS)


@given(form=form({name: "2" for name in MORNING_QUESTIONS} | dict.fromkeys(RED_FLAG_QUESTIONS, "yes")))
@FORM_SETTINGS
def test_the_morning_report_form(patient: TestClient, clinic: Clinic, form: dict[str, Any]) -> None:
    today = datetime.now(UTC).date()
    assert posted(patient, f"/me/mornings/{today}", form) in (303, 422)
    with clinic.store.session() as db:
        reports = db.scalars(select(MorningReportRow).where(MorningReportRow.patient_id == clinic.patient_id)).all()
    for report in reports:
        for name, question in MORNING_QUESTIONS.items():
            assert_rating(getattr(report, name), {option.number for option in question.options})
        assert set(report.red_flags) <= set(RED_FLAG_QUESTIONS)


@given(
    display_name=st.one_of(st.just("Ove Hansen"), field_text()),
    locale=st.one_of(st.sampled_from(["", "da"]), field_text()),
)
@FORM_SETTINGS
def test_the_new_patient_form(clinician: TestClient, clinic: Clinic, display_name: str, locale: str) -> None:
    assert posted(clinician, "/patients/new", {"display_name": display_name, "locale": locale}) in (303, 422)
    with clinic.store.session() as db:
        for name, language in db.execute(select(Patient.display_name, Patient.locale)):
            assert name == name.strip()
            assert 0 < len(name) <= 200
            assert language is None or language in LANGUAGES


@given(locale=st.one_of(st.sampled_from(["", "nb"]), field_text()))
@FORM_SETTINGS
def test_the_language_forms(clinician: TestClient, patient: TestClient, clinic: Clinic, locale: str) -> None:
    assert posted(clinician, "/account/language", {"locale": locale}) in (303, 422)
    assert posted(patient, "/me/account/language", {"locale": locale}) in (303, 422)
    with clinic.store.session() as db:
        chosen = [db.get_one(Clinician, clinic.clinician_id).locale, db.get_one(Patient, clinic.patient_id).locale]
    assert all(language is None or language in LANGUAGES for language in chosen)


@given(
    form=st.fixed_dictionaries({name: field_text() for name in ("current_password", "new_password", "repeat_password")})
)
@FORM_SETTINGS
def test_the_password_form_without_the_current_password(
    clinician: TestClient, clinic: Clinic, form: dict[str, Any]
) -> None:
    with clinic.store.session() as db:
        before = db.get_one(Clinician, clinic.clinician_id).password_hash
    assert posted(clinician, "/account/password", form) == 422
    with clinic.store.session() as db:
        assert db.get_one(Clinician, clinic.clinician_id).password_hash == before


def web_sessions(clinic: Clinic) -> int:
    with clinic.store.session() as db:
        return db.scalar(select(func.count()).select_from(WebSession)) or 0


@given(email=st.one_of(st.just(DEMO_CLINICIAN.email), field_text()), password=field_text(), next_path=field_text())
@settings(FORM_SETTINGS, max_examples=15)  # each wrong password costs an argon2 hash
def test_the_sign_in_forms(nobody: TestClient, clinic: Clinic, email: str, password: str, next_path: str) -> None:
    before = web_sessions(clinic)
    assert posted(nobody, "/login", {"email": email, "password": password, "next": next_path}) in (401, 422, 429)
    assert posted(nobody, "/signin", {"code": password}) in (401, 422, 429)
    assert web_sessions(clinic) == before
