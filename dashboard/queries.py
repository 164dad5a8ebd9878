"""Read-side queries shared by the JSON API and the pages, so both show the same numbers."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, Executable, String, case, cast, func, select
from sqlalchemy.orm import Session, selectinload

from dashboard.clinical_schemas import Light, MessageOut, PatientStatusOut, VerdictOut
from dashboard.schemas import HeartRateSeries, PatientOverview, SessionDetail, SessionEventOut, SessionSummary
from monitor.analysis import resample_hr_1hz
from monitor.load import StrengthSet, session_load
from monitor.store import Patient, SessionAnalysis, Store, TrainingSession
from monitor.store.clinical import assess_patient, week_start
from monitor.store.models import (
    AdviceDecision,
    MorningReportRow,
    PrescriptionVersion,
    SessionLoadRow,
    SessionReportRow,
)


class NotFoundError(LookupError):
    """The request named a patient or session that does not exist; the message says which."""


def ns_to_utc(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC)


def list_patients(db: Session, *, clinician_id: int) -> list[PatientOverview]:
    """The clinician's patients with their session count and newest session, in two indexed queries.

    Aggregated in SQL: loading every session of every patient to pick the newest took
    170 ms for 200 patients × 12 weeks (bench/bench_storage.py).
    """
    counts = (
        select(TrainingSession.patient_id, func.count().label("n"), func.max(TrainingSession.started_at).label("last"))
        .group_by(TrainingSession.patient_id)
        .subquery()
    )
    rows = db.execute(
        select(Patient, counts.c.n, TrainingSession)
        .outerjoin(counts, counts.c.patient_id == Patient.id)
        .outerjoin(
            TrainingSession,
            (TrainingSession.patient_id == Patient.id) & (TrainingSession.started_at == counts.c.last),
        )
        .where(Patient.clinician_id == clinician_id)
        .order_by(Patient.display_name, Patient.id, TrainingSession.id.desc())
    ).all()
    overviews: dict[int, PatientOverview] = {}
    for patient, count, last in rows:
        if patient.id in overviews:  # two sessions started at the same instant: the newer row came first
            continue
        overviews[patient.id] = PatientOverview(
            pseudonym=patient.pseudonym,
            display_name=patient.display_name,
            session_count=count or 0,
            last_session_id=last.id if last else None,
            last_session_at=last.started_at if last else None,
            last_session_kind=last.kind if last else None,
            last_session_hr_mean_bpm=last.hr_mean_bpm if last else None,
        )
    return list(overviews.values())


def patient_sessions(db: Session, patient: Patient) -> list[SessionSummary]:
    """The patient's sessions, newest first."""
    rows = db.scalars(
        select(TrainingSession)
        .where(TrainingSession.patient_id == patient.id)
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
        .options(selectinload(TrainingSession.analysis))
    ).all()
    return [_summary(row, patient.pseudonym) for row in rows]


def session_detail(row: TrainingSession) -> SessionDetail:
    summary = _summary(row, row.patient.pseudonym)
    events = [
        SessionEventOut(
            kind=event.kind,
            message=event.message,
            t_ns=event.t_ns,
            at=ns_to_utc(event.t_ns) if event.t_ns is not None else None,
        )
        for event in row.events
    ]
    return SessionDetail(**summary.model_dump(), patient_display_name=row.patient.display_name, events=events)


def heart_rate_series(store: Store, session_id: int) -> HeartRateSeries:
    """The 1 Hz heart rate the session summary's mean and maximum are computed from."""
    hr = store.signals.read(session_id, "hr_bpm")
    grid_s, hr_bpm = resample_hr_1hz(t_s=hr.t_ns / 1e9, hr_bpm=hr.values[:, 0], sensor_contact=hr.values[:, 1])
    bpm = [None if math.isnan(value) else value for value in hr_bpm.tolist()]
    return HeartRateSeries(t_s=grid_s.astype(np.int64).tolist(), bpm=bpm)


