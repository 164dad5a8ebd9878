from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monitor.load import (
    acute_chronic,
    adherence,
    daily_load,
    ewma_load,
    monotony_strain,
    week_over_week_change,
    weekly_totals,
)

loads = st.floats(0, 2000)


def test_daily_load_sums_a_day_and_fills_rest_days() -> None:
    sessions = [(date(2026, 11, 2), 300.0), (date(2026, 11, 4), 150.0), (date(2026, 11, 4), 80.0)]
    series = daily_load(sessions, first_day=date(2026, 11, 1), last_day=date(2026, 11, 6))
    assert series.tolist() == [0.0, 300.0, 0.0, 230.0, 0.0, 0.0]
    assert daily_load([], first_day=date(2026, 11, 1), last_day=date(2026, 11, 1)).tolist() == [0.0]


def test_daily_load_rejects_bad_inputs() -> None:
    first, last = date(2026, 11, 1), date(2026, 11, 7)
    with pytest.raises(ValueError, match="before first day"):
        daily_load([], first_day=last, last_day=first)
    with pytest.raises(ValueError, match="outside 2026-11-01 to 2026-11-07"):
        daily_load([(date(2026, 11, 8), 100.0)], first_day=first, last_day=last)
    with pytest.raises(ValueError, match="calendar date, not the datetime"):
        daily_load([(datetime(2026, 11, 2, 9, 30), 100.0)], first_day=first, last_day=last)
    with pytest.raises(ValueError, match="finite and not negative"):
        daily_load([(date(2026, 11, 2), float("nan"))], first_day=first, last_day=last)


@given(st.lists(st.tuples(st.integers(0, 40), loads), max_size=30))
def test_daily_load_keeps_every_session(sessions: list[tuple[int, float]]) -> None:
    first = date(2026, 1, 1)
    series = daily_load(
        [(date.fromordinal(first.toordinal() + offset), load) for offset, load in sessions],
        first_day=first,
        last_day=date(2026, 2, 10),
    )
    assert len(series) == 41
    assert series.sum() == pytest.approx(sum(load for _, load in sessions))


def test_ewma_first_values_by_hand_and_the_seed() -> None:
    # days = 3: λ = 2/4 = 0.5. Fewer than 7 days, so the seed is the mean of all: (10 + 20 + 30)/3 = 20.
    # 0.5·10 + 0.5·20 = 15; 0.5·20 + 0.5·15 = 17.5; 0.5·30 + 0.5·17.5 = 23.75.
    assert ewma_load([10.0, 20.0, 30.0], days=3).tolist() == pytest.approx([15.0, 17.5, 23.75])
    # Seeded with 0 it would read 5, 12.5, 21.25 instead.
    assert ewma_load([10.0, 20.0, 30.0], days=3)[0] != pytest.approx(5.0)
    # With 8 days the seed is the mean of the first 7 (7), not of all 8 (119/8 = 14.875, which would give
    # 0.5·7 + 0.5·14.875 = 10.94 on day 0): 7 for a week, then 0.5·70 + 0.5·7 = 38.5.
    assert ewma_load([7.0] * 7 + [70.0], days=3).tolist() == pytest.approx([7.0] * 7 + [38.5])
    assert ewma_load([], days=7).shape == (0,)


def test_ewma_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        ewma_load([1.0], days=0)
    with pytest.raises(ValueError, match="rest day is 0, not NaN"):
        ewma_load([1.0, np.nan], days=7)
    with pytest.raises(ValueError, match="finite and not negative"):
        ewma_load([1.0, -3.0], days=7)
    with pytest.raises(ValueError, match="one value per day"):
        ewma_load([[1.0]], days=7)


@given(loads, st.integers(1, 60), st.integers(1, 90))
def test_ewma_of_a_constant_load_is_that_load(load: float, days: int, n_days: int) -> None:
    assert ewma_load(np.full(n_days, load), days=days) == pytest.approx(np.full(n_days, load))


@given(hnp.arrays(np.float64, st.integers(1, 90), elements=loads), st.integers(1, 60))
def test_ewma_stays_within_the_loads(series: np.ndarray, days: int) -> None:
    ewma = ewma_load(series, days=days)
    assert np.all(ewma >= series.min() - 1e-9)
    assert np.all(ewma <= series.max() + 1e-9)


