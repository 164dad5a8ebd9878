"""One relational contract for SQLite and PostgreSQL: what goes in comes back, constraints hold, deletes cascade.

Each test runs on both real databases (``store``), or on both at once where the point is
that they agree (``both``). The PostgreSQL server's own time zone is America/St_Johns, so a
time that came back in the server's zone instead of UTC would show. Differences known today
are written down at the end as strict expected failures: fixing one makes its test fail
until the mark is removed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard.queries import list_patients
from monitor.store import Clinician, Device, Patient, SessionAnalysis, SessionEvent, SignalChunk, Store, TrainingSession
from monitor.store.clinical import (
    add_prescription,
    assess_patient,
    daily_srpe_au,
    in_force,
    prescription_to_json,
    prescription_versions,
    record_decision,
    save_morning_report,
    save_session_report,
    write_session_load,
)
from monitor.store.models import (
    AdviceDecision,
    AuditEvent,
    Base,
    ClinicalProfile,
    MorningReportRow,
    PatientSignIn,
    PrescriptionVersion,
    SessionLoadRow,
    SessionReportRow,
    WebSession,
)
from monitor.tolerance import MorningReport, Prescription, SessionReport

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
NEPAL = timezone(timedelta(hours=5, minutes=45))
BEFORE_DST = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=COPENHAGEN)
"""00:59:59.999999 UTC, the last microsecond of winter time in Copenhagen."""
AFTER_DST = datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=COPENHAGEN)
"""01:00:00.000001 UTC, two microseconds later."""
BEYOND_FLOAT_NS = 2**62 + 1
"""A float64 holds 2**62 and 2**62 + 1 as the same number."""
T0 = 1_793_610_000_000_000_001  # 2026-11-02 08:20 UTC plus 1 ns: odd, so a float would have changed it


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 'dosis.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = Store(url)
    yield store
    store.close()


@pytest.fixture
def both(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, Store]]:
    """SQLite and PostgreSQL side by side, to run the same steps on each and compare."""
    stores = {"sqlite": Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}"), "postgresql": Store(postgres_url)}
    yield stores
    for each in stores.values():
        each.close()


def assert_same(got: Any, expected: Any, where: str) -> None:
    """Equal and of the same type all the way down (True is not 1, a date is not a datetime)."""
    assert type(got) is type(expected), f"{where}: {type(got).__name__} {got!r} for {type(expected).__name__}"
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{where}[{i}]")
    elif isinstance(expected, datetime):
        # In UTC first: Python finds an ambiguous local time (a DST fold) unequal to every other zone's.
        assert got == expected.astimezone(UTC), where
        assert got.tzinfo is UTC, f"{where}: {got!r} is not in UTC"
    else:
        assert got == expected, where


def test_every_model_round_trips_exactly(store: Store) -> None:
    prescription = Prescription(
        sessions_per_week=3,
        kinds=("walking", "strength"),
        volume_per_session=12.5,
        volume_unit="minutes",
        volume_goal=30,
    )
    written: list[tuple[type[Base], tuple[Any, ...], dict[str, Any]]] = []

    def add(db: Session, model: type[Base], **values: Any) -> Any:
        row = model(**values)
        db.add(row)
        db.flush()
        written.append((model, inspect(row).identity or (), values))
        return row

    with store.session() as db:
        clinician = add(
            db,
            Clinician,
            email="fysio.ørsted@klinik.invalid",
            display_name="Ørsted Ærø — 李 😀",
            password_hash="$argon2id$v=19$m=65536,t=3,p=4$" + "A" * 22 + "$" + "B" * 43,
            is_admin=True,
            locale="da",
            disabled_at=AFTER_DST,
            failed_logins=4,
            locked_until=datetime(2026, 3, 29, 3, 15, tzinfo=COPENHAGEN),
        )
        patient = add(
            db,
            Patient,
            pseudonym="p-ünï-01",
            display_name="Zoë O'Brien-Ñúñez 🏃",
            clinician_id=clinician.id,
            locale="nb",
        )
        hub = add(
            db,
            Device,
            kind="hub",
            name="gym-nord-ø",
            token_sha256="ab" * 32,
            created_at=datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=NEPAL),
            revoked_at=None,
            last_seen_at=AFTER_DST,
        )
        session = add(
            db,
            TrainingSession,
            uid="0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
            hub_id=hub.id,
            patient_id=patient.id,
            kind="walking",
            status="complete",
            started_at=BEFORE_DST,
            ended_at=AFTER_DST,
            source="replay of gång_✓.jsonl.gz",
            devices="Polar H10 0A1B2C3D, Verity Sense",
            malformed_count=2**31 - 1,
            duration_s=0.1 + 0.2,
            hr_mean_bpm=math.pi,
            hr_max_bpm=1e308,
            hr_coverage=5e-324,
            beat_count=0,
            acc_sample_count=None,
        )
        add(
            db,
            SessionAnalysis,
            session_id=session.id,
            version=2,
            activity={
                "steps": 2**53 + 1,
                "walking_s": 0.1,
                "sets": [{"reps": 10, "time_under_tension_s": 31.25, "rest_before_s": None}],
                "label": 'gång ✓ "quoted" \\ back',
                "complete": True,
            },
            heart={"alpha1": 0.75, "hrvt1_bpm": None, "beats": 0},
        )
        add(db, SessionEvent, session_id=session.id, seq=0, t_ns=BEYOND_FLOAT_NS, kind="gap", message="😀" * 500)
        add(
            db,
            SignalChunk,
            session_id=session.id,
            signal="acc_mg",
            device="Polar H10 0A1B2C3D",
            t_start_ns=BEYOND_FLOAT_NS,
            t_end_ns=2**63 - 1,
            n_samples=2,
            channels=3,
            encoding="int16",
            scale=0.001,
            times=b"\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f",
            values=bytes(range(256)) * 4,
        )
        add(
            db,
            ClinicalProfile,
            patient_id=patient.id,
            sex="female",
            birth_year=1951,
            hr_rest_bpm=58.5,
            hr_max_bpm=None,
            updated_at=datetime(2026, 10, 25, 2, 30, tzinfo=COPENHAGEN),  # the hour that happens twice
        )
        version = add(
            db,
            PrescriptionVersion,
            patient_id=patient.id,
            version=1,
            valid_from=date(2026, 2, 28),
            fields=prescription_to_json(prescription),
            created_at=AFTER_DST,
            created_by=clinician.id,
            note="første version — 初版",
        )
        add(
            db,
            SessionReportRow,
            session_id=session.id,
            pain_before=0.0,
            pain_during=2.5,
            pain_after=None,
            effort_cr10=10.0,
            weight_kg=12.345678901234567,
            red_flags=["fever", "numbness"],
            reported_at=AFTER_DST + timedelta(minutes=30),
        )
        add(
            db,
            MorningReportRow,
            patient_id=patient.id,
            day=date(2028, 2, 29),
            pain=None,
            stiffness=7.0,
            red_flags=[],
            reported_at=datetime(2028, 2, 29, 7, 0, tzinfo=NEPAL),
        )
        add(
            db,
            SessionLoadRow,
            session_id=session.id,
            trimp_banister=123.45678901234568,
            trimp_edwards=0.0,
            time_above_ceiling_s=None,
            ceiling_bpm=119.99999999999999,
        )
        add(
            db,
            AdviceDecision,
            patient_id=patient.id,
            week_start=date(2026, 3, 23),
            advice={"action": "progress", "message": {"key": "advice.progress", "params": {"percent": 10.0}}},
            decision="confirmed",
            prescription_version_id=version.id,
            decided_at=BEFORE_DST,
            decided_by=clinician.id,
            note="",
        )
        add(
            db,
            AuditEvent,
            at=BEFORE_DST,
            actor="clinician:1",
            action="view",
            patient_pseudonym="p-ünï-01",
            detail="weeks 1–12",
        )
        sign_in = add(
            db,
            PatientSignIn,
            patient_id=patient.id,
            code_sha256="cd" * 32,
            created_at=BEFORE_DST,
            created_by=clinician.id,
            revoked_at=None,
            last_used_at=AFTER_DST,
        )
        add(
            db,
            WebSession,
            token_sha256="ef" * 32,
            clinician_id=None,
            patient_id=patient.id,
            sign_in_id=sign_in.id,
            csrf_token="x" * 43,
            created_at=BEFORE_DST,
            last_seen_at=AFTER_DST,
            expires_at=datetime(2026, 6, 1, 0, 0, 0, 999_999, tzinfo=NEPAL),
        )
        db.commit()
    assert {model.__tablename__ for model, _, _ in written} == set(Base.metadata.tables)
    with store.session() as db:
        for model, identity, values in written:
            row = db.get_one(model, identity)
            for name, expected in values.items():
                assert_same(getattr(row, name), expected, f"{model.__name__}.{name}")


def test_ns_times_beyond_float_precision_compare_exactly(store: Store, patient_id: int) -> None:
    with store.session() as db:
        session = TrainingSession(patient_id=patient_id, kind="walking", started_at=BEFORE_DST)
        db.add(session)
        db.flush()
        db.add(SessionEvent(session_id=session.id, t_ns=BEYOND_FLOAT_NS, kind="gap", message="a"))
        db.commit()
    t_ns = np.array([T0, T0 + 2])
    store.signals.append(session.id, "hr_bpm", "h10", t_ns, [[60, 1], [61, 1]])
    with store.session() as db:
        found = db.scalars(select(SessionEvent.t_ns).where(SessionEvent.t_ns == BEYOND_FLOAT_NS)).all()
        not_found = db.scalars(select(SessionEvent.t_ns).where(SessionEvent.t_ns == BEYOND_FLOAT_NS - 1)).all()
    assert (found, not_found) == ([BEYOND_FLOAT_NS], [])
    # The chunk ends at T0 + 2: a cut-off there keeps it, one nanosecond later removes it.
    assert store.signals.apply_retention(older_than_ns=T0 + 2) == 0
    np.testing.assert_array_equal(store.signals.read(session.id, "hr_bpm").t_ns, t_ns)
    assert store.signals.apply_retention(older_than_ns=T0 + 3) == 1
    assert len(store.signals.read(session.id, "hr_bpm")) == 0


def test_time_comparisons_and_aggregates_are_exact_and_in_utc(store: Store, patient_id: int) -> None:
    with store.session() as db:
        for started in (BEFORE_DST, AFTER_DST, AFTER_DST + timedelta(microseconds=1)):
            db.add(TrainingSession(patient_id=patient_id, kind="walking", started_at=started))
        db.commit()
    # The same instant in another zone, as a bound parameter.
    after_in_nepal = AFTER_DST.astimezone(NEPAL)
    with store.session() as db:
        later = db.scalars(
            select(TrainingSession.started_at)
            .where(TrainingSession.started_at >= after_in_nepal)
            .order_by(TrainingSession.started_at)
        ).all()
        strictly_later = db.scalars(select(TrainingSession.id).where(TrainingSession.started_at > AFTER_DST)).all()
        first, last = db.execute(
            select(func.min(TrainingSession.started_at), func.max(TrainingSession.started_at))
        ).one()
        count = db.scalar(select(func.count()).select_from(TrainingSession))
    assert later == [AFTER_DST, AFTER_DST + timedelta(microseconds=1)]
    assert all(t.tzinfo is UTC for t in later)
    assert len(strictly_later) == 1
    assert_same(first, BEFORE_DST.astimezone(UTC), "min")
    assert_same(last, (AFTER_DST + timedelta(microseconds=1)).astimezone(UTC), "max")
    assert_same(count, 3, "count")


@dataclass
class Record:
    """One patient with a row in every table that holds patient data."""

    patient_id: int
    session_ids: list[int]
    version_id: int


def add_record(store: Store, pseudonym: str, *, clinician_id: int | None = None, hub_id: int | None = None) -> Record:
    with store.session() as db:
        patient = Patient(pseudonym=pseudonym, display_name=pseudonym.upper(), clinician_id=clinician_id)
        db.add(patient)
        db.flush()
        sessions = [
            TrainingSession(
                patient_id=patient.id, hub_id=hub_id, kind="walking", started_at=BEFORE_DST + timedelta(days=d)
            )
            for d in range(2)
        ]
        db.add_all(sessions)
        db.flush()
        for session in sessions:
            db.add(SessionEvent(session_id=session.id, seq=1, kind="gap", message="no data"))
            db.add(SessionAnalysis(session_id=session.id, version=2, activity={"steps": 10}, heart=None))
            db.add(SessionLoadRow(session_id=session.id, trimp_banister=1.0))
            save_session_report(db, session.id, SessionReport(AFTER_DST, pain_during=2))
        db.add(ClinicalProfile(patient_id=patient.id, sex="male", updated_at=AFTER_DST))
        version = add_prescription(
            db,
            patient.id,
            Prescription(1, ("walking",), 20, "minutes", 30),
            valid_from=date(2026, 3, 23),
            clinician_id=clinician_id,
        )
        save_morning_report(db, patient.id, MorningReport(date(2026, 3, 29), AFTER_DST, pain=1))
        db.add(
            AdviceDecision(
                patient_id=patient.id,
                week_start=date(2026, 3, 23),
                advice={},
                decision="confirmed",
                prescription_version_id=version.id,
                decided_at=AFTER_DST,
                decided_by=clinician_id,
            )
        )
        db.commit()
        record = Record(patient.id, [s.id for s in sessions], version.id)
    for session_id in record.session_ids:
        store.signals.append(session_id, "hr_bpm", "h10", [T0, T0 + 1], [[60, 1], [61, 1]])
    return record


OWNED_BY_PATIENT = (ClinicalProfile, PrescriptionVersion, MorningReportRow, AdviceDecision, TrainingSession)
OWNED_BY_SESSION = (SessionEvent, SessionAnalysis, SessionLoadRow, SessionReportRow, SignalChunk)


def owned_rows(db: Session, record: Record) -> dict[str, int]:
    """How many rows of each table are the patient's."""
    counts = {"patient": db.scalar(select(func.count()).where(Patient.id == record.patient_id)) or 0}
    for model in OWNED_BY_PATIENT:
        counts[model.__tablename__] = (
            db.scalar(select(func.count()).select_from(model).where(model.patient_id == record.patient_id)) or 0
        )
    for owned in OWNED_BY_SESSION:
        counts[owned.__tablename__] = (
            db.scalar(select(func.count()).select_from(owned).where(owned.session_id.in_(record.session_ids))) or 0
        )
    return counts


