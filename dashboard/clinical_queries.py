"""Read-side of the clinical record shared by the JSON API and the pages: the same weeks, the same words.

Also the one way a week's advice is decided (:func:`decide_week`), so the API and the page's
form record a decision by the same rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.clinical_schemas import (
    AdviceOut,
    DecisionOut,
    FlagOut,
    LoadOut,
    MessageOut,
    PatientDaysOut,
    PrescriptionVersionOut,
    VerdictOut,
    WeekLoadOut,
    WeekOut,
)
from dashboard.queries import NotFoundError
from monitor.load import acute_chronic, monotony_strain, week_over_week_change, weekly_totals
from monitor.store import Clinician, Patient, TrainingSession
from monitor.store.clinical import (
    Decision,
    assess_patient,
    daily_srpe_au,
    prescription_from_json,
    prescription_versions,
    record_decision,
    week_start,
)
from monitor.store.models import AdviceDecision, MorningReportRow, PrescriptionVersion, SessionLoadRow, SessionReportRow
from monitor.tolerance import Prescription, Verdict, WeekAssessment

DECISION_WEEKS = 52
"""How far back a week's advice may still be decided."""


class DecisionRefused(Exception):
    """A decision that cannot be recorded: ``status_code`` (409 already decided or too early, 422 invalid) and why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


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
    return [week_out(db, week, decisions.get(week.start), today=today) for week in assessed]


def version_out(db: Session, row: PrescriptionVersion) -> PrescriptionVersionOut:
    return PrescriptionVersionOut(
        version=row.version,
        valid_from=row.valid_from,
        created_at=row.created_at,
        created_by=clinician_name(db, row.created_by),
        note=row.note,
        prescription=prescription_from_json(row.fields),
    )


def prescription_history(db: Session, patient: Patient) -> list[PrescriptionVersionOut]:
    """Every version of the patient's prescription, newest first: who changed what, when."""
    return [version_out(db, row) for row in reversed(prescription_versions(db, patient.id))]


def decision_out(db: Session, row: AdviceDecision) -> DecisionOut:
    version = db.get(PrescriptionVersion, row.prescription_version_id) if row.prescription_version_id else None
    return DecisionOut(
        decision=row.decision,  # type: ignore[arg-type]
        decided_at=row.decided_at,
        decided_by=clinician_name(db, row.decided_by),
        note=row.note,
        prescription_version=version.version if version else None,
    )


def decide_week(
    db: Session,
    patient: Patient,
    start: date,
    *,
    decision: Decision,
    prescription: Prescription | None,
    note: str,
    clinician_id: int,
    tz: tzinfo,
) -> DecisionOut:
    """Record a clinician's answer to a complete week's advice, and commit it; advice is never applied without one.

    Raises :class:`NotFoundError` when the patient has no assessed week starting ``start``, and
    :class:`DecisionRefused` when the week is not a Monday, not over, already decided, or a
    changed decision comes without the prescription chosen instead.
    """
    if start != week_start(start):
        raise DecisionRefused(422, f"{start} is not a Monday; weeks start on Mondays")
    today = datetime.now(tz).date()
    assessed = assess_patient(db, patient.id, today=today, tz=tz, weeks=DECISION_WEEKS)
    week = next((w for w in assessed if w.start == start), None)
    if week is None:
        raise NotFoundError(f"No assessed week starting {start} for {patient.pseudonym}.")
    if start + timedelta(days=7) > today:
        raise DecisionRefused(409, f"the week of {start} is not over yet")
    if db.scalar(
        select(AdviceDecision).where(AdviceDecision.patient_id == patient.id, AdviceDecision.week_start == start)
    ):
        raise DecisionRefused(409, f"the week of {start} has been decided already")
    if decision == "changed" and prescription is None:
        raise DecisionRefused(422, "a changed decision needs the prescription chosen")
    row = record_decision(
        db, patient.id, week, decision=decision, prescription=prescription, clinician_id=clinician_id, note=note
    )
    db.commit()
    return decision_out(db, row)


def load_days(tz: tzinfo, weeks: int) -> tuple[date, date]:
    """The first (a Monday) and last day (today) of the ``weeks`` weeks up to today."""
    today = datetime.now(tz).date()
    return week_start(today) - timedelta(weeks=weeks - 1), today


def patient_load(db: Session, patient: Patient, *, tz: tzinfo, weeks: int) -> LoadOut:
    """Daily session load (sRPE) with the acute (7 d) and chronic (28 d) EWMA, and weekly totals, to today."""
    first, today = load_days(tz, weeks)
    loads = daily_srpe_au(db, patient.id, first=first, last=today, tz=tz)
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


def _worst(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def patient_days(db: Session, patient: Patient, *, tz: tzinfo, weeks: int) -> PatientDaysOut:
    """Per day, on the days of :func:`patient_load`: heart-rate load (TRIMP) and pain around the sessions.

    A day with two sessions shows the sum of their TRIMP and the worse of their pain ratings;
    "next morning" is the morning report of the day after, as the pain-monitoring model reads it.
    """
    first, today = load_days(tz, weeks)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    rows = db.execute(
        select(TrainingSession.started_at, SessionLoadRow, SessionReportRow)
        .outerjoin(SessionLoadRow, SessionLoadRow.session_id == TrainingSession.id)
        .outerjoin(SessionReportRow, SessionReportRow.session_id == TrainingSession.id)
        .where(TrainingSession.patient_id == patient.id, TrainingSession.started_at >= since)
        .where(TrainingSession.status != "live")
    ).all()
    mornings = {
        m.day: m.pain
        for m in db.scalars(
            select(MorningReportRow).where(MorningReportRow.patient_id == patient.id, MorningReportRow.day >= first)
        )
    }
    count = (today - first).days + 1
    sessions = [0] * count
    banister: list[list[float]] = [[] for _ in range(count)]
    edwards: list[list[float]] = [[] for _ in range(count)]
    during: list[list[float | None]] = [[] for _ in range(count)]
    after: list[list[float | None]] = [[] for _ in range(count)]
    for started_at, load, report in rows:
        i = (started_at.astimezone(tz).date() - first).days
        if not 0 <= i < count:
            continue
        sessions[i] += 1
        if load is not None and load.trimp_banister is not None:
            banister[i].append(load.trimp_banister)
        if load is not None and load.trimp_edwards is not None:
            edwards[i].append(load.trimp_edwards)
        if report is not None:
            during[i].append(report.pain_during)
            after[i].append(report.pain_after)
    days = [first + timedelta(days=i) for i in range(count)]
    return PatientDaysOut(
        days=days,
        sessions=sessions,
        trimp_banister=[sum(values) if values else None for values in banister],
        trimp_edwards=[sum(values) if values else None for values in edwards],
        pain_during=[_worst(values) for values in during],
        pain_after=[_worst(values) for values in after],
        pain_next_morning=[
            mornings.get(day + timedelta(days=1)) if sessions[i] else None for i, day in enumerate(days)
        ],
    )


def week_out(db: Session, week: WeekAssessment, decision: AdviceDecision | None, *, today: date) -> WeekOut:
    advice = week.advice
    return WeekOut(
        start=week.start,
        complete=week.start + timedelta(days=7) <= today,
        prescription=week.prescription,
        verdicts=[verdict_out(sid, v) for sid, v in week.verdicts],
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


def verdict_out(session_id: int, verdict: Verdict) -> VerdictOut:
    return VerdictOut(session_id=session_id, level=verdict.level, findings=[MessageOut.of(m) for m in verdict.findings])
