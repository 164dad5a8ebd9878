"""One session's load: internal (sRPE, TRIMP, time above the ceiling) and external (steps, sets).

Foster's sRPE is the common unit for walking and strength sessions; TRIMP is shown beside
it (algorithms.md, "Conventions the project pins"). A number whose inputs are missing is
None, never an estimate: a session without an effort rating has no sRPE, not a zero one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.analysis.heart_rate import time_above_s
from monitor.load.trimp import trimp_banister, trimp_edwards


@dataclass(frozen=True, slots=True)
class StrengthSet:
    """One set of a strength session, as counted or entered."""

    reps: int
    time_under_tension_s: float
    weight_kg: float | None = None
    """External weight moved in each repetition; None for body weight or when none was entered."""


@dataclass(frozen=True, slots=True)
class SessionLoad:
    """Internal and external load of one session; None where the inputs were missing."""

    srpe_au: float | None
    """Foster session RPE, CR-10 × minutes (arbitrary units); None without an effort rating."""
    trimp_banister: float | None
    """Banister TRIMP (AU); None without heart rate, resting and maximal HR, or sex."""
    trimp_edwards: float | None
    """Edwards TRIMP (AU); None without heart rate or maximal HR."""
    time_above_ceiling_s: float | None
    """Seconds above the prescribed heart-rate ceiling; None without heart rate or ceiling."""
    duration_min: float
    steps: int | None
    walking_min: float | None
    """Time within walking bouts."""
    brisk_min: float | None
    """Whole minutes at ≥ 100 steps/min (moderate walking, Tudor-Locke 2018)."""
    sets: int | None
    """None for a session without strength sets (a walk), 0 for a strength session without any."""
    reps: int | None
    volume_kg: float | None
    """Σ reps × kg over the sets with a weight entered; None when no set has one."""
    time_under_tension_s: float | None


def srpe_au(*, cr10: float, minutes: float) -> float:
    """Foster session RPE (Foster 2001, JSCR 15:109): CR-10 rating (0–10) × session minutes, in AU.

    The rating is best collected about 30 min after the session.
    """
    if not 0 <= cr10 <= 10:
        raise ValueError(f"a CR-10 rating is between 0 and 10, not {cr10}")
    if not minutes >= 0:
        raise ValueError(f"session minutes must not be negative, not {minutes}")
    return cr10 * minutes


def session_load(
    *,
    duration_min: float,
    hr_1hz_bpm: npt.ArrayLike | None = None,
    hr_rest_bpm: float | None = None,
    hr_max_bpm: float | None = None,
    sex: str | None = None,
    ceiling_bpm: float | None = None,
    cr10: float | None = None,
    steps: int | None = None,
    walking_min: float | None = None,
    brisk_min: float | None = None,
    strength_sets: Sequence[StrengthSet] | None = None,
) -> SessionLoad:
    """The load of one session from what is known about it.

    ``hr_1hz_bpm`` is the session's heart rate once a second with NaN in gaps
    (:func:`monitor.analysis.heart_rate.resample_hr_1hz`); without any valid sample the
    heart-rate loads are None. Gaps add no load, so TRIMP of a gappy recording is low: read
    it beside the heart-rate coverage. sRPE uses ``duration_min`` as the session minutes.
    ``strength_sets`` is None for a session that is not a strength session.
    """
    if not duration_min >= 0:
        raise ValueError(f"duration must not be negative, not {duration_min} min")
    hr = None if hr_1hz_bpm is None else np.asarray(hr_1hz_bpm, dtype=np.float64)
    banister = edwards = above = None
    if hr is not None and np.any(~np.isnan(hr)):
        if hr_rest_bpm is not None and hr_max_bpm is not None and sex is not None:
            banister = trimp_banister(hr, hr_rest=hr_rest_bpm, hr_max=hr_max_bpm, sex=sex)
        if hr_max_bpm is not None:
            edwards = trimp_edwards(hr, hr_max=hr_max_bpm)
        if ceiling_bpm is not None:
            above = time_above_s(hr, ceiling_bpm=ceiling_bpm)
    n_sets = reps = volume = tension = None
    if strength_sets is not None:
        for one in strength_sets:
            _check_set(one)
        n_sets = len(strength_sets)
        reps = sum(one.reps for one in strength_sets)
        tension = float(sum(one.time_under_tension_s for one in strength_sets))
        weighted = [one.reps * one.weight_kg for one in strength_sets if one.weight_kg is not None]
        volume = float(sum(weighted)) if weighted else None
    return SessionLoad(
        srpe_au=None if cr10 is None else srpe_au(cr10=cr10, minutes=duration_min),
        trimp_banister=banister,
        trimp_edwards=edwards,
        time_above_ceiling_s=above,
        duration_min=duration_min,
        steps=steps,
        walking_min=walking_min,
        brisk_min=brisk_min,
        sets=n_sets,
        reps=reps,
        volume_kg=volume,
        time_under_tension_s=tension,
    )


def _check_set(one: StrengthSet) -> None:
    if one.reps < 0 or not one.time_under_tension_s >= 0 or not (one.weight_kg is None or one.weight_kg >= 0):
        raise ValueError(f"a set cannot have negative repetitions, time under tension or weight: {one}")
