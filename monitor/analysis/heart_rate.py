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
