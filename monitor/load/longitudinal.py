"""Load over days and weeks: daily series, weekly totals, monotony and strain, acute and chronic load.

Loads are in arbitrary units (AU), normally sRPE (algorithms.md A2). A daily series has
one value per calendar day, rest days 0; it must be finite and not negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

ACUTE_DAYS = 7
CHRONIC_DAYS = 28
SEED_DAYS = 7
"""The EWMAs start from the mean of this many first days (algorithms.md, pinned conventions)."""
WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class AcuteChronic:
    """Acute and chronic load per day, and their ratio, aligned with the daily series."""

    acute: npt.NDArray[np.float64]
    """EWMA over 7 days (λ = 0.25), AU."""
    chronic: npt.NDArray[np.float64]
    """EWMA over 28 days (λ = 2/29), AU."""
    ratio: npt.NDArray[np.float64]
    """acute / chronic; NaN where chronic is 0."""


@dataclass(frozen=True, slots=True)
class WeeklyTotals:
    """Consecutive 7-day blocks from the first day of a daily series (not calendar weeks)."""

    total_au: npt.NDArray[np.float64]
    """Σ daily load per block."""
    days: npt.NDArray[np.int64]
    """Days in each block: 7, except a trailing partial week, which has 1–6 and is included."""


@dataclass(frozen=True, slots=True)
class MonotonyStrain:
    """Foster's monotony and strain of one week (Foster 1998, MSSE 30:1164)."""

    total_au: float
    """Σ of the 7 daily loads."""
    monotony: float | None
    """mean / SD of the daily loads; None when they are all equal (SD 0)."""
    strain_au: float | None
    """total × monotony; None with the monotony."""


def daily_load(day_loads: Iterable[tuple[date, float]], *, first_day: date, last_day: date) -> npt.NDArray[np.float64]:
    """Load per calendar day from ``first_day`` to ``last_day`` inclusive, from (day, load) pairs.

    Sessions on the same day add up; days without one are rest days with 0. Pass each
    session's local calendar date, not a datetime: where a day ends is the caller's choice.
    A session outside the range is an error rather than silently dropped.
    """
    if last_day < first_day:
        raise ValueError(f"last day {last_day} is before first day {first_day}")
    loads = np.zeros((last_day - first_day).days + 1)
    for day, load in day_loads:
        if isinstance(day, datetime):
            raise ValueError(f"pass the session's calendar date, not the datetime {day}")
        if not first_day <= day <= last_day:
            raise ValueError(f"a session on {day} is outside {first_day} to {last_day}")
        if not (math.isfinite(load) and load >= 0):
            raise ValueError(f"a session load must be finite and not negative, not {load} on {day}")
        loads[(day - first_day).days] += load
    return loads


def ewma_load(daily_load: npt.ArrayLike, *, days: int) -> npt.NDArray[np.float64]:
    """Exponentially weighted moving average of a daily load (Williams et al. 2017, BJSM 51:209).

    ``EWMA_t = λ·L_t + (1 − λ)·EWMA_{t−1}`` with ``λ = 2/(days + 1)``. The value before the
    first day is the mean of the first 7 days (of all days when there are fewer): the
    literature leaves the seed open, and seeding with 0 or with the first day's load moves
    the values for weeks. Same length as ``daily_load``.
    """
    if days < 1:
        raise ValueError(f"the EWMA needs at least 1 day, not {days}")
    loads = _daily_series(daily_load)
    weight = 2.0 / (days + 1)
    ewma = np.empty_like(loads)
    previous = float(loads[:SEED_DAYS].mean()) if len(loads) else 0.0
    for t, load in enumerate(loads):
        previous = weight * load + (1.0 - weight) * previous
        ewma[t] = previous
    return ewma


