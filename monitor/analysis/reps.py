"""Repetitions, tempo, time under tension and sets from a 3-axis accelerometer.

Counting (algorithms.md A8, after RecoFit, Morris et al. CHI 2014): project the
acceleration on its first principal component, so the axis along which the exercise
moves the sensor is found whatever the placement; band-pass it to 0.06–3 Hz; take the
repetition period ``T`` from the autocorrelation in 0.7–8 s; count peaks at least
``0.7·T`` apart whose prominence is at least 0.5 standard deviations of the signal.
A8 suggests 1–8 s and 0.5·T; on the SPAR shoulder sets some subjects repeat every
0.95 s (a 1 s floor then finds 2·T and counts half) and 0.5·T lets a double-humped
repetition count twice. These three values were tuned on all 70 SPAR sets;
bench/validate.py also reports leave-one-subject-out figures.

Set segmentation: a set is a stretch where the acceleration varies (moving standard
deviation of the three axes above ``active_g``), at least ``min_set_s`` long, separated
from the next by at least ``min_rest_s`` of quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from monitor.analysis.acceleration import as_xyz, bandpass_sos

REP_BAND_HZ = (0.06, 3.0)
"""Low edge below 1 / 8 s (the slowest repetition); high edge well above the fastest (0.7 s)."""


@dataclass(frozen=True, slots=True)
class RepCount:
    count: int
    times_s: npt.NDArray[np.float64]
    """Time of each repetition's turning point, seconds from the first sample."""
    period_s: float | None
    """Tempo: median time between repetitions (None with fewer than two)."""
    time_under_tension_s: float
    """Σ time between consecutive repetitions, leaving out pauses longer than 1.5 periods,
    plus one period for the repetition that no interval covers; 0 without repetitions.
    No validated standard exists (A8); this is the set's moving time."""


@dataclass(frozen=True, slots=True)
class ExerciseSet:
    start_s: float
    end_s: float
    reps: RepCount
    rest_before_s: float | None
    """Quiet time since the previous set ended; None for the first set."""


def count_reps(
    acc_g: npt.ArrayLike,
    *,
    fs_hz: float,
    min_period_s: float = 0.7,
    max_period_s: float = 8.0,
    distance_periods: float = 0.7,
    prominence_std: float = 0.5,
    min_prominence_g: float = 0.05,
) -> RepCount:
    """Repetitions in one set: ``acc_g`` of shape ``(n, 3)`` in g at ``fs_hz``, any orientation.

    The period ``T`` is searched in ``[min_period_s, max_period_s]``; repetitions are at
    least ``distance_periods · T`` apart (``min_period_s`` apart when no period is found)
    and rise at least ``prominence_std`` standard deviations, and at least
    ``min_prominence_g``, above their surroundings: a still sensor's noise has a
    standard deviation too, and its wiggles are not repetitions.
    """
    values = as_xyz(acc_g)
    if fs_hz <= 2 * REP_BAND_HZ[1]:
        raise ValueError(f"fs_hz must exceed {2 * REP_BAND_HZ[1]} Hz")
    if len(values) < 2 * min_period_s * fs_hz:
        return RepCount(0, np.empty(0), None, 0.0)
    component = _first_principal_component(values)
    sos = bandpass_sos(2, REP_BAND_HZ, fs_hz)
    filtered = signal.sosfiltfilt(sos, component)
    period_s = _autocorrelation_period_s(filtered, fs_hz=fs_hz, min_s=min_period_s, max_s=max_period_s)
    distance = max(1, round(distance_periods * (period_s if period_s is not None else min_period_s) * fs_hz))
    prominence = max(prominence_std * float(filtered.std()), min_prominence_g)
    # The principal component's sign is arbitrary, so count the turning points at both
    # ends of the movement and keep the polarity with the clearer rhythm.
    candidates = [signal.find_peaks(sign * filtered, distance=distance, prominence=prominence)[0] for sign in (1, -1)]
    peaks = min(candidates, key=_irregularity)
    return _rep_count(peaks / fs_hz)