def _summary(row: TrainingSession, pseudonym: str) -> SessionSummary:
    activity = row.analysis.activity if row.analysis is not None else {}
    heart = (row.analysis.heart if row.analysis is not None else None) or {}
    sets = activity.get("sets")
    weight_kg = row.report.weight_kg if row.report else None
    external = session_load(
        duration_min=(row.duration_s or 0) / 60,
        cr10=row.report.effort_cr10 if row.report and row.duration_s is not None else None,
        strength_sets=None
        if sets is None
        else [StrengthSet(s["reps"], s["time_under_tension_s"], weight_kg) for s in sets],
    )
    walking_s = activity.get("walking_s")
    return SessionSummary(
        id=row.id,
        patient_pseudonym=pseudonym,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_s=row.duration_s,
        hr_mean_bpm=row.hr_mean_bpm,
        hr_max_bpm=row.hr_max_bpm,
        hr_coverage=row.hr_coverage,
        beat_count=row.beat_count,
        steps=activity.get("steps"),
        reps=external.reps,
        sets=external.sets,
        walking_min=None if walking_s is None else walking_s / 60,
        minutes_at_100_spm=activity.get("minutes_at_100_spm"),
        volume_kg=external.volume_kg,
        time_under_tension_s=external.time_under_tension_s,
        rmssd_ms=heart.get("rmssd_ms"),
        alpha1=heart.get("alpha1"),
        rr_artifact_fraction=heart.get("artifact_fraction"),
        srpe_au=external.srpe_au,
        trimp_banister=row.load.trimp_banister if row.load else None,
        trimp_edwards=row.load.trimp_edwards if row.load else None,
        time_above_ceiling_s=row.load.time_above_ceiling_s if row.load else None,
        ceiling_bpm=row.load.ceiling_bpm if row.load else None,
        acc_sample_count=row.acc_sample_count,
        malformed_count=row.malformed_count,
        source=row.source,
        devices=row.devices,
    )


# The clinician's overview: a traffic light per patient, from the tolerance engine's own verdicts
# and flags (``assess_patient``), cached per patient until anything the engine reads changes.

ATTENTION_WEEKS = 6
"""Weeks assessed for the overview: this one and last, and the four before them that a load rise
is measured from, so the flags of the two open weeks are the ones the patient page shows."""
LIGHT_ORDER: Mapping[Light, int] = {"red": 0, "amber": 1, "unknown": 2, "green": 3, "none": 4}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
Sort = Literal["need", "name", "last_session", "adherence", "load_change"]
Filter = Literal["all", "attention", "awaiting"]


@dataclass(frozen=True, slots=True)
class Attention:
    """What the overview shows of a patient's assessment (the fields :class:`PatientStatusOut` adds)."""

    light: Light
    reasons: tuple[MessageOut, ...] = ()
    latest_verdict: VerdictOut | None = None
    awaiting_decision: date | None = None
    sessions_done_this_week: int | None = None
    sessions_prescribed_this_week: int | None = None
    load_change: float | None = None


