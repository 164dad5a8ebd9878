"""The batch analysis of one session's stored signals: what was done, and how the heart took it.

Walking sessions get steps, walking time and cadence; strength sessions get sets,
repetitions, tempo, time under tension and rest; both get minutes per intensity level
(MAD epochs), and from the RR intervals HRV, DFA α1 and HRVT1. This is the
authoritative session result; live values are previews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.analysis.acceleration import resample_acc
from monitor.analysis.dfa import dfa_alpha1, dfa_alpha1_windows, hrvt1_bpm
from monitor.analysis.intensity import MAD_CUTPOINTS_MG, intensity_minutes, mad_epochs
from monitor.analysis.reps import segment_sets
from monitor.analysis.rr import MAX_ARTIFACT_FRACTION, correct_rr, hrv
from monitor.analysis.steps import cadence_spm, count_steps, minutes_at_cadence, walking_bouts

ANALYSIS_RATE_HZ = 50.0
"""Steps, repetitions and intensity live below 5 Hz; 50 Hz keeps every method's band and
makes a 45-minute 200 Hz session four times cheaper to analyse."""


@dataclass(frozen=True, slots=True)
class SetSummary:
    start_s: float
    end_s: float
    reps: int
    period_s: float | None
    time_under_tension_s: float
    rest_before_s: float | None


@dataclass(frozen=True, slots=True)
class ActivityAnalysis:
    """Seconds count from the first acceleration sample of the session."""

    duration_s: float
    steps: int | None = None
    walking_s: float | None = None
    """Time within walking bouts."""
    minutes_at_100_spm: int | None = None
    cadence_spm: tuple[float, ...] | None = None
    """Steps per minute in each whole minute from the first sample (walking)."""
    sets: tuple[SetSummary, ...] | None = None
    moderate_or_vigorous_min: float | None = None
    """Whole MAD epochs at moderate or vigorous intensity (hip cut-points, Vähä-Ypyä 2015)."""

    @property
    def reps(self) -> int | None:
        return None if self.sets is None else sum(s.reps for s in self.sets)


def analyse_activity(*, kind: str, t_s: npt.ArrayLike, acc_mg: npt.ArrayLike) -> ActivityAnalysis:
    """What the acceleration of a ``walking`` or ``strength`` session shows.

    ``t_s`` are the samples' times in seconds (any origin, in order) and ``acc_mg`` their
    acceleration, shape (n, 3), in mG.
    """
    times = np.asarray(t_s, dtype=np.float64)
    values = np.asarray(acc_mg, dtype=np.float64).reshape(len(times), 3) / 1000.0
    # Samples that do not move time forward (a link's stutter) carry no new moment.
    forward: npt.NDArray[np.bool_] = np.ones(len(times), dtype=bool)
    forward[1:] = times[1:] > np.maximum.accumulate(times)[:-1]
    times, values = times[forward], values[forward]
    if len(times) < 2:
        return ActivityAnalysis(duration_s=0.0)
    grid_s, acc = resample_acc(t_s=times - times[0], acc=values, fs_hz=ANALYSIS_RATE_HZ)
    duration_s = float(grid_s[-1])
    epochs = mad_epochs(acc, fs_hz=ANALYSIS_RATE_HZ)
    minutes = intensity_minutes(epochs, cutpoints_mg=MAD_CUTPOINTS_MG)
    active_min = minutes.moderate_min + minutes.vigorous_min
    if kind == "walking":
        steps = count_steps(acc, fs_hz=ANALYSIS_RATE_HZ)
        bouts = walking_bouts(steps.times_s)
        return ActivityAnalysis(
            duration_s=duration_s,
            steps=steps.count,
            walking_s=float(sum(b.end_s - b.start_s for b in bouts)),
            minutes_at_100_spm=minutes_at_cadence(steps.times_s, duration_s=duration_s),
            cadence_spm=tuple(cadence_spm(steps.times_s, duration_s=duration_s)[1].tolist()),
            moderate_or_vigorous_min=active_min,
        )
    sets = tuple(
        SetSummary(
            start_s=found.start_s,
            end_s=found.end_s,
            reps=found.reps.count,
            period_s=found.reps.period_s,
            time_under_tension_s=found.reps.time_under_tension_s,
            rest_before_s=found.rest_before_s,
        )
        for found in segment_sets(acc, fs_hz=ANALYSIS_RATE_HZ)
    )
    return ActivityAnalysis(duration_s=duration_s, sets=sets, moderate_or_vigorous_min=active_min)


@dataclass(frozen=True, slots=True)
class HeartAnalysis:
    beats: int
    artifact_fraction: float | None
    """Share of beats the artifact correction changed; HRV is withheld above 5 %."""
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    mean_hr_bpm: float | None = None
    alpha1: float | None = None
    """DFA α1 of the whole session's corrected beats (boxes 4-16)."""
    hrvt1_bpm: float | None = None
    """Heart rate where α1 crosses 0.75, when the session spans it."""


MIN_BEATS_FOR_HRV = 32
"""DFA with boxes up to 16 beats needs at least two boxes of the largest size."""


def analyse_heart(*, rr_ms: npt.ArrayLike) -> HeartAnalysis:
    """HRV after artifact correction, α1 and HRVT1 of a session's RR intervals."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    if len(rr) < MIN_BEATS_FOR_HRV:
        return HeartAnalysis(beats=len(rr), artifact_fraction=None)
    correction = correct_rr(rr)
    if correction.artifact_fraction > MAX_ARTIFACT_FRACTION:
        return HeartAnalysis(beats=len(rr), artifact_fraction=correction.artifact_fraction)
    corrected = correction.rr_ms
    variability = hrv(corrected, correct_artifacts=False)
    alpha = dfa_alpha1(corrected)
    return HeartAnalysis(
        beats=len(rr),
        artifact_fraction=correction.artifact_fraction,
        rmssd_ms=variability.rmssd_ms,
        sdnn_ms=variability.sdnn_ms,
        mean_hr_bpm=variability.mean_hr_bpm,
        alpha1=None if np.isnan(alpha) else float(alpha),
        hrvt1_bpm=hrvt1_bpm(corrected),
    )


def alpha1_trace(*, rr_ms: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """DFA α1 over the last 2 minutes of corrected beats, every 5 s: (window end in s from the first beat, α1).

    The same correction and the same artifact limit as :func:`analyse_heart`: with more than
    5 % of beats corrected the trace is withheld (None), as the session's α1 is.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    if len(rr) < MIN_BEATS_FOR_HRV:
        return None
    correction = correct_rr(rr)
    if correction.artifact_fraction > MAX_ARTIFACT_FRACTION:
        return None
    return dfa_alpha1_windows(correction.rr_ms)