@pytest.mark.parametrize("how", ["sql", "orm"])
def test_deleting_a_patient_cascades_to_everything_of_theirs_and_nothing_else(store: Store, how: str) -> None:
    leaving, staying = add_record(store, "p-leaving"), add_record(store, "p-staying")
    with store.session() as db:
        before = owned_rows(db, leaving)
        assert all(before.values()), f"the record lacks a table: {before}"
        staying_before = owned_rows(db, staying)
    with store.session() as db:
        if how == "sql":
            db.execute(delete(Patient).where(Patient.id == leaving.patient_id))
        else:
            db.delete(db.get_one(Patient, leaving.patient_id))
        db.commit()
    with store.session() as db:
        assert owned_rows(db, leaving) == dict.fromkeys(before, 0)
        assert owned_rows(db, staying) == staying_before
    assert [len(store.signals.read(s, "hr_bpm")) for s in leaving.session_ids + staying.session_ids] == [0, 0, 2, 2]


def test_deleting_a_session_cascades_to_its_events_signals_analysis_load_and_report(store: Store) -> None:
    record = add_record(store, "p-one")
    gone, kept = record.session_ids
    with store.session() as db:
        db.execute(delete(TrainingSession).where(TrainingSession.id == gone))
        db.commit()
    with store.session() as db:
        for owned in OWNED_BY_SESSION:
            ids = db.scalars(select(owned.session_id).where(owned.session_id.in_(record.session_ids))).all()
            assert set(ids) == {kept}, owned.__tablename__
        counts = owned_rows(db, Record(record.patient_id, [], record.version_id))
    assert counts == {
        "patient": 1,
        "clinical_profile": 1,
        "prescription_version": 1,
        "morning_report": 1,
        "advice_decision": 1,
        "training_session": 1,
    } | {owned.__tablename__: 0 for owned in OWNED_BY_SESSION}


