"""DFA α1 (Peng 1995, DFA-1, box sizes 4..16, non-overlapping boxes), windowed and online.

Equals nolds ``dfa(rr, nvals=range(4, 17), overlap=False, fit_exp="poly")`` with detrending
off (docs/algorithms.md, "Conventions the project pins"). Pass artifact-corrected RR.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.linalg import solveh_banded

from monitor.analysis.rr import MAX_ARTIFACT_FRACTION, correct_rr, time_domain

BOX_SIZES = np.arange(4, 17)
MIN_BEATS = 2 * int(BOX_SIZES[-1])
"""Fewer beats leave the largest box size a single box: α1 is NaN."""
FLAT_MEAN_SQUARE_MS2 = 1e-9
"""Box residuals below this (ms²) are no fluctuation, only rounding: RR comes in steps of about 1 ms."""
SMOOTHNESS_PRIORS_LAMBDA = 500.0
HRVT1_ALPHA1 = 0.75

FloatArray = npt.NDArray[np.float64]


def smoothness_priors_detrend(rr_ms: FloatArray, *, lam: float = SMOOTHNESS_PRIORS_LAMBDA) -> FloatArray:
    """``x − (I + λ²D2ᵀD2)⁻¹x`` (Tarvainen 2002); the matrix is pentadiagonal, so a banded solve."""
    n = len(rr_ms)
    band = np.zeros((3, n))  # upper banded form of I + λ²D2ᵀD2
    main = np.full(n, 6.0)
    main[[0, -1]], main[[1, -2]] = 1.0, 5.0
    off1 = np.full(n - 1, -4.0)
    off1[[0, -1]] = -2.0
    band[2] = 1 + lam**2 * main
    band[1, 1:] = lam**2 * off1
    band[0, 2:] = lam**2
    trend: FloatArray = solveh_banded(band, rr_ms)
    return rr_ms - trend


def _box_residuals(profile: FloatArray, starts: npt.NDArray[np.int64], n: int) -> FloatArray:
    """Residual sum of squares of a least-squares line in each box ``profile[s : s + n]``."""
    boxes = profile[starts[:, None] + np.arange(n)]
    boxes = boxes - boxes.mean(axis=1, keepdims=True)
    x = np.arange(n) - (n - 1) / 2
    result: FloatArray = (boxes**2).sum(axis=1) - (boxes @ x) ** 2 / (x @ x)
    return result


def _alpha1_many(profile: FloatArray, first: npt.NDArray[np.int64], length: npt.NDArray[np.int64]) -> FloatArray:
    """α1 of many windows ``[first, first + length)`` of one profile, all windows at once.

    A line fitted per box absorbs any linear trend, so each window's own mean-removed
    profile and the whole series' profile leave the same residuals.
    """
    log_f = np.empty((len(first), len(BOX_SIZES)))
    for column, n in enumerate(BOX_SIZES):
        boxes = length // n
        window = np.repeat(np.arange(len(first)), boxes)
        offset = np.arange(boxes.sum()) - np.repeat(np.cumsum(boxes) - boxes, boxes)
        residuals = _box_residuals(profile, np.repeat(first, boxes) + offset * n, int(n))
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_square = np.bincount(window, residuals, len(first)) / (boxes * n)
            # No fluctuation at all (a fixed-rate pacemaker's RR): α1 is undefined, NaN, not a slope of rounding errors.
            log_f[:, column] = np.where(mean_square > FLAT_MEAN_SQUARE_MS2, 0.5 * np.log(mean_square), np.nan)
    log_n = np.log(BOX_SIZES) - np.log(BOX_SIZES).mean()
    slopes: FloatArray = (log_f - log_f.mean(axis=1, keepdims=True)) @ log_n / (log_n @ log_n)
    slopes[length < MIN_BEATS] = np.nan
    return slopes


def dfa_alpha1(rr_ms: npt.ArrayLike, *, detrend: bool = False) -> float:
    """Short-term scaling exponent α1 of RR; NaN below 32 beats.

    ``detrend=True`` removes slow trends by smoothness priors (λ = 500) first, as Kubios does.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    if len(rr) < MIN_BEATS:
        return float("nan")
    if detrend:
        rr = smoothness_priors_detrend(rr)
    profile = np.cumsum(rr - rr.mean())
    return float(_alpha1_many(profile, np.zeros(1, dtype=np.int64), np.array([len(rr)]))[0])


