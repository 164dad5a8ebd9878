from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.acceleration import resample_acc, to_g, vector_magnitude_g


def test_units_convert_to_g() -> None:
    assert to_g([[0, 0, 1000]], unit="mg").tolist() == [[0, 0, 1.0]]
    assert to_g([[0, 0, 9.80665]], unit="m/s2") == pytest.approx(np.array([[0, 0, 1.0]]))
    with pytest.raises(ValueError, match="unknown acceleration unit"):
        to_g([[0, 0, 1]], unit="ft/s2")  # type: ignore[arg-type]


def test_magnitude_does_not_depend_on_orientation() -> None:
    assert vector_magnitude_g([[0.6, 0.0, 0.8], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]).tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        vector_magnitude_g([1.0, 2.0, 3.0])


def test_irregular_samples_land_on_a_fixed_grid_without_aliasing() -> None:
    rng = np.random.default_rng(1)
    t_s = np.cumsum(rng.uniform(0.0015, 0.0035, 8000))  # jittered ≈ 400 Hz, like a phone
    slow = np.sin(2 * np.pi * 2.0 * t_s)
    fast = 0.5 * np.sin(2 * np.pi * 140.0 * t_s)  # would alias to 10 Hz if sampled naively at 50 Hz
    acc = np.column_stack([slow + fast, np.zeros_like(t_s), np.ones_like(t_s)])
    grid_s, out = resample_acc(t_s=t_s, acc=acc, fs_hz=50)
    assert np.allclose(np.diff(grid_s), 1 / 50)
    assert grid_s[0] == t_s[0]
    assert grid_s[-1] <= t_s[-1]
    inner = slice(25, -25)  # the filter needs half a second to settle at each end
    truth = np.sin(2 * np.pi * 2.0 * grid_s[inner])
    naive = np.interp(grid_s, t_s, acc[:, 0])[inner]
    # Jittered sampling of the 140 Hz tone leaves broadband noise that no filter removes;
    # the alias that plain interpolation produces is far larger.
    assert np.sqrt(np.mean((out[inner, 0] - truth) ** 2)) < 0.05
    assert np.sqrt(np.mean((naive - truth) ** 2)) > 0.2
    assert np.allclose(out[:, 2], 1.0)


def test_upsampling_interpolates_and_rejects_bad_timestamps() -> None:
    t_s = np.array([0.0, 0.1, 0.2])
    acc = np.array([[0, 0, 1.0], [0, 0, 2.0], [0, 0, 3.0]])
    grid_s, out = resample_acc(t_s=t_s, acc=acc, fs_hz=20)
    assert grid_s == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert out[:, 2] == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0])
    with pytest.raises(ValueError, match="strictly increase"):
        resample_acc(t_s=[0.0, 0.0, 0.1], acc=acc, fs_hz=20)
    with pytest.raises(ValueError, match="samples"):
        resample_acc(t_s=[0.0, 0.1], acc=acc, fs_hz=20)
