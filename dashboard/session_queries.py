"""What the session page draws: heart rate with zones and ceiling, α1, cadence or sets, gaps, reports, raw signals.

Computed on request from the stored session: the 1 Hz heart rate and the α1 trace from the
stored notifications and beats (the same functions the session summary uses), cadence and sets
from the session's analysis, so a page never disagrees with the summary above it.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy.orm import Session

from dashboard.queries import heart_rate_series
from dashboard.schemas import (
    Alpha1Trace,
    CadenceOut,
    DecimatedSignal,
    GapOut,
    HeartRateSeries,
    SelfReportOut,
    SessionTraces,
    SetOut,
    ZoneOut,
)
from monitor.analysis.heart_rate import HRR_ZONES, karvonen_bpm, time_in_zones_s
from monitor.analysis.session import alpha1_trace
from monitor.store import Store, TrainingSession
from monitor.store.clinical import heart_rate_limits
from monitor.store.models import ClinicalProfile
from monitor.store.signals import SIGNALS

MIN_GAP_S = 5
"""Shorter runs without heart rate are a dropped notification or two, not worth listing."""
ACC_ORIGIN_SEARCH = timedelta(minutes=2)
"""The analysis counts seconds from the first acceleration sample; it is looked for this long after the start."""
MAX_POINTS = 4000


def session_traces(db: Session, store: Store, row: TrainingSession) -> SessionTraces:
    heart_rate = heart_rate_series(store, row.id)
    activity = row.analysis.activity if row.analysis is not None else {}
    acc_origin_s = _acc_origin_s(store, row) if activity else None
    return SessionTraces(
        heart_rate=heart_rate,
        ceiling_bpm=row.load.ceiling_bpm if row.load else None,
        zones=_zones(db, row, heart_rate),
        alpha1=_alpha1(store, row.id),
        cadence=_cadence(activity.get("cadence_spm"), acc_origin_s),
        sets=_sets(activity.get("sets"), acc_origin_s),
        gaps=hr_gaps(heart_rate, min_gap_s=MIN_GAP_S),
        report=_report(row),
    )


def hr_gaps(series: HeartRateSeries, *, min_gap_s: int) -> list[GapOut]:
    """Runs of at least ``min_gap_s`` seconds without a valid heart rate on the 1 Hz grid."""
    missing = np.array([bpm is None for bpm in series.bpm], dtype=np.int8)
    edges = np.diff(np.concatenate(([0], missing, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        GapOut(start_s=float(series.t_s[a]), duration_s=float(b - a))
        for a, b in zip(starts, ends, strict=True)
        if b - a >= min_gap_s
    ]


def decimated_signal(
    store: Store,
    row: TrainingSession,
    signal: str,
    *,
    channel: str | None,
    from_ns: int | None,
    to_ns: int | None,
    points: int,
) -> DecimatedSignal:
    """One channel (default the first) of a stored signal in at most ``points`` buckets.

    ValueError for an unknown signal or channel.
    """
    spec = SIGNALS.get(signal)
    if spec is None:
        raise ValueError(f"no signal {signal!r}; known: {', '.join(SIGNALS)}")
    channel = channel or spec.columns[0]
    if channel not in spec.columns:
        raise ValueError(f"{signal} has channels {', '.join(spec.columns)}, not {channel!r}")
    decimated = store.signals.read_decimated(
        row.id,
        signal,
        max_points=min(points, MAX_POINTS),
        channel=spec.columns.index(channel),
        t_from_ns=from_ns,
        t_to_ns=to_ns,
    )
    return DecimatedSignal(
        signal=signal,
        channel=channel,
        unit=spec.unit,
        bucket_ns=decimated.bucket_ns,
        t_ns=decimated.t_ns.tolist(),
        min=decimated.min.tolist(),
        max=decimated.max.tolist(),
    )


def _zones(db: Session, row: TrainingSession, heart_rate: HeartRateSeries) -> list[ZoneOut]:
    hr_rest, hr_max = heart_rate_limits(db.get(ClinicalProfile, row.patient_id), on=row.started_at.date())
    if hr_rest is None or hr_max is None or hr_max <= hr_rest:
        return []
    hr = np.array([np.nan if bpm is None else bpm for bpm in heart_rate.bpm], dtype=np.float64)
    seconds = time_in_zones_s(hr, hr_rest_bpm=hr_rest, hr_max_bpm=hr_max)
    bounds = [karvonen_bpm(hr_rest_bpm=hr_rest, hr_max_bpm=hr_max, fraction_hrr=lower) for _, lower in HRR_ZONES]
    return [
        ZoneOut(name=name, lower_bpm=lower, upper_bpm=upper, seconds=seconds[name])
        for (name, _), lower, upper in zip(HRR_ZONES, bounds, [*bounds[1:], None], strict=True)
    ]


def _alpha1(store: Store, session_id: int) -> Alpha1Trace | None:
    rr = store.signals.read(session_id, "rr_ms")
    trace = alpha1_trace(rr_ms=rr.values[:, 0]) if len(rr) else None
    if trace is None:
        return None
    ends_s, alpha1 = trace
    # The windows count from the start of the first interval, which ends at the first beat's time.
    origin_s = rr.t_ns[0] / 1e9 - rr.values[0, 0] / 1000
    return Alpha1Trace(
        t_s=(origin_s + ends_s).round(3).tolist(),
        alpha1=[None if np.isnan(value) else round(float(value), 3) for value in alpha1],
    )


def _acc_origin_s(store: Store, row: TrainingSession) -> float:
    started_ns = int(row.started_at.timestamp() * 1e9)
    window_ns = int(ACC_ORIGIN_SEARCH.total_seconds() * 1e9)
    first = store.signals.read(row.id, "acc_mg", t_from_ns=started_ns - window_ns, t_to_ns=started_ns + window_ns)
    return first.t_ns[0] / 1e9 if len(first) else started_ns / 1e9


def _cadence(cadence_spm: list[float] | None, origin_s: float | None) -> CadenceOut | None:
    if cadence_spm is None or origin_s is None:
        return None
    return CadenceOut(t_s=[origin_s + 60.0 * minute for minute in range(len(cadence_spm))], spm=cadence_spm)


def _sets(sets: list[dict[str, float]] | None, origin_s: float | None) -> list[SetOut] | None:
    if sets is None or origin_s is None:
        return None
    return [
        SetOut(
            number=number,
            start_s=origin_s + found["start_s"],
            end_s=origin_s + found["end_s"],
            reps=int(found["reps"]),
            time_under_tension_s=found["time_under_tension_s"],
            rest_before_s=found["rest_before_s"],
        )
        for number, found in enumerate(sets, start=1)
    ]


def _report(row: TrainingSession) -> SelfReportOut | None:
    report = row.report
    if report is None:
        return None
    return SelfReportOut(
        pain_before=report.pain_before,
        pain_during=report.pain_during,
        pain_after=report.pain_after,
        effort_cr10=report.effort_cr10,
        red_flags=list(report.red_flags),
        reported_at=report.reported_at,
    )
