"""Read-side queries shared by the JSON API and the pages, so both show the same numbers."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dashboard.schemas import HeartRateSeries, PatientOverview, SessionDetail, SessionEventOut, SessionSummary
from monitor.analysis import resample_hr_1hz
from monitor.load import StrengthSet, session_load
from monitor.store import Patient, Store, TrainingSession


class NotFoundError(LookupError):
    """The request named a patient or session that does not exist; the message says which."""


def ns_to_utc(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC)


def list_patients(db: Session) -> list[PatientOverview]:
    """Every patient with their session count and newest session, in two indexed queries.

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


def get_patient(db: Session, pseudonym: str) -> Patient:
    patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
    if patient is None:
        raise NotFoundError(f"No patient with pseudonym {pseudonym!r}.")
    return patient


def patient_sessions(db: Session, pseudonym: str) -> list[SessionSummary]:
    """The patient's sessions, newest first."""
    patient = get_patient(db, pseudonym)
    rows = db.scalars(
        select(TrainingSession)
        .where(TrainingSession.patient_id == patient.id)
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
        .options(selectinload(TrainingSession.analysis))
    ).all()
    return [_summary(row, patient.pseudonym) for row in rows]


def session_detail(db: Session, session_id: int) -> SessionDetail:
    row = _get_session(db, session_id)
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


def heart_rate_series(store: Store, db: Session, session_id: int) -> HeartRateSeries:
    """The 1 Hz heart rate the session summary's mean and maximum are computed from."""
    _get_session(db, session_id)
    hr = store.signals.read(session_id, "hr_bpm")
    grid_s, hr_bpm = resample_hr_1hz(t_s=hr.t_ns / 1e9, hr_bpm=hr.values[:, 0], sensor_contact=hr.values[:, 1])
    bpm = [None if math.isnan(value) else value for value in hr_bpm.tolist()]
    return HeartRateSeries(t_s=grid_s.astype(np.int64).tolist(), bpm=bpm)


def _get_session(db: Session, session_id: int) -> TrainingSession:
    row = db.get(TrainingSession, session_id)
    if row is None:
        raise NotFoundError(f"No session with id {session_id}.")
    return row


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