def acute_chronic(daily_load: npt.ArrayLike) -> AcuteChronic:
    """Acute (7-day) and chronic (28-day) EWMA load and the acute:chronic ratio, per day.

    The ratio is a trend to show beside the loads, never a decision threshold. Its
    published "sweet spot" and "danger zone" cut-offs came from post-hoc categorisation of
    a continuous variable in small samples; the ratio is a rescaling of acute load, not a
    normalisation; coupling acute into chronic load creates spurious correlation; and the
    choice of rolling or EWMA averages, window lengths and seed changes its values
    (Impellizzeri et al. 2020, 2021; Lolli 2019; algorithms.md A2). No cut-off is coded here.
    """
    loads = _daily_series(daily_load)
    acute = ewma_load(loads, days=ACUTE_DAYS)
    chronic = ewma_load(loads, days=CHRONIC_DAYS)
    ratio = np.divide(acute, chronic, out=np.full_like(acute, np.nan), where=chronic > 0)
    return AcuteChronic(acute=acute, chronic=chronic, ratio=ratio)


def weekly_totals(daily_load: npt.ArrayLike) -> WeeklyTotals:
    """Σ load of consecutive 7-day blocks from the first day; a trailing partial week is kept.

    The partial week's ``days`` is below 7: divide by ``days`` to compare it per day with a whole week.
    """
    loads = _daily_series(daily_load)
    starts = np.arange(0, len(loads), WEEK_DAYS)
    totals = np.add.reduceat(loads, starts) if len(loads) else np.empty(0)
    days = np.minimum(len(loads) - starts, WEEK_DAYS).astype(np.int64)
    return WeeklyTotals(total_au=totals, days=days)


def week_over_week_change(weekly: WeeklyTotals) -> npt.NDArray[np.float64]:
    """Fractional change of each week's total from the week before (0.2 = 20 % more).

    NaN for the first week, where the previous week's total is 0, and for a partial week,
    whose total would read as a drop only because it has fewer days.
    """
    totals = weekly.total_au
    change = np.full(len(totals), np.nan)
    if len(totals) > 1:
        previous, current = totals[:-1], totals[1:]
        comparable = (previous > 0) & (weekly.days[1:] == WEEK_DAYS)
        np.divide(current - previous, previous, out=change[1:], where=comparable)
    return change


def monotony_strain(daily_load_7d: npt.ArrayLike) -> MonotonyStrain:
    """Foster monotony (mean / SD of the week's 7 daily loads, rest days 0) and strain (total × monotony).

    The SD is the sample SD (ddof = 1). Papers and spreadsheets mix the sample and the
    population SD (ddof = 0); for 7 days the two monotonies differ by √(7/6), about 8 %,
    so compare monotony only with values computed the same way. When every day has the
    same load the SD is 0 and monotony is undefined: None, not infinity.
    """
    loads = _daily_series(daily_load_7d)
    if len(loads) != WEEK_DAYS:
        raise ValueError(f"monotony needs the 7 daily loads of a week, not {len(loads)}")
    total = float(loads.sum())
    sd = float(loads.std(ddof=1))
    if sd == 0:
        return MonotonyStrain(total_au=total, monotony=None, strain_au=None)
    monotony = float(loads.mean()) / sd
    return MonotonyStrain(total_au=total, monotony=monotony, strain_au=total * monotony)


def adherence(done_per_week: Sequence[float], prescribed_per_week: Sequence[float]) -> list[float | None]:
    """Sessions done / sessions prescribed, per week; None for a week with nothing prescribed.

    Not capped at 1: more sessions than prescribed is worth seeing.
    """
    if len(done_per_week) != len(prescribed_per_week):
        raise ValueError(
            f"done and prescribed need one value per week each, not {len(done_per_week)} and {len(prescribed_per_week)}"
        )
    fractions: list[float | None] = []
    for done, prescribed in zip(done_per_week, prescribed_per_week, strict=True):
        if not (done >= 0 and prescribed >= 0):
            raise ValueError(f"session counts must not be negative: {done} done, {prescribed} prescribed")
        fractions.append(done / prescribed if prescribed > 0 else None)
    return fractions


def _daily_series(daily_load: npt.ArrayLike) -> npt.NDArray[np.float64]:
    loads = np.asarray(daily_load, dtype=np.float64)
    if loads.ndim != 1:
        raise ValueError(f"a daily load is one value per day, not an array of shape {loads.shape}")
    if not np.all(np.isfinite(loads) & (loads >= 0)):
        raise ValueError("daily loads must be finite and not negative (a rest day is 0, not NaN)")
    return loads
