"""The clinical record in the database, and the tolerance engine's view of it.

Prescriptions are versioned (who, when, from which day), reports keep the time they
were given, and advice decisions are recorded; the engine's verdicts, flags and advice
are recomputed from these whenever they are asked for, never stored as conclusions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.analysis.heart_rate import hr_max_tanaka_bpm
from monitor.load import daily_load, session_load, srpe_au
from monitor.store.models import (
    AdviceDecision,
    ClinicalProfile,
    MorningReportRow,
    PrescriptionVersion,
    SessionAnalysis,
    SessionLoadRow,
    SessionReportRow,
    TrainingSession,
)
from monitor.tolerance import MorningReport, Prescription, SessionRecord, SessionReport, WeekAssessment, assess_history

Decision = Literal["confirmed", "changed", "rejected"]


def prescription_to_json(prescription: Prescription) -> dict[str, Any]:
    fields = dataclasses.asdict(prescription)
    fields["kinds"] = list(prescription.kinds)
    fields["review_on"] = prescription.review_on.isoformat() if prescription.review_on else None
    return fields


def prescription_from_json(fields: dict[str, Any]) -> Prescription:
    values = dict(fields)
    values["kinds"] = tuple(values["kinds"])
    values["review_on"] = date.fromisoformat(values["review_on"]) if values.get("review_on") else None
    return Prescription(**values)


def add_prescription(
    db: Session,
    patient_id: int,
    prescription: Prescription,
    *,
    valid_from: date,
    clinician_id: int | None,
    note: str = "",
    now: datetime | None = None,
) -> PrescriptionVersion:
    """A new version; earlier ones stay as they were."""
    latest = db.scalar(
        select(func.max(PrescriptionVersion.version)).where(PrescriptionVersion.patient_id == patient_id)
    )
    row = PrescriptionVersion(
        patient_id=patient_id,
        version=(latest or 0) + 1,
        valid_from=valid_from,
        fields=prescription_to_json(prescription),
        created_at=now or datetime.now(UTC),
        created_by=clinician_id,
        note=note,
    )
    db.add(row)
    db.flush()
    return row


def prescription_versions(db: Session, patient_id: int) -> list[PrescriptionVersion]:
    """Oldest first."""
    query = select(PrescriptionVersion).where(PrescriptionVersion.patient_id == patient_id)
    return list(db.scalars(query.order_by(PrescriptionVersion.version)))


def in_force(versions: Sequence[PrescriptionVersion], day: date) -> PrescriptionVersion | None:
    """The newest version valid on ``day``."""
    valid = [v for v in versions if v.valid_from <= day]
    return max(valid, key=lambda v: v.version) if valid else None


def save_session_report(db: Session, session_id: int, report: SessionReport) -> SessionReportRow:
    """The report on a session; a later report replaces an earlier one and carries its own time."""
    row = SessionReportRow(
        session_id=session_id,
        pain_before=report.pain_before,
        pain_during=report.pain_during,
        pain_after=report.pain_after,
        effort_cr10=report.effort_cr10,
        weight_kg=report.weight_kg,
        red_flags=sorted(report.red_flags),
        reported_at=report.reported_at,
    )
    return db.merge(row)


def save_morning_report(db: Session, patient_id: int, report: MorningReport) -> MorningReportRow:
    query = select(MorningReportRow).where(
        MorningReportRow.patient_id == patient_id, MorningReportRow.day == report.day
    )
    row = db.scalar(query) or MorningReportRow(patient_id=patient_id, day=report.day)
    row.pain, row.stiffness = report.pain, report.stiffness
    row.red_flags = sorted(report.red_flags)
    row.reported_at = report.reported_at
    db.add(row)
    db.flush()
    return row


def heart_rate_limits(profile: ClinicalProfile | None, *, on: date) -> tuple[float | None, float | None]:
    """Rest and max heart rate in bpm; max from Tanaka's estimate when not measured."""
    if profile is None:
        return None, None
    hr_max = profile.hr_max_bpm
    if hr_max is None and profile.birth_year is not None:
        hr_max = hr_max_tanaka_bpm(age_years=on.year - profile.birth_year)
    return profile.hr_rest_bpm, hr_max


