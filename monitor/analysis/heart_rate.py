"""Heart rate over a session: validity, 1 Hz resampling, mean and maximum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HR_MIN_BPM = 30
HR_MAX_BPM = 230


@dataclass(frozen=True, slots=True)
class HeartRateSummary:
    mean_bpm: float | None
    max_bpm: float | None
    coverage: float
    """Share of the seconds between first and last reading that have a valid heart rate."""


def resample_hr_1hz(
    *,
    t_s: npt.ArrayLike,
    hr_bpm: npt.ArrayLike,
    sensor_contact: npt.ArrayLike | None = None,
    max_hold_s: float = 3.0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Heart rate per whole second, from ``floor(t_s[0])`` to ``floor(t_s[-1])``.

    Readings without sensor contact (``sensor_contact == 0``; -1 means the sensor
    cannot tell and is kept) or outside 30–230 bpm are dropped. Second ``s`` covers
    ``[s, s + 1)`` and takes the latest valid reading before its end, if that is at
    most ``max_hold_s`` old, else NaN: a strap sends about one reading a second, so a
    longer silence is a gap, not a steady heart rate.
    """
    times = np.asarray(t_s, dtype=np.float64)
    values = np.asarray(hr_bpm, dtype=np.float64)
    if len(times) == 0:
        return np.empty(0), np.empty(0)
    valid = (values >= HR_MIN_BPM) & (values <= HR_MAX_BPM)
    if sensor_contact is not None:
        valid &= np.asarray(sensor_contact) != 0
    grid = np.arange(np.floor(times[0]), np.floor(times[-1]) + 1)
    cell_end = grid + 1.0
    kept_t, kept_hr = times[valid], values[valid]
    resampled = np.full(len(grid), np.nan)
    if len(kept_t):
        index = np.searchsorted(kept_t, cell_end, side="left") - 1
        usable = index >= 0
        age = cell_end[usable] - kept_t[index[usable]]
        resampled[usable] = np.where(age <= max_hold_s + 1.0, kept_hr[index[usable]], np.nan)
    return grid, resampled


def heart_rate_summary(
    *, t_s: npt.ArrayLike, hr_bpm: npt.ArrayLike, sensor_contact: npt.ArrayLike | None = None
) -> HeartRateSummary:
    """Mean and maximum of the 1 Hz heart rate (see :func:`resample_hr_1hz`)."""
    _, hr = resample_hr_1hz(t_s=t_s, hr_bpm=hr_bpm, sensor_contact=sensor_contact)
    valid = hr[~np.isnan(hr)]
    if len(valid) == 0:
        return HeartRateSummary(None, None, 0.0)
    return HeartRateSummary(float(valid.mean()), float(valid.max()), len(valid) / len(hr))


def hr_max_tanaka_bpm(*, age_years: float) -> float:
    """Estimated maximal heart rate, 208 − 0.7 · age (Tanaka et al. 2001, JACC 37:153).

    Unreliable in older rehabilitation patients and under β-blockers: prefer a measured
    maximum where there is one.
    """
    if not 0 < age_years < 130:
        raise ValueError(f"age {age_years} years is not plausible")
    return 208.0 - 0.7 * age_years


def karvonen_bpm(*, hr_rest_bpm: float, hr_max_bpm: float, fraction_hrr: float) -> float:
    """Heart rate at a fraction of the heart-rate reserve: rest + fraction · (max − rest)."""
    if hr_max_bpm <= hr_rest_bpm:
        raise ValueError(f"HRmax {hr_max_bpm} bpm must be above resting HR {hr_rest_bpm} bpm")
    return hr_rest_bpm + fraction_hrr * (hr_max_bpm - hr_rest_bpm)


HRR_ZONES: tuple[tuple[str, float], ...] = (
    ("very_light", 0.0),
    ("light", 0.30),
    ("moderate", 0.40),
    ("vigorous", 0.60),
    ("near_maximal", 0.90),
)
"""ACSM intensity bands by % heart-rate reserve (GETP 10th/11th ed.): zone name and lower bound."""


def time_in_zones_s(hr_1hz_bpm: npt.ArrayLike, *, hr_rest_bpm: float, hr_max_bpm: float) -> dict[str, float]:
    """Seconds of a 1 Hz heart rate in each ACSM %HRR zone; seconds without a value count in none."""
    hr = np.asarray(hr_1hz_bpm, dtype=np.float64)
    fraction = (hr[~np.isnan(hr)] - hr_rest_bpm) / (hr_max_bpm - hr_rest_bpm)
    lower_bounds = np.array([bound for _, bound in HRR_ZONES])
    # Below 0 % HRR still counts as very light.
    zone_index = np.clip(np.searchsorted(lower_bounds, fraction, side="right") - 1, 0, len(HRR_ZONES) - 1)
    counts = np.bincount(zone_index, minlength=len(HRR_ZONES))
    return {name: float(count) for (name, _), count in zip(HRR_ZONES, counts, strict=True)}


def time_above_s(hr_1hz_bpm: npt.ArrayLike, *, ceiling_bpm: float) -> float:
    """Seconds of a 1 Hz heart rate above a prescribed ceiling."""
    hr = np.asarray(hr_1hz_bpm, dtype=np.float64)
    return float(np.count_nonzero(hr[~np.isnan(hr)] > ceiling_bpm))


HRR60_PEAK_WINDOW_S = 15.0
HRR60_AT_60_WINDOW_S = (55.0, 65.0)


def hrr60_bpm(*, t_s: npt.ArrayLike, hr_1hz_bpm: npt.ArrayLike, exercise_end_s: float) -> float | None:
    """Heart-rate recovery 60 s after the end of exercise (Cole et al. 1999, NEJM 341:1351).

    Peak = the highest heart rate in the last 15 s of exercise; HR at 60 s = the mean over
    55-65 s after the end (algorithms.md A5 leaves both choices open: these are the
    project's). None when either window has no valid value. ≤ 12 bpm after an upright
    cool-down is abnormal in Cole's cohort.
    """
    times = np.asarray(t_s, dtype=np.float64)
    hr = np.asarray(hr_1hz_bpm, dtype=np.float64)
    peak_window = (times > exercise_end_s - HRR60_PEAK_WINDOW_S) & (times <= exercise_end_s)
    later = (times >= exercise_end_s + HRR60_AT_60_WINDOW_S[0]) & (times <= exercise_end_s + HRR60_AT_60_WINDOW_S[1])
    peak, at_60 = hr[peak_window], hr[later]
    if np.all(np.isnan(peak)) or np.all(np.isnan(at_60)):
        return None
    return float(np.nanmax(peak) - np.nanmean(at_60))
