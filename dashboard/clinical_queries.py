"""Read-side of the clinical record shared by the JSON API and the pages: the same weeks, the same words."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.clinical_schemas import AdviceOut, DecisionOut, FlagOut, MessageOut, VerdictOut, WeekOut
from monitor.store import Clinician, Patient
from monitor.store.clinical import assess_patient
from monitor.store.models import AdviceDecision, PrescriptionVersion
from monitor.tolerance import WeekAssessment


def clinician_name(db: Session, clinician_id: int | None) -> str | None:
    clinician = db.get(Clinician, clinician_id) if clinician_id is not None else None
    return clinician.display_name if clinician else None


def patient_weeks(db: Session, patient: Patient, *, tz: tzinfo, weeks: int) -> list[WeekOut]:
    """Week by week since the first prescription (at most ``weeks``), with any decision taken."""
    today = datetime.now(tz).date()
    assessed = assess_patient(db, patient.id, today=today, tz=tz, weeks=weeks)
    decisions = {
        d.week_start: d for d in db.scalars(select(AdviceDecision).where(AdviceDecision.patient_id == patient.id))
    }
    return [_week_out(db, week, decisions.get(week.start), today=today) for week in assessed]


def decision_out(db: Session, row: AdviceDecision) -> DecisionOut:
    version = db.get(PrescriptionVersion, row.prescription_version_id) if row.prescription_version_id else None
    return DecisionOut(
        decision=row.decision,  # type: ignore[arg-type]
        decided_at=row.decided_at,
        decided_by=clinician_name(db, row.decided_by),
        note=row.note,
        prescription_version=version.version if version else None,
    )


def _week_out(db: Session, week: WeekAssessment, decision: AdviceDecision | None, *, today: date) -> WeekOut:
    advice = week.advice
    return WeekOut(
        start=week.start,
        complete=week.start + timedelta(days=7) <= today,
        prescription=week.prescription,
        verdicts=[
            VerdictOut(session_id=sid, level=v.level, findings=[MessageOut.of(m) for m in v.findings])
            for sid, v in week.verdicts
        ],
        flags=[
            FlagOut(
                rule=f.rule,
                severity=f.severity,
                source=f.source,
                session_id=f.session_id,
                message=MessageOut.of(f.message),
            )
            for f in week.flags
        ],
        advice=AdviceOut(
            action=advice.action,
            message=MessageOut.of(advice.message),
            changes=dict(advice.changes),
            proposed=advice.proposed,
        ),
        load_au=week.load_au,
        sessions_done=week.sessions_done,
        sessions_prescribed=week.prescription.sessions_per_week,
        morning_pain_mean=week.morning_pain_mean,
        morning_stiffness_mean=week.morning_stiffness_mean,
        decision=None if decision is None else decision_out(db, decision),
    )