@dataclasses.dataclass(frozen=True, slots=True)
class HeartRateLimits:
    """A patient's heart-rate limits on one day: rest and max from the profile, the prescribed ceiling."""

    hr_rest_bpm: float | None
    hr_max_bpm: float | None
    ceiling_bpm: float | None


def heart_rate_limits_on(db: Session, patient_id: int, day: date) -> HeartRateLimits:
    """The limits on ``day``: the profile then, and the prescription in force that day."""
    hr_rest, hr_max = heart_rate_limits(db.get(ClinicalProfile, patient_id), on=day)
    version = in_force(prescription_versions(db, patient_id), day)
    ceiling = (
        prescription_from_json(version.fields).ceiling_bpm(hr_rest_bpm=hr_rest, hr_max_bpm=hr_max) if version else None
    )
    return HeartRateLimits(hr_rest, hr_max, ceiling)


def write_session_load(
    db: Session, session: TrainingSession, hr_1hz_bpm: npt.ArrayLike, *, tz: tzinfo
) -> SessionLoadRow:
    """TRIMP and time above the ceiling prescribed on the session's day, as far as the profile allows."""
    hr = np.asarray(hr_1hz_bpm, dtype=np.float64)
    limits = heart_rate_limits_on(db, session.patient_id, session.started_at.astimezone(tz).date())
    profile = db.get(ClinicalProfile, session.patient_id)
    ceiling = limits.ceiling_bpm
    load = session_load(
        duration_min=(session.duration_s or 0) / 60,
        hr_1hz_bpm=hr,
        hr_rest_bpm=limits.hr_rest_bpm,
        hr_max_bpm=limits.hr_max_bpm,
        sex=profile.sex if profile else None,
        ceiling_bpm=ceiling,
    )
    row = SessionLoadRow(
        session_id=session.id,
        trimp_banister=load.trimp_banister,
        trimp_edwards=load.trimp_edwards,
        time_above_ceiling_s=load.time_above_ceiling_s,
        ceiling_bpm=ceiling,
    )
    return db.merge(row)


def week_start(day: date) -> date:
    """Weeks run Monday to Sunday."""
    return day - timedelta(days=day.weekday())


def _volume(session: TrainingSession, analysis: SessionAnalysis | None, unit: str) -> float | None:
    if unit == "minutes":
        return None if session.duration_s is None else session.duration_s / 60
    if analysis is None:
        return None
    if unit == "steps":
        steps = analysis.activity.get("steps")
        return None if steps is None else float(steps)
    sets = analysis.activity.get("sets")
    return None if sets is None else float(sum(s["reps"] for s in sets))