class AttentionCache:
    """Each patient's :class:`Attention` with the fingerprint of the rows it was computed from.

    Assessing a patient costs about 3 ms (three queries and the engine), 0.6 s for 200 patients
    per overview; the fingerprints of all of them are a handful of grouped queries. A patient
    is assessed again only when a fingerprint changes: a new week, or any session, report,
    morning, prescription or decision of the assessed weeks added or changed.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Hashable, Attention]] = {}
        self._lock = threading.Lock()

    def get(self, patient_id: int, fingerprint: Hashable, compute: Callable[[], Attention]) -> Attention:
        with self._lock:
            cached = self._entries.get(patient_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        attention = compute()
        with self._lock:
            self._entries[patient_id] = (fingerprint, attention)
        return attention


def attention(db: Session, patient_id: int, *, today: date, tz: tzinfo) -> Attention:
    """The patient's light and its reasons: open flags (this week's, and last week's until its advice is
    decided) and the newest finished session's verdict; the worst of them sets the light."""
    assessed = assess_patient(db, patient_id, today=today, tz=tz, weeks=ATTENTION_WEEKS)
    if not assessed:
        return Attention("none")
    decided = set(db.scalars(select(AdviceDecision.week_start).where(AdviceDecision.patient_id == patient_id)))
    current = assessed[-1]
    last = assessed[-2] if len(assessed) > 1 else None
    awaiting = last.start if last is not None and last.start not in decided else None
    open_weeks = [last, current] if awaiting is not None else [current]
    flags = sorted((f for week in open_weeks if week for f in week.flags), key=lambda f: SEVERITY_ORDER[f.severity])
    verdicts = [(sid, v) for week in assessed for sid, v in week.verdicts]
    latest = (
        VerdictOut(
            session_id=verdicts[-1][0],
            level=verdicts[-1][1].level,
            findings=[MessageOut.of(m) for m in verdicts[-1][1].findings],
        )
        if verdicts
        else None
    )
    severities = {f.severity for f in flags}
    level = latest.level if latest else "unknown"
    light: Light
    if "critical" in severities or level == "red":
        light = "red"
    elif "warning" in severities or level == "amber":
        light = "amber"
    else:
        light = "unknown" if level == "unknown" else "green"
    reasons = [MessageOut.of(f.message) for f in flags]
    if latest is not None and not any(f.session_id == latest.session_id for f in flags):
        reasons += latest.findings
    before = assessed[-3] if len(assessed) > 2 else None
    comparable = (
        last is not None and before is not None and last.load_complete and before.load_complete and before.load_au > 0
    )
    return Attention(
        light,
        tuple(reasons),
        latest,
        awaiting,
        current.sessions_done,
        current.prescription.sessions_per_week,
        last.load_au / before.load_au - 1 if comparable and last and before else None,
    )


def _count_and_sum(*columns: Any) -> list[ColumnElement[Any]]:
    """A value that changes when any of ``columns`` changes in a group: counted (None to 0 counts) and summed."""
    return [aggregate(column) for column in columns for aggregate in (func.count, func.sum)]


def _by_patient(db: Session, query: Executable) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in db.execute(query)}


