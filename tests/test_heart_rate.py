from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis import heart_rate_summary, resample_hr_1hz


def test_each_second_takes_its_latest_reading_or_holds_the_one_before() -> None:
    grid, hr = resample_hr_1hz(t_s=[10.2, 10.7, 12.9, 13.0], hr_bpm=[70, 75, 90, 95])
    assert grid.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert hr.tolist() == [75.0, 75.0, 90.0, 95.0]


def test_silence_longer_than_the_hold_is_a_gap() -> None:
    t_s = np.concatenate([np.arange(0, 10), np.arange(20, 30)])
    summary = heart_rate_summary(t_s=t_s, hr_bpm=np.full(20, 100))
    _, hr = resample_hr_1hz(t_s=t_s, hr_bpm=np.full(20, 100))
    assert not np.isnan(hr[10:13]).any()  # held for up to 3 s
    assert np.isnan(hr[13:20]).all()
    assert summary.coverage == pytest.approx(23 / 30)
    assert summary.mean_bpm == 100


def test_drops_no_contact_and_implausible_values() -> None:
    t_s = np.arange(6)
    summary = heart_rate_summary(t_s=t_s, hr_bpm=[100, 250, 20, 120, 140, 0], sensor_contact=[1, 1, 1, -1, 0, 1])
    assert summary.max_bpm == 120  # 140 had no contact, 250 and 20 are not heart rates
    assert summary.mean_bpm == pytest.approx((100 + 100 + 100 + 120 + 120 + 120) / 6)


def test_no_valid_reading_gives_no_numbers() -> None:
    summary = heart_rate_summary(t_s=[0, 1], hr_bpm=[0, 0])
    assert summary.mean_bpm is None
    assert summary.max_bpm is None
    assert summary.coverage == 0.0
    assert heart_rate_summary(t_s=[], hr_bpm=[]).coverage == 0.0