def _windows(
    rr: FloatArray, window_s: float, step_s: float
) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Window ends (s from the first beat) and each window's first interval and interval count.

    A window ending at ``e`` holds the intervals that end in ``(e − window_s, e]``.
    """
    end_t = np.cumsum(rr) / 1000
    ends = np.arange(window_s, end_t[-1] + 1e-9, step_s) if len(rr) else np.empty(0)
    first = np.searchsorted(end_t, ends - window_s, side="right")
    stop = np.searchsorted(end_t, ends, side="right")
    return ends, first.astype(np.int64), (stop - first).astype(np.int64)


def dfa_alpha1_windows(
    rr_ms: npt.ArrayLike, *, window_s: float = 120, step_s: float = 5, detrend: bool = False
) -> tuple[FloatArray, FloatArray]:
    """α1 over the last ``window_s`` of beats every ``step_s``: (window end times in s from the first beat, α1)."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    ends, first, length = _windows(rr, window_s, step_s)
    if detrend:
        alpha = np.array([dfa_alpha1(rr[a : a + n], detrend=True) for a, n in zip(first, length, strict=True)])
        return ends, alpha
    profile = np.cumsum(rr - rr.mean()) if len(rr) else rr
    return ends, _alpha1_many(profile, first, length)


def hrvt1_bpm(
    rr_ms: npt.ArrayLike, *, window_s: float = 120, step_s: float = 5, threshold: float = HRVT1_ALPHA1
) -> float | None:
    """Heart rate (bpm) at which windowed α1 crosses ``threshold`` (0.75: HRVT1, Rogers et al. 2021).

    α1 is regressed linearly on each window's mean HR (60000 / mean RR) and solved for the
    threshold, which smooths the window-to-window noise of α1. None unless the session's
    windows lie on both sides of the threshold and α1 falls as HR rises.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    _, alpha = dfa_alpha1_windows(rr, window_s=window_s, step_s=step_s)
    _, first, length = _windows(rr, window_s, step_s)
    valid = np.isfinite(alpha)
    if not (np.any(alpha[valid] >= threshold) and np.any(alpha[valid] < threshold)):
        return None
    sums = np.concatenate([[0.0], np.cumsum(rr)])
    hr = 60000 * length[valid] / (sums[first[valid] + length[valid]] - sums[first[valid]])
    slope, intercept = np.polyfit(hr, alpha[valid], 1)
    if slope >= 0:
        return None
    return float((threshold - intercept) / slope)


@dataclass(frozen=True, slots=True)
class OnlineReading:
    t_s: float
    """Whole second from the first beat at which the window ends."""
    rmssd_ms: float | None
    alpha1: float | None
    """None, like RMSSD, when more than 5 % of the window's beats were corrected."""
    artifact_fraction: float


class OnlineHrv:
    """RMSSD and α1 each second over the last ``window_s`` of beats, with bounded memory.

    Each reading equals the batch functions on the same window: :func:`correct_rr`, then
    RMSSD and :func:`dfa_alpha1` of the corrected intervals.
    """

    def __init__(self, *, window_s: float = 120, min_rr_ms: float = 200) -> None:
        self.window_s = window_s
        # No heart beats faster than 300 bpm, so the window never holds more than this.
        self._beats: deque[tuple[float, float]] = deque(maxlen=int(window_s * 1000 / min_rr_ms) + 1)
        self._t_s = 0.0

    def __len__(self) -> int:
        return len(self._beats)

    def add_beat(self, rr_ms: float) -> list[OnlineReading]:
        """Add one RR interval; returns the readings of the whole seconds it completes."""
        previous = self._t_s
        self._t_s += rr_ms / 1000
        self._beats.append((self._t_s, rr_ms))
        readings = []
        for second in range(int(np.floor(previous)) + 1, int(np.floor(self._t_s)) + 1):
            while self._beats and self._beats[0][0] <= second - self.window_s:
                self._beats.popleft()
            window = np.array([rr for t, rr in self._beats if t <= second])
            readings.append(self._reading(float(second), window))
        return readings

    @staticmethod
    def _reading(t_s: float, window: FloatArray) -> OnlineReading:
        if len(window) < 3:
            return OnlineReading(t_s, None, None, 0.0)
        corrected = correct_rr(window)
        if corrected.artifact_fraction > MAX_ARTIFACT_FRACTION:
            return OnlineReading(t_s, None, None, corrected.artifact_fraction)
        alpha = dfa_alpha1(corrected.rr_ms)
        rmssd = time_domain(corrected.rr_ms)[0]
        return OnlineReading(t_s, rmssd, None if np.isnan(alpha) else alpha, corrected.artifact_fraction)