def test_deleting_a_hub_or_clinician_leaves_their_records_with_null(store: Store) -> None:
    with store.session() as db:
        hub = Device(kind="hub", name="gym", token_sha256="0" * 64, created_at=AFTER_DST)
        author = Clinician(email="author@klinik.invalid", display_name="Author")
        db.add_all([hub, author])
        db.commit()
    record = add_record(store, "p-hub", hub_id=hub.id, clinician_id=None)
    with store.session() as db:
        db.execute(delete(Device).where(Device.id == hub.id))
        version = db.get_one(PrescriptionVersion, record.version_id)
        version.created_by = author.id
        db.execute(update(AdviceDecision).values(decided_by=author.id))
        db.commit()
    with store.session() as db:
        db.execute(delete(Clinician).where(Clinician.id == author.id))
        db.commit()
    with store.session() as db:
        hubs = db.scalars(select(TrainingSession.hub_id).where(TrainingSession.patient_id == record.patient_id)).all()
        created_by = db.scalar(select(PrescriptionVersion.created_by))
        decided_by = db.scalar(select(AdviceDecision.decided_by))
    assert (hubs, created_by, decided_by) == ([None, None], None, None)


@pytest.mark.parametrize("target", ["clinician with patients", "prescription version with a decision"])
def test_deleting_what_others_still_refer_to_is_refused(store: Store, target: str) -> None:
    with store.session() as db:
        clinician = Clinician(email="physio@klinik.invalid", display_name="Physio")
        db.add(clinician)
        db.commit()
    record = add_record(store, "p-ref", clinician_id=clinician.id)
    statement = (
        delete(Clinician).where(Clinician.id == clinician.id)
        if target.startswith("clinician")
        else delete(PrescriptionVersion).where(PrescriptionVersion.id == record.version_id)
    )
    with store.session() as db:
        with pytest.raises(IntegrityError):
            db.execute(statement)
        db.rollback()
        assert db.get(Clinician, clinician.id) is not None
        assert db.get(PrescriptionVersion, record.version_id) is not None


