from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.acceleration import resample_acc, to_g
from monitor.analysis.steps import cadence_spm, count_steps, minutes_at_cadence, walking_bouts
from monitor.recordings import load_oxford_walk

FS_HZ = 50
GRAVITY_AXIS = np.array([0.2, 0.9, np.sqrt(1 - 0.85)])  # a strap that sits a little askew


def walking_like(step_times_s: np.ndarray, *, duration_s: float, noise_g: float = 0.02, seed: int = 0) -> np.ndarray:
    """Gravity plus a 0.3 g heel-strike pulse (70 ms wide) at each step time, plus noise."""
    t_s = np.arange(round(duration_s * FS_HZ)) / FS_HZ
    pulses = 0.3 * np.exp(-0.5 * ((t_s[:, None] - step_times_s[None, :]) / 0.07) ** 2).sum(axis=1)
    noise = np.random.default_rng(seed).normal(0.0, noise_g, (len(t_s), 3))
    acc: np.ndarray = (1.0 + pulses)[:, None] * GRAVITY_AXIS + noise
    return acc


def test_counts_each_step_of_a_1_8_hz_walk_between_rests() -> None:
    steps = 10.0 + np.arange(90) / 1.8
    result = count_steps(walking_like(steps, duration_s=80.0), fs_hz=FS_HZ)
    assert result.count == 90
    assert np.abs(result.times_s - steps).max() < 0.05


def test_rest_and_short_fidgets_are_not_steps() -> None:
    assert count_steps(walking_like(np.empty(0), duration_s=60.0), fs_hz=FS_HZ).count == 0
    fidget = 20.0 + np.arange(5) * 0.6  # five bumps: below the 8-step bout
    assert count_steps(walking_like(fidget, duration_s=60.0), fs_hz=FS_HZ).count == 0
    assert count_steps(np.zeros((10, 3)), fs_hz=FS_HZ).count == 0
    with pytest.raises(ValueError, match="fs_hz"):
        count_steps(np.zeros((100, 3)), fs_hz=5)


def test_bouts_cadence_and_minutes_at_100_steps_per_minute() -> None:
    first = 1.0 + np.arange(120) * 0.5  # 120 steps/min from 1 s to 60.5 s
    second = 70.0 + np.arange(80) * (60 / 90)  # 90 steps/min from 70 s
    times_s = np.concatenate([first, second])
    bouts = walking_bouts(times_s)
    assert [(b.steps, round(b.cadence_spm, 6)) for b in bouts] == [(120, 120.0), (80, 90.0)]
    assert bouts[1].start_s == 70.0
    starts, spm = cadence_spm(times_s, duration_s=130.0)
    assert starts.tolist() == [0.0, 60.0]
    assert spm[0] == 118  # steps at 1.0 … 59.5 s
    assert minutes_at_cadence(times_s, duration_s=130.0) == 1
    assert minutes_at_cadence(times_s, duration_s=130.0, threshold_spm=130) == 0
    assert walking_bouts(np.empty(0)) == []


def oxford_walks(recordings: Path) -> list[tuple[str, int]]:
    with (recordings / "oxford_walks" / "ground_truth_steps.csv").open(newline="") as f:
        return [(row["session"], int(row["gt_steps"])) for row in csv.DictReader(f)]


def test_chest_and_thigh_walks_within_5_percent_of_the_foot_switches(recordings: Path) -> None:
    errors = {}
    for walk_name, truth in oxford_walks(recordings):
        if "NeckPouch" not in walk_name and "FrontPocket" not in walk_name:
            continue
        walk = load_oxford_walk(recordings, walk_name)
        assert len(walk.step_t_s) == truth
        _, acc_g = resample_acc(t_s=walk.t_s, acc=to_g(walk.acc_ms2, unit="m/s2"), fs_hz=FS_HZ)
        errors[walk_name] = (count_steps(acc_g, fs_hz=FS_HZ).count - truth) / truth
    assert len(errors) == 10
    assert max(abs(e) for e in errors.values()) <= 0.05, errors
    assert np.mean(np.abs(list(errors.values()))) <= 0.03, errors