def attention_fingerprints(db: Session, patient_ids: Sequence[int], *, today: date, tz: tzinfo) -> dict[int, Hashable]:
    """Per patient, aggregates of every row :func:`attention` reads, in seven grouped queries.

    Counts, sums, and the newest times: a report or morning replaced with other ratings changes a
    sum or its time, a session finishing changes its status and duration, a reanalysis its version.
    """
    monday = week_start(today)
    first = monday - timedelta(weeks=ATTENTION_WEEKS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    ids = list(patient_ids)
    patient = TrainingSession.patient_id
    in_window = patient.in_(ids) & (TrainingSession.started_at >= since)
    per_session = (
        select(
            patient,
            func.count(),
            func.max(TrainingSession.id),
            func.sum(case((TrainingSession.status == "live", 1), else_=0)),
            *_count_and_sum(TrainingSession.duration_s, TrainingSession.hr_coverage),
        )
        .where(in_window)
        .group_by(patient)
    )
    reports = (
        select(
            patient,
            func.max(SessionReportRow.reported_at),
            func.min(SessionReportRow.reported_at),
            func.sum(func.length(cast(SessionReportRow.red_flags, String))),
            *_count_and_sum(
                SessionReportRow.pain_before,
                SessionReportRow.pain_during,
                SessionReportRow.pain_after,
                SessionReportRow.effort_cr10,
            ),
        )
        .join(SessionReportRow, SessionReportRow.session_id == TrainingSession.id)
        .where(in_window)
        .group_by(patient)
    )
    loads = (
        select(patient, *_count_and_sum(SessionLoadRow.time_above_ceiling_s, SessionLoadRow.ceiling_bpm))
        .join(SessionLoadRow, SessionLoadRow.session_id == TrainingSession.id)
        .where(in_window)
        .group_by(patient)
    )
    analyses = (
        select(patient, *_count_and_sum(SessionAnalysis.version))
        .join(SessionAnalysis, SessionAnalysis.session_id == TrainingSession.id)
        .where(in_window)
        .group_by(patient)
    )
    mornings = (
        select(
            MorningReportRow.patient_id,
            func.max(MorningReportRow.reported_at),
            func.min(MorningReportRow.reported_at),
            func.sum(func.length(cast(MorningReportRow.red_flags, String))),
            *_count_and_sum(MorningReportRow.pain, MorningReportRow.stiffness),
        )
        .where(MorningReportRow.patient_id.in_(ids), MorningReportRow.day >= first)
        .group_by(MorningReportRow.patient_id)
    )
    versions = (
        select(PrescriptionVersion.patient_id, func.max(PrescriptionVersion.version))
        .where(PrescriptionVersion.patient_id.in_(ids))
        .group_by(PrescriptionVersion.patient_id)
    )
    decisions = (
        select(AdviceDecision.patient_id, func.count(), func.max(AdviceDecision.week_start))
        .where(AdviceDecision.patient_id.in_(ids))
        .group_by(AdviceDecision.patient_id)
    )
    parts = [_by_patient(db, query) for query in (per_session, reports, loads, analyses, mornings, versions, decisions)]
    return {patient_id: (monday, *(part.get(patient_id) for part in parts)) for patient_id in ids}


def patient_statuses(db: Session, *, clinician_id: int, tz: tzinfo, cache: AttentionCache) -> list[PatientStatusOut]:
    """The clinician's patients with their light and its reasons, in name order."""
    overviews = list_patients(db, clinician_id=clinician_id)
    query = select(Patient.pseudonym, Patient.id).where(Patient.clinician_id == clinician_id)
    ids = {pseudonym: patient_id for pseudonym, patient_id in db.execute(query)}
    today = datetime.now(tz).date()
    fingerprints = attention_fingerprints(db, list(ids.values()), today=today, tz=tz)
    rows = []
    for overview in overviews:
        patient_id = ids[overview.pseudonym]
        found = cache.get(
            patient_id, fingerprints[patient_id], functools.partial(attention, db, patient_id, today=today, tz=tz)
        )
        rows.append(
            PatientStatusOut(
                **overview.model_dump(),
                light=found.light,
                reasons=list(found.reasons),
                latest_verdict=found.latest_verdict,
                awaiting_decision=found.awaiting_decision,
                sessions_done_this_week=found.sessions_done_this_week,
                sessions_prescribed_this_week=found.sessions_prescribed_this_week,
                load_change=found.load_change,
            )
        )
    return rows


def _need(row: PatientStatusOut) -> tuple[Any, ...]:
    return (LIGHT_ORDER[row.light], row.awaiting_decision is None, -len(row.reasons), row.display_name.casefold())


def _adherence(row: PatientStatusOut) -> float:
    if row.sessions_done_this_week is None or not row.sessions_prescribed_this_week:
        return math.inf
    return row.sessions_done_this_week / row.sessions_prescribed_this_week


SORT_KEYS: Mapping[Sort, Callable[[PatientStatusOut], Any]] = {
    "need": _need,
    "name": lambda row: (row.display_name.casefold(), row.pseudonym),
    # Newest first; never trained last.
    "last_session": lambda row: -(row.last_session_at.timestamp() if row.last_session_at else -math.inf),
    "adherence": lambda row: (_adherence(row), _need(row)),
    "load_change": lambda row: (-(row.load_change if row.load_change is not None else -math.inf), _need(row)),
}
"""Each sort's key, the first row being the one to look at first."""


def sort_and_filter(rows: Sequence[PatientStatusOut], *, sort: Sort, filter: Filter) -> list[PatientStatusOut]:
    """``attention``: anyone not green (no prescription too) or with advice to decide; ``awaiting``: the latter."""
    if filter == "attention":
        rows = [r for r in rows if r.light != "green" or r.awaiting_decision is not None]
    elif filter == "awaiting":
        rows = [r for r in rows if r.awaiting_decision is not None]
    return sorted(rows, key=SORT_KEYS[sort])
