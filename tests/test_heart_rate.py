from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.heart_rate import (
    heart_rate_summary,
    hr_max_tanaka_bpm,
    hrr60_bpm,
    karvonen_bpm,
    resample_hr_1hz,
    time_above_s,
    time_in_zones_s,
)


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


def test_karvonen_and_tanaka_reference_values() -> None:
    # algorithms.md A5: rest 60, max 180, 60 % HRR = 132 bpm; age 60 -> 166 bpm.
    assert karvonen_bpm(hr_rest_bpm=60, hr_max_bpm=180, fraction_hrr=0.6) == 132
    assert hr_max_tanaka_bpm(age_years=60) == pytest.approx(166)
    with pytest.raises(ValueError, match="above resting"):
        karvonen_bpm(hr_rest_bpm=80, hr_max_bpm=70, fraction_hrr=0.5)
    with pytest.raises(ValueError, match="not plausible"):
        hr_max_tanaka_bpm(age_years=-3)


def test_time_in_acsm_zones_and_above_a_ceiling() -> None:
    # Rest 60, max 160: zone bounds at 90 (30 %), 100 (40 %), 120 (60 %) and 150 (90 %) bpm.
    hr = np.array([50] * 3 + [89] * 4 + [95] * 5 + [100] * 6 + [130] * 7 + [155] * 8 + [np.nan] * 9, dtype=float)
    zones = time_in_zones_s(hr, hr_rest_bpm=60, hr_max_bpm=160)
    assert zones == {"very_light": 7.0, "light": 5.0, "moderate": 6.0, "vigorous": 7.0, "near_maximal": 8.0}
    assert time_above_s(hr, ceiling_bpm=130) == 8.0


def test_hrr60_from_the_peak_of_the_last_15_s_to_the_mean_around_60_s() -> None:
    t_s = np.arange(0, 200.0)
    hr = np.where(t_s <= 100, 120 + t_s * 0.2, 140 - (t_s - 100) * 0.5)  # peak 140 at the end
    hr[98] = 145  # the peak of the last 15 s of exercise
    assert hrr60_bpm(t_s=t_s, hr_1hz_bpm=hr, exercise_end_s=100) == pytest.approx(145 - (140 - 30))
    gappy = hr.copy()
    gappy[155:166] = np.nan
    assert hrr60_bpm(t_s=t_s, hr_1hz_bpm=gappy, exercise_end_s=100) is None
