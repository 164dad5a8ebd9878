from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.reps import count_reps, segment_sets
from monitor.recordings import load_spar_sets

FS_HZ = 50


def rest(seconds: float, *, tilt_rad: float = 0.0) -> np.ndarray:
    n = round(seconds * FS_HZ)
    return np.tile([np.sin(tilt_rad), 0.0, np.cos(tilt_rad)], (n, 1))


def raises(reps: int, *, period_s: float) -> np.ndarray:
    """Lateral raises: the arm swings 0 → 70° → 0 once per period, turning gravity in the sensor."""
    t_s = np.arange(round(reps * period_s * FS_HZ)) / FS_HZ
    angle = np.deg2rad(70) * 0.5 * (1 - np.cos(2 * np.pi * t_s / period_s))
    swing = 0.15 * np.sin(2 * np.pi * t_s / period_s)  # the arm's own acceleration
    return np.column_stack([np.sin(angle) + swing, 0.1 * swing, np.cos(angle)])


def noisy(acc_g: np.ndarray, *, seed: int = 0) -> np.ndarray:
    return acc_g + np.random.default_rng(seed).normal(0.0, 0.01, acc_g.shape)


def test_counts_sinusoidal_repetitions_with_their_tempo() -> None:
    for reps, period_s in [(12, 2.5), (8, 4.0), (20, 1.2)]:
        result = count_reps(noisy(np.vstack([rest(3), raises(reps, period_s=period_s), rest(3)])), fs_hz=FS_HZ)
        assert result.count == reps
        assert result.period_s == pytest.approx(period_s, rel=0.05)
        assert result.time_under_tension_s == pytest.approx(reps * period_s, rel=0.05)


def test_too_little_signal_gives_no_repetitions() -> None:
    assert count_reps(np.zeros((10, 3)), fs_hz=FS_HZ).count == 0
    still = count_reps(noisy(rest(20)), fs_hz=FS_HZ)
    assert still.count <= 1
    assert still.time_under_tension_s == 0


def test_finds_sets_and_the_rest_between_them() -> None:
    session = noisy(
        np.vstack(
            [
                rest(20),
                raises(10, period_s=2.0),
                rest(60),
                raises(12, period_s=3.0),
                rest(90),
                raises(8, period_s=2.5),
                rest(20),
            ]
        )
    )
    sets = segment_sets(session, fs_hz=FS_HZ)
    assert [s.reps.count for s in sets] == [10, 12, 8]
    assert [s.reps.period_s for s in sets] == pytest.approx([2.0, 3.0, 2.5], rel=0.05)
    assert sets[0].rest_before_s is None
    assert [s.rest_before_s for s in sets[1:]] == pytest.approx([60.0, 90.0], abs=3.0)
    assert sets[0].start_s == pytest.approx(20.0, abs=1.5)
    assert sets[1].reps.times_s.min() > sets[1].start_s


def spar_index(recordings: Path) -> list[dict[str, str]]:
    with (recordings / "spar_shoulder_reps" / "sets_index.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_spar_sets_counted_within_one_in_the_median_and_two_in_85_percent(recordings: Path) -> None:
    sets = load_spar_sets(recordings, [row["set_id"] for row in spar_index(recordings)])
    assert len(sets) == 70
    errors = np.array([count_reps(s.acc_g, fs_hz=FS_HZ).count - s.reps for s in sets])
    assert np.median(np.abs(errors)) <= 1
    assert np.mean(np.abs(errors) <= 2) >= 0.85


def test_spar_sets_joined_by_rests_are_segmented(recordings: Path) -> None:
    """Three real sets, with 45 s of still arm (the set's mean orientation, sensor noise) between them."""
    sets = load_spar_sets(recordings, ["set004_S2_ABD_L", "set009_S3_IR_R", "set052_S2_ROW_L"])
    rng = np.random.default_rng(2)
    parts = []
    for s in sets:
        still = np.tile(s.acc_g[:50].mean(axis=0), (45 * FS_HZ, 1)) + rng.normal(0, 0.005, (45 * FS_HZ, 3))
        parts += [still, s.acc_g]
    found = segment_sets(np.vstack(parts), fs_hz=FS_HZ)
    assert len(found) == 3
    assert all(abs(f.reps.count - 20) <= 2 for f in found)
    assert all(f.rest_before_s is not None and 40 <= f.rest_before_s <= 50 for f in found[1:])
