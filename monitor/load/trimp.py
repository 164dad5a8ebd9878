"""Training impulse (TRIMP): a session's internal load from its heart rate (algorithms.md A1).

Banister's TRIMP weights each minute by the fraction of heart-rate reserve and an
exponential that rises with it; Edwards's TRIMP counts minutes in five zones of % HRmax.
Both are integrated sample by sample over the session's heart rate, so a session that
alternates easy and hard scores more than one at the same steady average.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BANISTER_COEFFICIENTS: dict[str, tuple[float, float]] = {"male": (0.64, 1.92), "female": (0.86, 1.67)}
"""Sex: (a, b) in ``x · a·e^{b·x}`` (Morton/Banister, Green's coefficients; algorithms.md A1)."""

EDWARDS_ZONE_LOWER_BOUNDS_TENTHS = (5, 6, 7, 8, 9)
"""Lower bounds of Edwards's zones 1–5 in tenths of HRmax (50, 60, 70, 80, 90 %)."""


def trimp_banister(hr_bpm: npt.ArrayLike, *, hr_rest: float, hr_max: float, sex: str, dt_s: float = 1.0) -> float:
    """Banister TRIMP: Σ (dt_s/60) · x · a·e^{b·x}, x = (HR − hr_rest)/(hr_max − hr_rest).

    ``hr_bpm`` holds one heart rate every ``dt_s`` seconds; ``hr_rest`` and ``hr_max`` are in
    bpm. ``sex`` is ``"male"`` (a = 0.64, b = 1.92) or ``"female"`` (a = 0.86, b = 1.67).
    NaN samples (gaps) add nothing, so a gappy recording scores low rather than guessed;
    a heart rate below rest is no load (x is floored at 0). Above ``hr_max`` the formula is
    applied as it stands: such a sample means ``hr_max`` is set too low.

    GoldenCheetah scores the session's average heart rate instead, and keeps a = 0.64 for
    both sexes; because the exponential is convex, its score is lower than this sum.
    """
    if sex not in BANISTER_COEFFICIENTS:
        raise ValueError(f"sex must be 'male' or 'female' for Banister's coefficients, not {sex!r}")
    if not hr_max > hr_rest:
        raise ValueError(f"HRmax {hr_max} bpm must be above resting HR {hr_rest} bpm")
    _check_step(dt_s)
    a, b = BANISTER_COEFFICIENTS[sex]
    hr = _valid_samples(hr_bpm)
    x = np.maximum((hr - hr_rest) / (hr_max - hr_rest), 0.0)
    return float(np.sum(x * a * np.exp(b * x)) * dt_s / 60.0)


def trimp_edwards(hr_bpm: npt.ArrayLike, *, hr_max: float, dt_s: float = 1.0) -> float:
    """Edwards TRIMP (1993): Σ minutes in each zone of % HRmax × the zone's weight.

    Zones 50–60, 60–70, 70–80, 80–90 and 90–100 % of ``hr_max`` (bpm) weigh 1 to 5; below
    50 % scores 0, and 100 % or more counts in zone 5. A heart rate exactly on a boundary
    belongs to the zone above. ``hr_bpm`` holds one heart rate every ``dt_s`` seconds; NaN
    samples (gaps) add nothing.
    """
    if not hr_max > 0:
        raise ValueError(f"HRmax must be positive, not {hr_max} bpm")
    _check_step(dt_s)
    hr = _valid_samples(hr_bpm)
    # Comparing 10·HR with k·HRmax keeps whole-bpm boundaries exact: 133/190 is 0.7 only
    # approximately in floating point and would fall into the zone below.
    bounds = np.array(EDWARDS_ZONE_LOWER_BOUNDS_TENTHS, dtype=np.float64) * hr_max
    weight = np.searchsorted(bounds, 10.0 * hr, side="right")
    return float(np.sum(weight) * dt_s / 60.0)


def _valid_samples(hr_bpm: npt.ArrayLike) -> npt.NDArray[np.float64]:
    hr = np.asarray(hr_bpm, dtype=np.float64)
    if hr.ndim != 1:
        raise ValueError(f"heart rate must be one-dimensional, not of shape {hr.shape}")
    return hr[~np.isnan(hr)]


def _check_step(dt_s: float) -> None:
    if not dt_s > 0:
        raise ValueError(f"dt_s must be positive, not {dt_s} s")
