"""The clinical JSON API: prescriptions and their versions, patient reports, weekly assessments, load.

Routes stay thin: the database side is ``monitor.store.clinical`` and the judgement is
``monitor.tolerance``. Until sign-in arrives (a placeholder in this build), changes are
attributed to the patient's own clinician.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import clinical_queries
from dashboard.clinical_schemas import (
    DecisionIn,
    DecisionOut,
    LoadOut,
    MorningReportIn,
    PrescriptionIn,
    PrescriptionVersionOut,
    SessionReportIn,
    WeekLoadOut,
    WeekOut,
)
from dashboard.deps import DbDep, StoreDep
from dashboard.queries import NotFoundError, get_patient
from dashboard.schemas import ErrorDetail
from monitor.load import acute_chronic, monotony_strain, week_over_week_change, weekly_totals
from monitor.store import TrainingSession
from monitor.store.clinical import (
    add_prescription,
    assess_patient,
    daily_srpe_au,
    prescription_from_json,
    prescription_versions,
    record_decision,
    save_morning_report,
    save_session_report,
    week_start,
)
from monitor.store.models import AdviceDecision, PrescriptionVersion
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


def _version_out(db: Session, row: PrescriptionVersion) -> PrescriptionVersionOut:
    return PrescriptionVersionOut(
        version=row.version,
        valid_from=row.valid_from,
        created_at=row.created_at,
        created_by=clinical_queries.clinician_name(db, row.created_by),
        note=row.note,
        prescription=prescription_from_json(row.fields),
    )


@router.get("/patients/{pseudonym}/prescriptions", responses=NOT_FOUND)
def list_prescriptions(pseudonym: str, db: DbDep) -> list[PrescriptionVersionOut]:
    """Every version of the patient's prescription, newest first: who changed what, when."""
    patient = get_patient(db, pseudonym)
    return [_version_out(db, row) for row in reversed(prescription_versions(db, patient.id))]


@router.post("/patients/{pseudonym}/prescriptions", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def create_prescription(pseudonym: str, body: PrescriptionIn, db: DbDep) -> PrescriptionVersionOut:
    """A new version of the prescription from ``valid_from``; earlier versions stay as they were."""
    patient = get_patient(db, pseudonym)
    row = add_prescription(
        db, patient.id, body.prescription, valid_from=body.valid_from, clinician_id=patient.clinician_id, note=body.note
    )
    db.commit()
    return _version_out(db, row)


@router.put("/sessions/{session_id}/report", responses=NOT_FOUND)
def put_session_report(session_id: int, body: SessionReportIn, db: DbDep) -> SessionReportIn:
    """The patient's pain and effort around a session; a later answer replaces an earlier one."""
    if db.get(TrainingSession, session_id) is None:
        raise NotFoundError(f"No session with id {session_id}.")
    report = SessionReport(
        _reported_at(body.reported_at),
        pain_before=body.pain_before,
        pain_during=body.pain_during,
        pain_after=body.pain_after,
        effort_cr10=body.effort_cr10,
        red_flags=frozenset(body.red_flags),
        weight_kg=body.weight_kg,
    )
    save_session_report(db, session_id, report)
    db.commit()
    return body.model_copy(update={"reported_at": report.reported_at})


@router.put("/patients/{pseudonym}/mornings/{day}", responses=NOT_FOUND)
def put_morning_report(pseudonym: str, day: date, body: MorningReportIn, db: DbDep) -> MorningReportIn:
    """Pain and stiffness on waking on ``day``, and the red-flag questions."""
    if body.day != day:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is for {body.day}, the path for {day}")
    patient = get_patient(db, pseudonym)
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
    pseudonym: str, db: DbDep, store: StoreDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12
) -> list[WeekOut]:
    """Week by week since the first prescription (at most ``weeks``): verdicts, flags, advice and decisions."""
    return clinical_queries.patient_weeks(db, get_patient(db, pseudonym), tz=store.tz, weeks=weeks)


@router.post(
    "/patients/{pseudonym}/weeks/{start}/decision",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND | CONFLICT,
)
def decide_week(pseudonym: str, start: date, body: DecisionIn, db: DbDep, store: StoreDep) -> DecisionOut:
    """The clinician's answer to a complete week's advice; advice is never applied without one."""
    patient = get_patient(db, pseudonym)
    if start != week_start(start):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{start} is not a Monday; weeks start on Mondays")
    today = datetime.now(store.tz).date()
    assessed = assess_patient(db, patient.id, today=today, tz=store.tz, weeks=52)
    week = next((w for w in assessed if w.start == start), None)
    if week is None:
        raise NotFoundError(f"No assessed week starting {start} for {pseudonym}.")
    if start + timedelta(days=7) > today:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the week of {start} is not over yet")
    if db.scalar(
        select(AdviceDecision).where(AdviceDecision.patient_id == patient.id, AdviceDecision.week_start == start)
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, f"the week of {start} has been decided already")
    if body.decision == "changed" and body.prescription is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a changed decision needs the prescription chosen")
    row = record_decision(
        db,
        patient.id,
        week,
        decision=body.decision,
        prescription=body.prescription,
        clinician_id=patient.clinician_id,
        note=body.note,
    )
    db.commit()
    return clinical_queries.decision_out(db, row)


@router.get("/patients/{pseudonym}/load", responses=NOT_FOUND)
def get_load(pseudonym: str, db: DbDep, store: StoreDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12) -> LoadOut:
    """Daily session load (sRPE) with the acute (7 d) and chronic (28 d) EWMA, and weekly totals, to today."""
    patient = get_patient(db, pseudonym)
    today = datetime.now(store.tz).date()
    first = week_start(today) - timedelta(weeks=weeks - 1)
    loads = daily_srpe_au(db, patient.id, first=first, last=today, tz=store.tz)
    trend = acute_chronic(loads)
    totals = weekly_totals(loads)
    changes = week_over_week_change(totals)
    week_loads = []
    for i, (total, days) in enumerate(zip(totals.total_au, totals.days, strict=True)):
        foster = monotony_strain(loads[7 * i : 7 * i + 7]) if days == 7 else None
        week_loads.append(
            WeekLoadOut(
                start=first + timedelta(weeks=i),
                days=int(days),
                total_au=float(total),
                change=None if np.isnan(changes[i]) else float(changes[i]),
                monotony=foster.monotony if foster else None,
                strain_au=foster.strain_au if foster else None,
            )
        )
    return LoadOut(
        days=[first + timedelta(days=i) for i in range(len(loads))],
        daily_au=loads.tolist(),
        acute_au=trend.acute.tolist(),
        chronic_au=trend.chronic.tolist(),
        ratio=[None if np.isnan(r) else float(r) for r in trend.ratio],
        weeks=week_loads,
    )