def _duplicate(model: type[Base], **values: Any) -> Callable[[Record], Base]:
    def make(record: Record) -> Base:
        fields = {k: v(record) if callable(v) else v for k, v in values.items()}
        return model(**fields)

    return make


DUPLICATES = {
    "morning report per patient and day": _duplicate(
        MorningReportRow, patient_id=lambda r: r.patient_id, day=date(2026, 3, 29), red_flags=[], reported_at=AFTER_DST
    ),
    "session uid": _duplicate(
        TrainingSession,
        patient_id=lambda r: r.patient_id,
        kind="walking",
        started_at=AFTER_DST,
        uid="11111111-2222-3333-4444-555555555555",
    ),
    "event seq per session": _duplicate(
        SessionEvent, session_id=lambda r: r.session_ids[0], seq=1, kind="gap", message="again"
    ),
    "prescription version per patient": _duplicate(
        PrescriptionVersion,
        patient_id=lambda r: r.patient_id,
        version=1,
        valid_from=date(2026, 4, 1),
        fields={},
        created_at=AFTER_DST,
    ),
    "advice decision per patient and week": _duplicate(
        AdviceDecision,
        patient_id=lambda r: r.patient_id,
        week_start=date(2026, 3, 23),
        advice={},
        decision="rejected",
        decided_at=AFTER_DST,
    ),
    "signal chunk per session, signal, device and start": _duplicate(
        SignalChunk,
        session_id=lambda r: r.session_ids[0],
        signal="hr_bpm",
        device="h10",
        t_start_ns=T0,
        t_end_ns=T0 + 5,
        n_samples=1,
        channels=2,
        encoding="int16",
        values=b"\x00\x00\x00\x00",
    ),
    "patient pseudonym": _duplicate(Patient, pseudonym="p-dup", display_name="Other"),
    "clinician email": _duplicate(Clinician, email="a@klinik.invalid", display_name="Other"),
    "device name": _duplicate(Device, kind="hub", name="gym", token_sha256="2" * 64, created_at=AFTER_DST),
    "device token": _duplicate(Device, kind="hub", name="other", token_sha256="1" * 64, created_at=AFTER_DST),
}


