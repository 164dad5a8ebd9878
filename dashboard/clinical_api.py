"""The clinical JSON API: prescriptions and their versions, patient reports, weekly assessments, load.

Routes stay thin: the database side is ``monitor.store.clinical`` and the judgement is
``monitor.tolerance``. Every route is for the patient's clinician (``PatientAccess``,
``SessionAccess``), and every change is attributed to the clinician who made it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from dashboard import clinical_queries
from dashboard.auth import CurrentClinician, PatientAccess, SessionAccess
from dashboard.clinical_schemas import (
    DecisionIn,
    DecisionOut,
    LoadOut,
    MorningReportIn,
    PrescriptionIn,
    PrescriptionVersionOut,
    SessionReportIn,
    WeekOut,
)
from dashboard.deps import DbDep, StoreDep
from dashboard.schemas import ErrorDetail
from monitor.store.clinical import (
    add_prescription,
    save_morning_report,
    save_session_report,
)
from monitor.tolerance import MorningReport, SessionReport

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such patient or session."}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorDetail, "description": "Already decided."}}

router = APIRouter(prefix="/api", tags=["clinical"])


def _reported_at(value: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if value is None:
        return now
    if value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "reported_at needs a timezone")
    if value > now + timedelta(minutes=5):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "reported_at is in the future")
    return value


@router.get("/patients/{pseudonym}/prescriptions", responses=NOT_FOUND)
def list_prescriptions(patient: PatientAccess, db: DbDep) -> list[PrescriptionVersionOut]:
    """Every version of the patient's prescription, newest first: who changed what, when."""
    return clinical_queries.prescription_history(db, patient)


@router.post("/patients/{pseudonym}/prescriptions", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def create_prescription(
    patient: PatientAccess, body: PrescriptionIn, user: CurrentClinician, db: DbDep
) -> PrescriptionVersionOut:
    """A new version of the prescription from ``valid_from``; earlier versions stay as they were."""
    row = add_prescription(
        db, patient.id, body.prescription, valid_from=body.valid_from, clinician_id=user.user_id, note=body.note
    )
    db.commit()
    return clinical_queries.version_out(db, row)


@router.put("/sessions/{session_id}/report", responses=NOT_FOUND)
def put_session_report(training_session: SessionAccess, body: SessionReportIn, db: DbDep) -> SessionReportIn:
    """The patient's pain and effort around a session, entered by their clinician; a later answer replaces one."""
    report = SessionReport(
        _reported_at(body.reported_at),
        pain_before=body.pain_before,
        pain_during=body.pain_during,
        pain_after=body.pain_after,
        effort_cr10=body.effort_cr10,
        red_flags=frozenset(body.red_flags),
        weight_kg=body.weight_kg,
    )
    save_session_report(db, training_session.id, report)
    db.commit()
    return body.model_copy(update={"reported_at": report.reported_at})


@router.put("/patients/{pseudonym}/mornings/{day}", responses=NOT_FOUND)
def put_morning_report(patient: PatientAccess, day: date, body: MorningReportIn, db: DbDep) -> MorningReportIn:
    """Pain and stiffness on waking on ``day``, and the red-flag questions, entered by the clinician."""
    if body.day != day:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is for {body.day}, the path for {day}")
    report = MorningReport(
        day,
        _reported_at(body.reported_at),
        pain=body.pain,
        stiffness=body.stiffness,
        red_flags=frozenset(body.red_flags),
    )
    save_morning_report(db, patient.id, report)
    db.commit()
    return body.model_copy(update={"reported_at": report.reported_at})


@router.get("/patients/{pseudonym}/weeks", responses=NOT_FOUND)
def list_weeks(
    patient: PatientAccess, db: DbDep, store: StoreDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12
) -> list[WeekOut]:
    """Week by week since the first prescription (at most ``weeks``): verdicts, flags, advice and decisions."""
    return clinical_queries.patient_weeks(db, patient, tz=store.tz, weeks=weeks)


@router.post(
    "/patients/{pseudonym}/weeks/{start}/decision",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND | CONFLICT,
)
def decide_week(
    patient: PatientAccess, start: date, body: DecisionIn, user: CurrentClinician, db: DbDep, store: StoreDep
) -> DecisionOut:
    """The clinician's answer to a complete week's advice; advice is never applied without one."""
    try:
        return clinical_queries.decide_week(
            db,
            patient,
            start,
            decision=body.decision,
            prescription=body.prescription,
            note=body.note,
            clinician_id=user.user_id,
            tz=store.tz,
        )
    except clinical_queries.DecisionRefused as refused:
        raise HTTPException(refused.status_code, refused.detail) from refused


@router.get("/patients/{pseudonym}/load", responses=NOT_FOUND)
def get_load(
    patient: PatientAccess, db: DbDep, store: StoreDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12
) -> LoadOut:
    """Daily session load (sRPE) with the acute (7 d) and chronic (28 d) EWMA, and weekly totals, to today."""
    return clinical_queries.patient_load(db, patient, tz=store.tz, weeks=weeks)