def segment_sets(
    acc_g: npt.ArrayLike,
    *,
    fs_hz: float,
    active_g: float = 0.05,
    window_s: float = 2.0,
    min_rest_s: float = 10.0,
    min_set_s: float = 8.0,
    min_reps: int = 3,
) -> list[ExerciseSet]:
    """Sets within a session: active stretches separated by at least ``min_rest_s`` of rest.

    Active means the moving standard deviation (over ``window_s``) of the three axes,
    combined as ``sqrt(Σ var)``, exceeds ``active_g``: rotating the sensor moves gravity
    between axes, so this sees slow exercises that barely change the vector magnitude.
    Stretches shorter than ``min_set_s`` or with fewer than ``min_reps`` repetitions
    (walking to the next machine, adjusting a band) are not sets.
    """
    values = as_xyz(acc_g)
    if len(values) == 0:
        return []
    size = max(1, round(window_s * fs_hz))
    mean = ndimage.uniform_filter1d(values, size, axis=0, mode="nearest")
    mean_sq = ndimage.uniform_filter1d(values * values, size, axis=0, mode="nearest")
    spread_g = np.sqrt(np.clip(mean_sq - mean * mean, 0.0, None).sum(axis=1))
    active = spread_g > active_g
    sets: list[ExerciseSet] = []
    previous_end_s: float | None = None
    for first, last in _merged_spans(active, max_gap=round(min_rest_s * fs_hz)):
        if (last - first) / fs_hz < min_set_s:
            continue
        # Count with a margin of rest on both sides: the band-pass filter's edge
        # transient would otherwise flatten the first and last repetition.
        padded_first, padded_last = max(0, first - size), min(len(values), last + size)
        reps = count_reps(values[padded_first:padded_last], fs_hz=fs_hz)
        if reps.count < min_reps:
            continue
        start_s, end_s = first / fs_hz, last / fs_hz
        times_s = reps.times_s + padded_first / fs_hz
        shifted = RepCount(reps.count, times_s, reps.period_s, reps.time_under_tension_s)
        rest_s = None if previous_end_s is None else start_s - previous_end_s
        sets.append(ExerciseSet(start_s, end_s, shifted, rest_s))
        previous_end_s = end_s
    return sets


def _first_principal_component(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centred = values - values.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    projected: npt.NDArray[np.float64] = centred @ vectors[:, -1]
    return projected


def _autocorrelation_period_s(x: npt.NDArray[np.float64], *, fs_hz: float, min_s: float, max_s: float) -> float | None:
    """First autocorrelation peak in ``[min_s, max_s]`` that is at least 80 % of the highest there.

    Taking the highest peak would sometimes pick twice the period; the first clearly
    high one is the fundamental.
    """
    n = len(x)
    spectrum = np.fft.rfft(x - x.mean(), 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    if acf[0] <= 0:
        return None
    acf /= acf[0]
    lo, hi = round(min_s * fs_hz), min(round(max_s * fs_hz), n - 1)
    if hi <= lo:
        return None
    peaks, _ = signal.find_peaks(acf[lo : hi + 1])
    if len(peaks) == 0:
        return None
    heights = acf[lo + peaks]
    best = float(heights.max())
    if best <= 0:
        return None
    return float((lo + peaks[np.argmax(heights >= 0.8 * best)]) / fs_hz)


def _irregularity(peaks: npt.NDArray[np.int64]) -> float:
    """Coefficient of variation of the intervals; the fewer-than-three case loses."""
    if len(peaks) < 3:
        return float("inf")
    intervals = np.diff(peaks).astype(np.float64)
    return float(intervals.std() / intervals.mean())


def _rep_count(times_s: npt.NDArray[np.float64]) -> RepCount:
    if len(times_s) < 2:
        return RepCount(len(times_s), times_s, None, 0.0)
    intervals = np.diff(times_s)
    period_s = float(np.median(intervals))
    moving = intervals[intervals <= 1.5 * period_s]
    return RepCount(len(times_s), times_s, period_s, float(moving.sum()) + period_s)


def _merged_spans(active: npt.NDArray[np.bool_], *, max_gap: int) -> list[tuple[int, int]]:
    """(start, stop) sample ranges of ``active``, joining runs separated by fewer than ``max_gap`` samples."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    spans: list[tuple[int, int]] = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        if spans and start - spans[-1][1] < max_gap:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))
    return spans
