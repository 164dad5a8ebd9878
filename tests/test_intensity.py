from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.intensity import (
    ENMO_CUTPOINTS_MG,
    INTENSITY_LEVELS,
    MAD_CUTPOINTS_MG,
    classify,
    enmo_epochs,
    intensity_minutes,
    mad_epochs,
)

FS_HZ = 100


def _magnitude_along_tilted_axis(magnitude_g: np.ndarray) -> np.ndarray:
    axis = np.array([0.3, -0.4, np.sqrt(1 - 0.25)])
    acc: np.ndarray = magnitude_g[:, None] * axis
    return acc


def test_rest_is_zero_and_a_known_oscillation_gives_its_closed_form() -> None:
    t_s = np.arange(60 * FS_HZ) / FS_HZ
    rest = _magnitude_along_tilted_axis(np.ones_like(t_s))
    assert enmo_epochs(rest, fs_hz=FS_HZ).value_mg == pytest.approx(np.zeros(12))
    assert mad_epochs(rest, fs_hz=FS_HZ).value_mg == pytest.approx(np.zeros(10))
    # |a| = 1 + 0.2 sin(2π·2t): ENMO = mean(max(0.2 sin, 0)) = 0.2/π g, MAD = mean|0.2 sin| = 0.4/π g.
    moving = _magnitude_along_tilted_axis(1 + 0.2 * np.sin(2 * np.pi * 2.0 * t_s))
    enmo = enmo_epochs(moving, fs_hz=FS_HZ)
    mad = mad_epochs(moving, fs_hz=FS_HZ)
    assert enmo.epoch_s == 5.0
    assert mad.epoch_s == 6.0
    assert enmo.start_s.tolist() == [5.0 * k for k in range(12)]
    assert enmo.value_mg == pytest.approx(np.full(12, 200 / np.pi), rel=5e-3)
    assert mad.value_mg == pytest.approx(np.full(10, 400 / np.pi), rel=5e-3)


def test_partial_epochs_are_dropped_and_odd_epochs_rejected() -> None:
    acc = _magnitude_along_tilted_axis(np.ones(1299))
    assert len(enmo_epochs(acc, fs_hz=FS_HZ).value_mg) == 2
    with pytest.raises(ValueError, match="whole number of samples"):
        enmo_epochs(acc, fs_hz=FS_HZ, epoch_s=0.005)


def test_cut_points_belong_to_the_level_above() -> None:
    levels = classify([0.0, 44.8, 100.5, 100.6, 428.8], cutpoints_mg=ENMO_CUTPOINTS_MG)
    assert [INTENSITY_LEVELS[i] for i in levels] == ["sedentary", "light", "light", "moderate", "vigorous"]
    assert classify([90.9, 91.0, 414.0], cutpoints_mg=MAD_CUTPOINTS_MG).tolist() == [1, 2, 3]


def test_minutes_per_level_from_walking_and_rest() -> None:
    t_s = np.arange(120 * FS_HZ) / FS_HZ
    magnitude = np.where(t_s < 60, 1.0, 1 + 0.3 * np.sin(2 * np.pi * 1.8 * t_s))
    minutes = intensity_minutes(
        mad_epochs(_magnitude_along_tilted_axis(magnitude), fs_hz=FS_HZ), cutpoints_mg=MAD_CUTPOINTS_MG
    )
    assert minutes.sedentary_min == pytest.approx(1.0)
    assert minutes.moderate_min == pytest.approx(1.0)  # MAD = 0.6/π g ≈ 191 mg
    assert minutes.light_min == 0
    assert minutes.vigorous_min == 0
