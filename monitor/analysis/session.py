"""The batch analysis of one session's stored acceleration: what was done.

Walking sessions get steps, walking time and cadence; strength sessions get sets,
repetitions, tempo, time under tension and rest; both get minutes per intensity level
(MAD epochs). This is the authoritative session result; live values are previews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.analysis.acceleration import resample_acc
from monitor.analysis.intensity import MAD_CUTPOINTS_MG, intensity_minutes, mad_epochs
from monitor.analysis.reps import segment_sets
from monitor.analysis.steps import count_steps, minutes_at_cadence, walking_bouts

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