@pytest.mark.parametrize("name", DUPLICATES)
def test_unique_constraints_refuse_a_second_row(store: Store, name: str) -> None:
    record = add_record(store, "p-dup")
    with store.session() as db:
        db.add(Clinician(email="a@klinik.invalid", display_name="A"))
        db.add(Device(kind="hub", name="gym", token_sha256="1" * 64, created_at=AFTER_DST))
        db.add(
            TrainingSession(
                patient_id=record.patient_id,
                kind="walking",
                started_at=AFTER_DST,
                uid="11111111-2222-3333-4444-555555555555",
            )
        )
        db.commit()
    with store.session() as db:
        rows_before = {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        db.add(DUPLICATES[name](record))
        with pytest.raises(IntegrityError):
            db.commit()
        db.rollback()
        rows_after = {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    assert rows_after == rows_before


def test_null_keys_and_other_cases_are_not_duplicates(store: Store) -> None:
    """Unique keys with NULL in them may repeat; pseudonyms differing only in case are two patients."""
    record = add_record(store, "p-case")
    with store.session() as db:
        for _ in range(2):
            db.add(SessionEvent(session_id=record.session_ids[0], seq=None, kind="gap", message="unnumbered"))
            db.add(TrainingSession(patient_id=record.patient_id, kind="walking", started_at=AFTER_DST, uid=None))
        db.add(SessionEvent(session_id=record.session_ids[1], seq=2, kind="gap", message="same seq, other session"))
        db.add(SessionEvent(session_id=record.session_ids[0], seq=2, kind="gap", message="same seq, other session"))
        db.add(Patient(pseudonym="P-CASE", display_name="Upper"))
        db.commit()
        unnumbered = db.scalar(select(func.count()).where(SessionEvent.seq.is_(None)))
        without_uid = db.scalar(select(func.count()).where(TrainingSession.uid.is_(None)))
        pseudonyms = db.scalars(select(Patient.pseudonym).order_by(Patient.id)).all()
    assert (unnumbered, without_uid) == (2, 4)
    assert pseudonyms == ["p-case", "P-CASE"]


def test_a_chunk_appended_twice_is_stored_once(store: Store, patient_id: int) -> None:
    with store.session() as db:
        session = TrainingSession(patient_id=patient_id, kind="walking", started_at=AFTER_DST)
        db.add(session)
        db.commit()
    t_ns = T0 + np.arange(5) * 1_000_000_000
    values = np.column_stack([np.arange(60, 65), np.ones(5)])
    store.signals.append(session.id, "hr_bpm", "h10", t_ns, values)
    store.signals.append(session.id, "hr_bpm", "h10", t_ns, values)
    # A retry with other values under the same key is not a second chunk either: the first stays.
    store.signals.append(session.id, "hr_bpm", "h10", t_ns, values + np.array([10, 0]))
    with store.session() as db:
        chunks = db.scalar(select(func.count()).select_from(SignalChunk))
    signal = store.signals.read(session.id, "hr_bpm")
    assert chunks == 1
    np.testing.assert_array_equal(signal.t_ns, t_ns)
    np.testing.assert_array_equal(signal.values, values)


# The clinical record and the dashboard on both databases at once: the same steps give the same answers.

CHATHAM = ZoneInfo("Pacific/Chatham")
"""UTC+13:45 in its summer: the clinic's day and the UTC day differ for most of the day."""
MONDAY = date(2026, 10, 5)
HR_1HZ = np.array([100, 115, 121, 125, np.nan, 119, 130, 120], dtype=np.float64)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHATHAM)


def clinical_record(store: Store) -> dict[str, Any]:
    """Versions, report upserts, loads, weekly assessments and a decision; everything they return or store."""
    walking = Prescription(1, ("walking",), 20, "minutes", 30, hr_ceiling_percent_hrr=50)
    with store.session() as db:
        clinician = Clinician(email="physio@klinik.invalid", display_name="Physio")
        patient = Patient(pseudonym="p-clin", display_name="Clinical", clinician=clinician)
        db.add_all([clinician, patient])
        db.flush()
        db.add(
            ClinicalProfile(
                patient_id=patient.id, sex="female", birth_year=1961, hr_rest_bpm=61.5, updated_at=local(MONDAY, 8)
            )
        )
        add_prescription(db, patient.id, walking, valid_from=MONDAY, clinician_id=clinician.id, now=local(MONDAY, 9))
        add_prescription(
            db,
            patient.id,
            walking.with_changes(volume_per_session=22),
            valid_from=MONDAY + timedelta(weeks=2),
            clinician_id=None,
            note="from week 3 — efter samtale",
            now=local(MONDAY, 9, 30),
        )
        starts = [
            local(MONDAY, 0, 10),  # Sunday in UTC
            local(MONDAY + timedelta(days=2), 23, 50),
            local(MONDAY + timedelta(days=8), 10),
            local(MONDAY + timedelta(days=14), 0, 5),
        ]
        sessions = [
            TrainingSession(patient_id=patient.id, kind="walking", status="complete", started_at=s, duration_s=60.0 * m)
            for s, m in zip(starts, (30, 25, 28, 22), strict=True)
        ]
        sessions.append(
            TrainingSession(patient_id=patient.id, kind="walking", status="live", started_at=local(MONDAY, 12))
        )
        db.add_all(sessions)
        db.flush()
        for session, pain in zip(sessions[:4], (2, 3, 6, 1), strict=True):
            write_session_load(db, session, HR_1HZ, tz=CHATHAM)
            report_at = session.started_at + timedelta(hours=1)
            save_session_report(db, session.id, SessionReport(report_at, pain_during=pain + 1, effort_cr10=4))
            # A correction later the same day replaces the first report.
            save_session_report(
                db,
                session.id,
                SessionReport(report_at + timedelta(hours=2), pain_during=pain, pain_after=2, effort_cr10=5),
            )
        for offset in range(0, 17, 2):
            day = MONDAY + timedelta(days=offset)
            save_morning_report(db, patient.id, MorningReport(day, local(day, 7), pain=offset % 4, stiffness=1.5))
        save_morning_report(
            db, patient.id, MorningReport(MONDAY, local(MONDAY, 9), pain=3, red_flags=frozenset({"dizziness"}))
        )
        db.commit()
        patient_id, clinician_id = patient.id, clinician.id
    today = MONDAY + timedelta(weeks=2, days=3)
    with store.session() as db:
        weeks = assess_patient(db, patient_id, today=today, tz=CHATHAM)
        decision = record_decision(
            db,
            patient_id,
            weeks[0],
            decision="changed",
            prescription=walking.with_changes(volume_per_session=21),
            clinician_id=clinician_id,
            note="ændret",
            now=local(today, 8),
        )
        db.commit()
        decision_id = decision.id
    with store.session() as db:
        versions = prescription_versions(db, patient_id)
        return {
            "weeks_before_decision": weeks,
            "weeks_after_decision": assess_patient(db, patient_id, today=today, tz=CHATHAM),
            "versions": [(v.version, v.valid_from, v.fields, v.created_at, v.created_by, v.note) for v in versions],
            "in_force": [
                None if (v := in_force(versions, MONDAY + timedelta(days=d))) is None else v.version
                for d in range(-1, 22)
            ],
            "decision": [
                (d.week_start, d.advice, d.decision, d.prescription_version_id, d.decided_at, d.decided_by, d.note)
                for d in [db.get_one(AdviceDecision, decision_id)]
            ],
            "session_reports": [
                (r.session_id, r.pain_before, r.pain_during, r.pain_after, r.effort_cr10, r.red_flags, r.reported_at)
                for r in db.scalars(select(SessionReportRow).order_by(SessionReportRow.session_id))
            ],
            "mornings": [
                (m.day, m.pain, m.stiffness, m.red_flags, m.reported_at)
                for m in db.scalars(select(MorningReportRow).order_by(MorningReportRow.day))
            ],
            "loads": [
                (r.session_id, r.trimp_banister, r.trimp_edwards, r.time_above_ceiling_s, r.ceiling_bpm)
                for r in db.scalars(select(SessionLoadRow).order_by(SessionLoadRow.session_id))
            ],
            "srpe": daily_srpe_au(db, patient_id, first=MONDAY - timedelta(days=1), last=today, tz=CHATHAM).tolist(),
        }


def test_clinical_record_operations_agree_on_both_databases(both: dict[str, Store]) -> None:
    results = {name: clinical_record(store) for name, store in both.items()}
    sqlite, postgresql = results["sqlite"], results["postgresql"]
    for key in sqlite:
        assert postgresql[key] == sqlite[key], key
    # And what they agree on is right: the clinic's days, the upserts, the versions.
    weeks = sqlite["weeks_before_decision"]
    assert [w.start for w in weeks] == [MONDAY + timedelta(weeks=i) for i in range(3)]
    assert [w.sessions_done for w in weeks] == [2, 1, 1]  # the live session is not counted
    assert [v[0] for v in sqlite["versions"]] == [1, 2, 3]
    assert sqlite["in_force"][:2] == [None, 1]
    assert [(r[2], r[3], r[4]) for r in sqlite["session_reports"]] == [(2, 2, 5), (3, 2, 5), (6, 2, 5), (1, 2, 5)]
    assert sqlite["mornings"][0][1:4] == (3, None, ["dizziness"])
    assert len(sqlite["mornings"]) == 9
    assert all(load[4] is not None for load in sqlite["loads"])
    assert sqlite["srpe"][1] == 5 * 30  # the Monday-00:10 session: Sunday in UTC, Monday at the clinic


def patient_list(store: Store) -> list[dict[str, Any]]:
    """Patients named with case and letters beyond ASCII; ties, microseconds, and no sessions."""
    newest = datetime(2026, 11, 2, 8, 0, 0, 500_000, tzinfo=COPENHAGEN)
    with store.session() as db:
        names = ["anna", "Bo", "Åse", "Zoe", "Ærø", "Ørn", "bo"]
        physio = Clinician(email="physio@example.invalid", display_name="Physio")
        patients = [Patient(pseudonym=f"p-{i}", display_name=name, clinician=physio) for i, name in enumerate(names)]
        db.add_all(patients)
        db.flush()
        anna, bo, ase, zoe, *_ = patients

        def add(patient: Patient, started_at: datetime, kind: str = "walking", hr: float | None = None) -> None:
            db.add(TrainingSession(patient_id=patient.id, kind=kind, started_at=started_at, hr_mean_bpm=hr))
            db.flush()

        add(anna, newest - timedelta(days=3), hr=101.0)
        add(anna, newest, "strength", hr=99.5)
        add(anna, newest - timedelta(microseconds=1), hr=98.0)
        # Two sessions at the same instant: the one added later is the newest.
        add(bo, newest, hr=90.0)
        add(bo, newest, "strength", hr=91.0)
        add(ase, newest + timedelta(microseconds=1))
        add(zoe, newest - timedelta(days=400), hr=120.25)
        db.commit()
        return [overview.model_dump() for overview in list_patients(db, clinician_id=physio.id)]


def test_the_dashboards_patient_list_agrees_on_both_databases(both: dict[str, Store]) -> None:
    """Ordered by name as the database collates; the test server collates as SQLite does (bytes)."""
    lists = {name: patient_list(store) for name, store in both.items()}
    assert lists["postgresql"] == lists["sqlite"]
    by_name = {p["display_name"]: p for p in lists["sqlite"]}
    assert len(by_name) == 7
    anna, bo, ase = by_name["anna"], by_name["Bo"], by_name["Åse"]
    assert (anna["session_count"], anna["last_session_kind"], anna["last_session_hr_mean_bpm"]) == (3, "strength", 99.5)
    assert (bo["session_count"], bo["last_session_kind"], bo["last_session_hr_mean_bpm"]) == (2, "strength", 91.0)
    assert (ase["session_count"], ase["last_session_hr_mean_bpm"]) == (1, None)
    assert ase["last_session_at"] == datetime(2026, 11, 2, 7, 0, 0, 500_001, tzinfo=UTC)
    assert ase["last_session_at"].tzinfo is UTC
    assert (by_name["bo"]["session_count"], by_name["bo"]["last_session_id"]) == (0, None)


# Known differences: the same input stored on one database and refused, or changed, on the other.


def _outcome(store: Store, write: Callable[[Session], Any]) -> tuple[str, str]:
    """("stored", what reads back) or ("refused", the error's class)."""
    with store.session() as db:
        try:
            row = write(db)
            db.commit()
        except Exception as error:
            # SQLAlchemy wraps what the driver or a bind processor raised in its own error class.
            return ("refused", type(getattr(error, "orig", None) or error).__name__)
        identity = inspect(row).identity
        db.expunge_all()
        back = db.get_one(type(row), identity)
        return ("stored", repr({c.key: getattr(back, c.key) for c in inspect(type(row)).column_attrs if c.key != "id"}))


def _patient(pseudonym: str) -> Callable[[Session], Any]:
    def write(db: Session) -> Any:
        patient = Patient(pseudonym=pseudonym, display_name="x")
        db.add(patient)
        return patient

    return write


def _session(**values: Any) -> Callable[[Session], Any]:
    def write(db: Session) -> Any:
        patient = Patient(pseudonym="p-values", display_name="x")
        session = TrainingSession(patient=patient, kind="walking", started_at=AFTER_DST, **values)
        db.add(session)
        return session

    return write


def _analysis(activity: dict[str, Any]) -> Callable[[Session], Any]:
    def write(db: Session) -> Any:
        patient = Patient(pseudonym="p-values", display_name="x")
        session = TrainingSession(patient=patient, kind="walking", started_at=AFTER_DST)
        analysis = SessionAnalysis(session=session, version=1, activity=activity, heart=None)
        db.add(analysis)
        return analysis

    return write


def _differs(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=reason, strict=True)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_patient("😀" * 32), id="32 four-byte characters fill a 32-character column"),
        pytest.param(_session(duration_s=math.inf, hr_coverage=-math.inf), id="infinities"),
        pytest.param(
            _patient("p" * 33),
            id="text longer than its column",
            marks=_differs("SQLite keeps text of any length; PostgreSQL refuses it (DataError)"),
        ),
        pytest.param(
            _session(hr_mean_bpm=math.nan),
            id="NaN in a float column",
            marks=_differs("SQLite stores NaN as NULL ('no value'); PostgreSQL keeps NaN"),
        ),
        pytest.param(_analysis({"alpha1": math.nan}), id="NaN in a JSON field"),
    ],
)
def test_the_same_value_gets_the_same_outcome_on_both_databases(
    both: dict[str, Store], write: Callable[[Session], Any]
) -> None:
    outcomes = {name: _outcome(store, write) for name, store in both.items()}
    assert outcomes["sqlite"] == outcomes["postgresql"]
