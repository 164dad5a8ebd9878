"""The clinical record in SQLite: versioned prescriptions, reports, session load, assessments, decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.load import trimp_banister
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import (
    Decision,
    add_prescription,
    assess_patient,
    heart_rate_limits,
    in_force,
    prescription_from_json,
    prescription_to_json,
    prescription_versions,
    record_decision,
    save_morning_report,
    save_session_report,
    write_session_load,
)
from monitor.store.models import (
    AdviceDecision,
    ClinicalProfile,
    MorningReportRow,
    PrescriptionVersion,
    SessionLoadRow,
    SessionReportRow,
)
from monitor.tolerance import MorningReport, Prescription, SessionReport

CLINIC_TZ = ZoneInfo("Europe/Copenhagen")
MONDAY = date(2026, 10, 5)


def walking(**changes: object) -> Prescription:
    base = Prescription(
        sessions_per_week=1, kinds=("walking",), volume_per_session=20, volume_unit="minutes", volume_goal=30
    )
    return base.with_changes(**changes)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CLINIC_TZ)


@pytest.fixture
def clinician_id(store: Store) -> int:
    with store.session() as db:
        clinician = Clinician(email="physio@clinic.invalid", display_name="Physio")
        db.add(clinician)
        db.commit()
        return clinician.id


def add_session(
    db: Session, patient_id: int, started_at: datetime, *, minutes: float = 30, status: str = "complete"
) -> TrainingSession:
    session = TrainingSession(
        patient_id=patient_id, kind="walking", status=status, started_at=started_at, duration_s=60 * minutes
    )
    db.add(session)
    db.flush()
    return session


def test_prescription_versions_are_added_never_changed(store: Store, patient_id: int, clinician_id: int) -> None:
    first = walking(intensity=100, intensity_unit="steps/min", review_on=date(2026, 11, 2))
    second = first.with_changes(volume_per_session=22)
    with store.session() as db:
        add_prescription(db, patient_id, first, valid_from=MONDAY, clinician_id=clinician_id, note="assessment")
        add_prescription(db, patient_id, second, valid_from=MONDAY + timedelta(weeks=1), clinician_id=None)
        db.commit()
    with store.session() as db:
        versions = prescription_versions(db, patient_id)
        other = Patient(pseudonym="p-test02", display_name="Other Patient")
        db.add(other)
        db.flush()
        others_first = add_prescription(db, other.id, second, valid_from=MONDAY, clinician_id=None)
    assert [(v.version, v.valid_from, v.created_by, v.note) for v in versions] == [
        (1, MONDAY, clinician_id, "assessment"),
        (2, MONDAY + timedelta(weeks=1), None, ""),
    ]
    assert [prescription_from_json(v.fields) for v in versions] == [first, second]
    assert versions[0].fields["kinds"] == ["walking"]
    assert versions[0].fields["review_on"] == "2026-11-02"
    assert prescription_from_json(prescription_to_json(first)) == first
    assert others_first.version == 1


def test_in_force_is_the_newest_version_valid_on_the_day(store: Store, patient_id: int) -> None:
    with store.session() as db:
        for volume, valid_from in ((20, MONDAY), (22, MONDAY + timedelta(weeks=2)), (18, MONDAY + timedelta(weeks=1))):
            add_prescription(
                db, patient_id, walking(volume_per_session=volume), valid_from=valid_from, clinician_id=None
            )
        versions = prescription_versions(db, patient_id)

    def volume_on(day: date) -> float | None:
        version = in_force(versions, day)
        return None if version is None else prescription_from_json(version.fields).volume_per_session

    assert volume_on(MONDAY - timedelta(days=1)) is None
    assert volume_on(MONDAY + timedelta(days=6)) == 20
    assert volume_on(MONDAY + timedelta(weeks=1)) == 18
    # Version 3, made last, holds from its day on, over version 2's later start.
    assert volume_on(MONDAY + timedelta(weeks=3)) == 18


def test_a_later_session_report_replaces_the_earlier_one(store: Store, patient_id: int) -> None:
    with store.session() as db:
        session_id = add_session(db, patient_id, at(MONDAY, 10)).id
        save_session_report(db, session_id, SessionReport(at(MONDAY, 11), pain_during=3, effort_cr10=4))
        db.commit()
    with store.session() as db:
        later = SessionReport(
            at(MONDAY + timedelta(days=1), 8),
            pain_before=1,
            pain_during=4,
            pain_after=2,
            red_flags=frozenset({"numbness", "fever"}),
        )
        save_session_report(db, session_id, later)
        db.commit()
    with store.session() as db:
        (row,) = db.scalars(select(SessionReportRow)).all()
    assert row.session_id == session_id
    assert (row.pain_before, row.pain_during, row.pain_after, row.effort_cr10) == (1, 4, 2, None)
    assert row.red_flags == ["fever", "numbness"]
    assert row.reported_at == at(MONDAY + timedelta(days=1), 8)


def test_a_morning_report_is_one_per_patient_and_day(store: Store, patient_id: int) -> None:
    tuesday = MONDAY + timedelta(days=1)
    with store.session() as db:
        save_morning_report(db, patient_id, MorningReport(MONDAY, at(MONDAY, 7), pain=3, stiffness=2))
        save_morning_report(db, patient_id, MorningReport(tuesday, at(tuesday, 7), pain=2, stiffness=2))
        db.commit()
    with store.session() as db:
        correction = MorningReport(MONDAY, at(MONDAY, 9), pain=4, stiffness=None, red_flags=frozenset({"dizziness"}))
        save_morning_report(db, patient_id, correction)
        db.commit()
    with store.session() as db:
        rows = db.scalars(select(MorningReportRow).order_by(MorningReportRow.day)).all()
    assert [(r.day, r.pain, r.stiffness, r.red_flags, r.reported_at) for r in rows] == [
        (MONDAY, 4, None, ["dizziness"], at(MONDAY, 9)),
        (tuesday, 2, 2, [], at(tuesday, 7)),
    ]


def profile(patient_id: int, **fields: object) -> ClinicalProfile:
    values: dict[str, object] = {"sex": "male", "birth_year": 1966, "hr_rest_bpm": 60.0, "hr_max_bpm": None}
    return ClinicalProfile(patient_id=patient_id, updated_at=datetime(2026, 9, 1, tzinfo=UTC), **(values | fields))


def test_heart_rate_limits_estimate_hrmax_with_tanaka_unless_measured() -> None:
    on = date(2026, 10, 5)
    assert heart_rate_limits(profile(1), on=on) == (60, 166)  # 208 − 0.7 · 60
    assert heart_rate_limits(profile(1, hr_max_bpm=171.0), on=on) == (60, 171)
    assert heart_rate_limits(profile(1, birth_year=None), on=on) == (60, None)
    assert heart_rate_limits(None, on=on) == (None, None)


HR_1HZ = np.array([100, 115, 121, 125, np.nan, 119, 130, 120], dtype=np.float64)
"""Against a ceiling of 120 bpm: 121, 125 and 130 are above it; 120 itself is not, the gap is nothing."""


def test_session_load_is_trimp_and_time_above_the_ceiling_prescribed_that_day(store: Store, patient_id: int) -> None:
    valid_from = MONDAY + timedelta(weeks=1)
    with store.session() as db:
        db.add(profile(patient_id, hr_max_bpm=180.0))
        add_prescription(db, patient_id, walking(hr_ceiling_percent_hrr=50), valid_from=valid_from, clinician_id=None)
        # 23:30 UTC on Sunday is 01:30 on Monday in Copenhagen: the ceiling's first day there.
        sunday_night_utc = datetime.combine(valid_from, time(), tzinfo=CLINIC_TZ) + timedelta(minutes=90)
        in_force_there = add_session(db, patient_id, sunday_night_utc).id
        before = add_session(db, patient_id, sunday_night_utc - timedelta(hours=2)).id
        db.commit()
    with store.session() as db:
        # As the recorder does: the sessions as stored, their times in UTC.
        for session_id in (in_force_there, before):
            write_session_load(db, db.get_one(TrainingSession, session_id), HR_1HZ, tz=CLINIC_TZ)
        db.commit()
    with store.session() as db:
        load = db.get_one(SessionLoadRow, in_force_there)
        earlier = db.get_one(SessionLoadRow, before)
    assert sunday_night_utc.astimezone(UTC).time() == time(23, 30)
    assert load.ceiling_bpm == 120  # 60 + 50 % of (180 − 60)
    assert load.time_above_ceiling_s == 3
    assert load.trimp_banister == pytest.approx(trimp_banister(HR_1HZ, hr_rest=60, hr_max=180, sex="male"))
    assert load.trimp_banister is not None
    assert load.trimp_banister > 0
    # Edwards: 100 bpm in zone 1 (50-60 % of 180), 130 in zone 3, the other five in zone 2.
    assert load.trimp_edwards == pytest.approx((1 + 3 + 5 * 2) / 60)
    assert (earlier.ceiling_bpm, earlier.time_above_ceiling_s) == (None, None)
    assert earlier.trimp_banister == load.trimp_banister


def test_session_load_without_a_profile_is_left_empty(store: Store, patient_id: int) -> None:
    with store.session() as db:
        add_prescription(db, patient_id, walking(hr_ceiling_percent_hrr=50), valid_from=MONDAY, clinician_id=None)
        session = add_session(db, patient_id, at(MONDAY, 10))
        write_session_load(db, session, HR_1HZ, tz=CLINIC_TZ)
        db.commit()
    with store.session() as db:
        load = db.get_one(SessionLoadRow, session.id)
    assert (load.trimp_banister, load.trimp_edwards, load.time_above_ceiling_s, load.ceiling_bpm) == (
        None,
        None,
        None,
        None,
    )


def report_tolerated_session(db: Session, patient_id: int, day: date, *, pain_during: float = 2) -> TrainingSession:
    """A session with its report and the mornings around it, as a patient who tolerates it gives them."""
    session = add_session(db, patient_id, at(day, 10))
    report = SessionReport(at(day, 11), pain_before=2, pain_during=pain_during, pain_after=2, effort_cr10=4)
    save_session_report(db, session.id, report)
    for morning in (day, day + timedelta(days=1)):
        save_morning_report(db, patient_id, MorningReport(morning, at(morning, 7), pain=1, stiffness=1))
    return session


def test_assessment_weeks_start_on_mondays_from_the_first_prescription(store: Store, patient_id: int) -> None:
    wednesday = MONDAY + timedelta(days=2)
    with store.session() as db:
        add_prescription(db, patient_id, walking(), valid_from=wednesday, clinician_id=None)
        add_prescription(
            db, patient_id, walking(volume_per_session=25), valid_from=MONDAY + timedelta(weeks=2), clinician_id=None
        )
        tolerated = report_tolerated_session(db, patient_id, wednesday)
        painful = report_tolerated_session(db, patient_id, wednesday + timedelta(weeks=1), pain_during=7)
        unreported = add_session(db, patient_id, at(MONDAY + timedelta(weeks=2), 10))
        add_session(db, patient_id, at(MONDAY + timedelta(weeks=2, days=1), 10), status="live")
        db.commit()
        today = MONDAY + timedelta(weeks=2, days=3)
        weeks = assess_patient(db, patient_id, today=today, tz=CLINIC_TZ)
        last_two = assess_patient(db, patient_id, today=today, tz=CLINIC_TZ, weeks=2)
    assert [w.start for w in weeks] == [MONDAY, MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=2)]
    assert [w.prescription.volume_per_session for w in weeks] == [20, 20, 25]
    assert [w.verdicts[0][0] for w in weeks] == [tolerated.id, painful.id, unreported.id]
    assert [[v.level for _, v in w.verdicts] for w in weeks] == [["green"], ["red"], ["unknown"]]
    assert weeks[0].load_au == 4 * 30  # CR-10 × minutes
    assert weeks[2].sessions_done == 1  # the live session is not counted yet
    (flag,) = [f for f in weeks[1].flags if f.rule == "pain_during_above_limit"]
    assert flag.session_id == painful.id
    assert flag.message.params["pain"] == 7
    assert [w.start for w in last_two] == [w.start for w in weeks[1:]]


def test_assessment_weeks_are_the_clinics_days(store: Store, patient_id: int) -> None:
    with store.session() as db:
        add_prescription(db, patient_id, walking(), valid_from=MONDAY, clinician_id=None)
        # Monday 00:30 in Copenhagen, still Sunday in UTC.
        add_session(db, patient_id, at(MONDAY + timedelta(weeks=1), 0, 30))
        db.commit()
        there = assess_patient(db, patient_id, today=MONDAY + timedelta(weeks=1), tz=CLINIC_TZ)
        in_utc = assess_patient(db, patient_id, today=MONDAY + timedelta(weeks=1), tz=UTC)
    assert [w.sessions_done for w in there] == [0, 1]
    assert [w.sessions_done for w in in_utc] == [1, 0]


@pytest.mark.parametrize(
    ("decision", "chosen", "next_volume"),
    [("confirmed", None, 22), ("changed", walking(volume_per_session=18), 18), ("rejected", None, 20)],
)
def test_a_decision_on_the_advice_sets_next_weeks_prescription(
    store: Store,
    patient_id: int,
    clinician_id: int,
    decision: Decision,
    chosen: Prescription | None,
    next_volume: float,
) -> None:
    decided_at = at(MONDAY + timedelta(weeks=1), 8)
    with store.session() as db:
        add_prescription(db, patient_id, walking(), valid_from=MONDAY, clinician_id=clinician_id)
        report_tolerated_session(db, patient_id, MONDAY + timedelta(days=2))
        week = assess_patient(db, patient_id, today=MONDAY + timedelta(weeks=1), tz=CLINIC_TZ)[0]
        row = record_decision(
            db,
            patient_id,
            week,
            decision=decision,
            prescription=chosen,
            clinician_id=clinician_id,
            note="discussed with the patient",
            now=decided_at,
        )
        db.commit()
    with store.session() as db:
        versions = prescription_versions(db, patient_id)
        stored = db.get_one(AdviceDecision, row.id)
        weeks = assess_patient(db, patient_id, today=MONDAY + timedelta(weeks=1), tz=CLINIC_TZ)
    assert week.advice.action == "progress"
    assert week.advice.proposed.volume_per_session == 22
    assert (stored.week_start, stored.decision, stored.decided_by, stored.decided_at) == (
        MONDAY,
        decision,
        clinician_id,
        decided_at,
    )
    assert stored.advice["action"] == "progress"
    assert stored.advice["changes"] == {"volume_per_session": [20, 22]}
    assert weeks[1].prescription.volume_per_session == next_volume
    if decision == "rejected":
        assert len(versions) == 1
        assert stored.prescription_version_id is None
    else:
        new = versions[-1]
        assert (new.version, new.valid_from, new.created_by, new.created_at) == (
            2,
            MONDAY + timedelta(weeks=1),
            clinician_id,
            decided_at,
        )
        assert prescription_from_json(new.fields) == (chosen or week.advice.proposed)
        assert new.note == "discussed with the patient"
        assert stored.prescription_version_id == new.id


def test_a_changed_decision_needs_the_prescription_chosen(store: Store, patient_id: int) -> None:
    with store.session() as db:
        add_prescription(db, patient_id, walking(), valid_from=MONDAY, clinician_id=None)
        (week,) = assess_patient(db, patient_id, today=MONDAY, tz=CLINIC_TZ)
        with pytest.raises(ValueError, match="needs the prescription chosen"):
            record_decision(db, patient_id, week, decision="changed", prescription=None, clinician_id=None)
        assert db.scalar(select(func.count()).select_from(PrescriptionVersion)) == 1
        assert db.scalar(select(func.count()).select_from(AdviceDecision)) == 0


def test_no_prescription_no_assessment(store: Store, patient_id: int) -> None:
    with store.session() as db:
        add_session(db, patient_id, at(MONDAY, 10))
        db.commit()
        assert assess_patient(db, patient_id, today=MONDAY, tz=CLINIC_TZ) == []
