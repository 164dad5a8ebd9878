from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monitor.load import trimp_banister, trimp_edwards


def test_banister_reference_values_for_30_min_at_150_bpm() -> None:
    # algorithms.md A1: x = (150 − 60)/(180 − 60) = 0.75.
    # Male: 30 · 0.75 · 0.64 · e^{1.92·0.75 = 1.44} = 14.4 · 4.2207 = 60.78.
    # Female: 30 · 0.75 · 0.86 · e^{1.67·0.75 = 1.2525} = 19.35 · 3.4991 = 67.71.
    hr = np.full(30 * 60, 150.0)
    assert trimp_banister(hr, hr_rest=60, hr_max=180, sex="male") == pytest.approx(60.78, abs=0.01)
    assert trimp_banister(hr, hr_rest=60, hr_max=180, sex="female") == pytest.approx(67.71, abs=0.01)
    # The same 30 min sampled every 5 s.
    assert trimp_banister(np.full(360, 150.0), hr_rest=60, hr_max=180, sex="male", dt_s=5.0) == pytest.approx(
        60.78, abs=0.01
    )


def test_banister_sums_each_second_rather_than_scoring_the_mean() -> None:
    # 15 min at 120 (x = 0.5) and 15 min at 180 (x = 1), mean 150 as above:
    # 15·0.5·0.64·e^{0.96} + 15·1·0.64·e^{1.92} = 4.8·2.6117 + 9.6·6.8210 = 12.54 + 65.48 = 78.02 > 60.78.
    hr = np.tile([120.0, 180.0], 15 * 60)
    assert trimp_banister(hr, hr_rest=60, hr_max=180, sex="male") == pytest.approx(78.02, abs=0.01)


def test_banister_gaps_and_heart_rate_below_rest_add_nothing() -> None:
    hr = np.concatenate([np.full(30 * 60, 150.0), np.full(600, np.nan), np.full(600, 50.0)])
    assert trimp_banister(hr, hr_rest=60, hr_max=180, sex="male") == pytest.approx(60.78, abs=0.01)
    assert trimp_banister([], hr_rest=60, hr_max=180, sex="male") == 0.0


def test_banister_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="'male' or 'female' for Banister's coefficients, not 'M'"):
        trimp_banister([150.0], hr_rest=60, hr_max=180, sex="M")
    with pytest.raises(ValueError, match="above resting"):
        trimp_banister([150.0], hr_rest=180, hr_max=180, sex="female")
    with pytest.raises(ValueError, match="dt_s must be positive"):
        trimp_banister([150.0], hr_rest=60, hr_max=180, sex="male", dt_s=0)
    with pytest.raises(ValueError, match="one-dimensional"):
        trimp_banister([[150.0]], hr_rest=60, hr_max=180, sex="male")


@given(
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(30, 230)),
    hnp.arrays(np.float64, 50, elements=st.floats(0, 40)),
    st.sampled_from(["male", "female"]),
)
def test_banister_never_falls_when_heart_rate_rises(hr: np.ndarray, rise: np.ndarray, sex: str) -> None:
    higher = hr + rise[: len(hr)]
    assert trimp_banister(higher, hr_rest=60, hr_max=190, sex=sex) >= trimp_banister(
        hr, hr_rest=60, hr_max=190, sex=sex
    )


def test_edwards_minutes_per_zone_times_weight() -> None:
    # HRmax 200: 10 min at 90 (45 %, 0) + 10 min at 100 (50 %, boundary, zone 1) + 5 min at 130 (65 %, 2)
    # + 4 min at 140 (70 %, boundary, 3) + 3 min at 170 (85 %, 4) + 2 min at 180 (90 %, boundary, 5)
    # + 1 min at 210 (105 %, counted in 5) + 5 min of gap = 10 + 10 + 12 + 12 + 10 + 5 = 59.
    minutes_at = [(90, 10), (100, 10), (130, 5), (140, 4), (170, 3), (180, 2), (210, 1), (np.nan, 5)]
    hr = np.concatenate([np.full(minutes * 60, bpm) for bpm, minutes in minutes_at])
    assert trimp_edwards(hr, hr_max=200) == pytest.approx(59.0)
    assert trimp_edwards(hr[::10], hr_max=200, dt_s=10.0) == pytest.approx(59.0)


def test_edwards_boundaries_are_exact_for_whole_bpm() -> None:
    # HRmax 190: 95 = 50 %, 114 = 60 %, 133 = 70 %, 152 = 80 %, 171 = 90 %; one minute each in zones 1–5 = 15.
    # 133/190 and 114/190 land just below 0.7 and 0.6 in floating point.
    hr = np.repeat([95.0, 114.0, 133.0, 152.0, 171.0], 60)
    assert trimp_edwards(hr, hr_max=190) == pytest.approx(15.0)
    assert trimp_edwards(np.full(60, 94.9), hr_max=190) == 0.0


def test_edwards_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="HRmax must be positive"):
        trimp_edwards([150.0], hr_max=0)
    with pytest.raises(ValueError, match="dt_s must be positive"):
        trimp_edwards([150.0], hr_max=180, dt_s=-1)


@given(hnp.arrays(np.float64, st.integers(0, 100), elements=st.floats(30, 230) | st.just(np.nan)))
def test_edwards_lies_between_nothing_and_every_valid_minute_in_zone_5(hr: np.ndarray) -> None:
    valid_min = np.count_nonzero(~np.isnan(hr)) / 60
    assert 0.0 <= trimp_edwards(hr, hr_max=180) <= 5 * valid_min + 1e-12