def test_acute_chronic_by_hand() -> None:
    # Seed = (40 + 0 + 0 + 0)/4 = 10. Acute λ = 0.25: 0.25·40 + 0.75·10 = 17.5, then 0.75·17.5 = 13.125.
    # Chronic λ = 2/29: (2/29)·40 + (27/29)·10 = 350/29 = 12.069. Ratio on day 0: 17.5·29/350 = 1.45.
    result = acute_chronic([40.0, 0.0, 0.0, 0.0])
    assert result.acute[:2].tolist() == pytest.approx([17.5, 13.125])
    assert result.chronic[0] == pytest.approx(350 / 29)
    assert result.ratio[0] == pytest.approx(1.45)
    assert result.ratio == pytest.approx(result.acute / result.chronic)


def test_acute_chronic_ratio_is_nan_while_chronic_is_zero() -> None:
    # A first week of rest seeds both at 0. Day 7: acute 0.25·14 = 3.5, chronic (2/29)·14 = 28/29, ratio 3.625.
    result = acute_chronic([0.0] * 7 + [14.0])
    assert np.isnan(result.ratio[:7]).all()
    assert result.ratio[7] == pytest.approx(3.625)
    assert result.chronic[7] == pytest.approx(28 / 29)


def test_weekly_totals_keep_a_trailing_partial_week() -> None:
    # Days 1..10: 1 + … + 7 = 28 over 7 days, 8 + 9 + 10 = 27 over 3.
    weekly = weekly_totals(np.arange(1.0, 11.0))
    assert weekly.total_au.tolist() == [28.0, 27.0]
    assert weekly.days.tolist() == [7, 3]
    assert weekly_totals(np.arange(1.0, 15.0)).days.tolist() == [7, 7]
    empty = weekly_totals([])
    assert (len(empty.total_au), len(empty.days)) == (0, 0)


@given(hnp.arrays(np.float64, st.integers(0, 60), elements=loads))
def test_weekly_totals_cover_every_day_once(series: np.ndarray) -> None:
    weekly = weekly_totals(series)
    assert weekly.days.sum() == len(series)
    assert weekly.total_au.sum() == pytest.approx(series.sum())


def test_week_over_week_change() -> None:
    # Week totals 100, 0, 50, 60, then 2 days with 10: changes NaN (first), (0 − 100)/100 = −1, NaN (previous 0),
    # (60 − 50)/50 = 0.2, NaN (partial week).
    series = np.zeros(30)
    series[[0, 14, 21, 28]] = [100.0, 50.0, 60.0, 10.0]
    change = week_over_week_change(weekly_totals(series))
    assert change.tolist() == pytest.approx([np.nan, -1.0, np.nan, 0.2, np.nan], nan_ok=True)
    assert week_over_week_change(weekly_totals([])).shape == (0,)


def test_monotony_and_strain_of_a_known_week() -> None:
    # Loads 200, 0, 200, 0, 200, 0, 100: total 700, mean 100, deviations ±100 six times and 0,
    # sample SD = √(6·100²/6) = 100, monotony 100/100 = 1, strain 700·1 = 700.
    # With ddof = 0 the SD would be √(60000/7) = 92.58 and the monotony 1.080.
    week = monotony_strain([200.0, 0.0, 200.0, 0.0, 200.0, 0.0, 100.0])
    assert week.total_au == 700
    assert week.monotony == pytest.approx(1.0)
    assert week.strain_au == pytest.approx(700.0)


def test_monotony_is_undefined_for_an_even_week() -> None:
    for load in (0.0, 100.0):
        week = monotony_strain([load] * 7)
        assert (week.total_au, week.monotony, week.strain_au) == (7 * load, None, None)


def test_monotony_needs_exactly_a_week() -> None:
    with pytest.raises(ValueError, match="7 daily loads of a week, not 6"):
        monotony_strain([100.0] * 6)


def test_adherence_per_week() -> None:
    # 3/3 = 1, 2/4 = 0.5, nothing prescribed, 0/2 = 0, 4/3 (more than prescribed is not capped).
    assert adherence([3, 2, 1, 0, 4], [3, 4, 0, 2, 3]) == pytest.approx([1.0, 0.5, None, 0.0, 4 / 3])
    with pytest.raises(ValueError, match="one value per week each, not 2 and 1"):
        adherence([1, 2], [3])
    with pytest.raises(ValueError, match="must not be negative"):
        adherence([-1], [3])