def assess_patient(db: Session, patient_id: int, *, today: date, tz: tzinfo, weeks: int = 12) -> list[WeekAssessment]:
    """The last ``weeks`` weeks up to the one holding ``today``, from the first with a prescription."""
    versions = prescription_versions(db, patient_id)
    if not versions:
        return []
    first = max(week_start(today) - timedelta(weeks=weeks - 1), week_start(min(v.valid_from for v in versions)))
    starts = [first + timedelta(weeks=i) for i in range((week_start(today) - first).days // 7 + 1)]
    prescriptions = []
    for start in starts:
        version = in_force(versions, start + timedelta(days=6)) or versions[0]
        prescriptions.append(prescription_from_json(version.fields))
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    rows = db.execute(
        select(TrainingSession, SessionAnalysis, SessionReportRow, SessionLoadRow)
        .outerjoin(SessionAnalysis, SessionAnalysis.session_id == TrainingSession.id)
        .outerjoin(SessionReportRow, SessionReportRow.session_id == TrainingSession.id)
        .outerjoin(SessionLoadRow, SessionLoadRow.session_id == TrainingSession.id)
        .where(TrainingSession.patient_id == patient_id, TrainingSession.started_at >= since)
        .where(TrainingSession.status != "live")
    ).all()
    records = []
    for session, analysis, report, load in rows:
        day = session.started_at.astimezone(tz).date()
        unit = prescriptions[(day - first).days // 7].volume_unit if day >= first else "minutes"
        heart = analysis.heart if analysis else None
        records.append(
            SessionRecord(
                session.id,
                day,
                "strength" if session.kind == "strength" else "walking",
                (session.duration_s or 0) / 60,
                volume=_volume(session, analysis, unit),
                report=_session_report(report),
                time_above_ceiling_s=load.time_above_ceiling_s if load else None,
                ceiling_bpm=load.ceiling_bpm if load else None,
                artifact_fraction=heart.get("artifact_fraction") if heart else None,
                hr_coverage=session.hr_coverage,
            )
        )
    mornings = db.scalars(
        select(MorningReportRow).where(MorningReportRow.patient_id == patient_id, MorningReportRow.day >= first)
    )
    return assess_history(
        today=today,
        start=first,
        prescriptions=prescriptions,
        sessions=records,
        mornings=[
            MorningReport(m.day, m.reported_at, pain=m.pain, stiffness=m.stiffness, red_flags=frozenset(m.red_flags))
            for m in mornings
        ],
    )


def daily_srpe_au(db: Session, patient_id: int, *, first: date, last: date, tz: tzinfo) -> npt.NDArray[np.float64]:
    """Session load (CR-10 × minutes) per day from ``first`` to ``last``; sessions without an effort rating add 0."""
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    rows = db.execute(
        select(TrainingSession.started_at, TrainingSession.duration_s, SessionReportRow.effort_cr10)
        .join(SessionReportRow, SessionReportRow.session_id == TrainingSession.id)
        .where(TrainingSession.patient_id == patient_id, TrainingSession.started_at >= since)
    ).all()
    day_loads = [
        (started.astimezone(tz).date(), srpe_au(cr10=effort, minutes=duration_s / 60))
        for started, duration_s, effort in rows
        if effort is not None and duration_s is not None and started.astimezone(tz).date() <= last
    ]
    return daily_load(day_loads, first_day=first, last_day=last)


def _session_report(row: SessionReportRow | None) -> SessionReport | None:
    if row is None:
        return None
    return SessionReport(
        row.reported_at,
        pain_before=row.pain_before,
        pain_during=row.pain_during,
        pain_after=row.pain_after,
        effort_cr10=row.effort_cr10,
        red_flags=frozenset(row.red_flags),
        weight_kg=row.weight_kg,
    )


def record_decision(
    db: Session,
    patient_id: int,
    assessment: WeekAssessment,
    *,
    decision: Decision,
    prescription: Prescription | None,
    clinician_id: int | None,
    note: str = "",
    now: datetime | None = None,
) -> AdviceDecision:
    """A clinician's answer to a week's advice; confirming or changing starts the next week on a new version."""
    now = now or datetime.now(UTC)
    advice = assessment.advice
    version = None
    if decision != "rejected":
        chosen = advice.proposed if decision == "confirmed" else prescription
        if chosen is None:
            raise ValueError("a changed decision needs the prescription chosen instead")
        version = add_prescription(
            db,
            patient_id,
            chosen,
            valid_from=assessment.start + timedelta(weeks=1),
            clinician_id=clinician_id,
            note=note or f"{decision} advice for the week of {assessment.start.isoformat()}",
            now=now,
        )
    row = AdviceDecision(
        patient_id=patient_id,
        week_start=assessment.start,
        advice={
            "action": advice.action,
            "message": advice.message.as_dict(),
            "changes": {k: list(v) for k, v in advice.changes.items()},
        },
        decision=decision,
        prescription_version_id=version.id if version else None,
        decided_at=now,
        decided_by=clinician_id,
        note=note,
    )
    db.add(row)
    db.flush()
    return row
