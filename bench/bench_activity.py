"""Speed of the acceleration analysis, side by side with agcounts where it does similar work.

Run with `.venv/bin/python bench/bench_activity.py` (needs the `bench` extra for
agcounts). Prints a Markdown table. The input is synthetic: alternating minutes of
walking (a 0.3 g pulse per step at 1.8 steps/s) and rest, plus 0.02 g noise, with
gravity along a tilted axis. Every figure is the median of several runs on one core
(BLAS threads pinned to 1 before numpy loads).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import platform  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from agcounts.extract import get_counts  # noqa: E402
from timing import median_s  # noqa: E402

from monitor.analysis.intensity import (  # noqa: E402
    ENMO_CUTPOINTS_MG,
    MAD_CUTPOINTS_MG,
    enmo_epochs,
    intensity_minutes,
    mad_epochs,
)
from monitor.analysis.reps import segment_sets  # noqa: E402
from monitor.analysis.steps import cadence_spm, count_steps, minutes_at_cadence, walking_bouts  # noqa: E402


def synthetic_session(*, minutes: int, fs_hz: int, seed: int = 0) -> npt.NDArray[np.float64]:
    t_s = np.arange(minutes * 60 * fs_hz) / fs_hz
    walking = (t_s // 60) % 2 == 0
    phase = (t_s * 1.8) % 1.0  # one pulse per step at 1.8 steps/s
    pulses = np.where(walking, 0.3 * np.exp(-0.5 * ((phase - 0.5) / (0.07 * 1.8)) ** 2), 0.0)
    axis = np.array([0.2, 0.9, np.sqrt(1 - 0.85)])
    noise = np.random.default_rng(seed).normal(0.0, 0.02, (len(t_s), 3))
    acc: npt.NDArray[np.float64] = (1.0 + pulses)[:, None] * axis + noise
    return acc


def full_analysis(acc_g: npt.NDArray[np.float64], fs_hz: int) -> object:
    """Everything Dosis computes from a session's acceleration."""
    duration_s = len(acc_g) / fs_hz
    steps = count_steps(acc_g, fs_hz=fs_hz)
    enmo = enmo_epochs(acc_g, fs_hz=fs_hz)
    mad = mad_epochs(acc_g, fs_hz=fs_hz)
    return (
        walking_bouts(steps.times_s),
        cadence_spm(steps.times_s, duration_s=duration_s),
        minutes_at_cadence(steps.times_s, duration_s=duration_s),
        intensity_minutes(enmo, cutpoints_mg=ENMO_CUTPOINTS_MG),
        intensity_minutes(mad, cutpoints_mg=MAD_CUTPOINTS_MG),
        segment_sets(acc_g, fs_hz=fs_hz),
    )


def main() -> None:
    hour = synthetic_session(minutes=60, fs_hz=100)
    session = synthetic_session(minutes=45, fs_hz=200)
    agcounts_s = median_s(lambda: get_counts(hour, freq=100, epoch=60), repeat=3)
    epochs_s = median_s(lambda: (enmo_epochs(hour, fs_hz=100), mad_epochs(hour, fs_hz=100)), repeat=7)
    steps_s = median_s(lambda: count_steps(hour, fs_hz=100), repeat=5)
    full_s = median_s(lambda: full_analysis(session, 200), repeat=5)
    counted = count_steps(hour, fs_hz=100).count
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, one core.\n")
    print("| operation | input | median | ratio |")
    print("|---|---|---|---|")
    print(f"| agcounts.get_counts(epoch=60) | 1 h, 100 Hz | {agcounts_s * 1e3:.1f} ms | 1× |")
    print(
        f"| Dosis enmo_epochs (5 s) + mad_epochs (6 s) | 1 h, 100 Hz | {epochs_s * 1e3:.1f} ms | "
        f"{agcounts_s / epochs_s:.0f}× faster than agcounts |"
    )
    print(f"| Dosis count_steps ({counted} of 3,240 steps) | 1 h, 100 Hz | {steps_s * 1e3:.1f} ms | — |")
    print(
        f"| Dosis full activity analysis (steps, bouts, cadence, ENMO, MAD, sets) | 45 min, 200 Hz | "
        f"{full_s * 1e3:.1f} ms | {full_s:.2f} of the 1 s budget |"
    )


if __name__ == "__main__":
    main()
