from __future__ import annotations

import numpy as np
import pytest

from monitor.load import SessionLoad, StrengthSet, session_load, srpe_au

STEADY_150 = np.full(30 * 60, 150.0)
"""30 min at 150 bpm: with rest 60 and max 180, Banister TRIMP 60.78 (male), algorithms.md A1."""


def test_srpe_is_rating_times_minutes() -> None:
    # Foster 2001 (algorithms.md A2): 60 min at RPE 5 = 300 AU.
    assert srpe_au(cr10=5, minutes=60) == 300
    assert srpe_au(cr10=0, minutes=45) == 0
    assert srpe_au(cr10=10, minutes=0) == 0


@pytest.mark.parametrize(
    ("cr10", "minutes", "message"),
    [
        (10.5, 30, "between 0 and 10"),
        (-1, 30, "between 0 and 10"),
        (float("nan"), 30, "between 0 and 10"),
        (5, -1, "must not be negative"),
    ],
)
def test_srpe_rejects_ratings_off_the_scale_and_negative_minutes(cr10: float, minutes: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        srpe_au(cr10=cr10, minutes=minutes)


def test_strength_session_with_heart_rate_rating_and_sets() -> None:
    sets = [
        StrengthSet(reps=10, time_under_tension_s=30.0, weight_kg=20.0),
        StrengthSet(reps=8, time_under_tension_s=28.0, weight_kg=25.0),
        StrengthSet(reps=12, time_under_tension_s=35.0),  # body weight
    ]
    load = session_load(
        duration_min=30.0,
        hr_1hz_bpm=STEADY_150,
        hr_rest_bpm=60,
        hr_max_bpm=180,
        sex="male",
        ceiling_bpm=140,
        cr10=5,
        strength_sets=sets,
    )
    assert load.srpe_au == 150  # 5 × 30 min
    assert load.trimp_banister == pytest.approx(60.78, abs=0.01)
    assert load.trimp_edwards == pytest.approx(120.0)  # 150/180 = 83 %: zone 4, 30 min × 4
    assert load.time_above_ceiling_s == 1800
    assert (load.sets, load.reps) == (3, 30)
    assert load.volume_kg == 10 * 20 + 8 * 25  # the body-weight set adds nothing
    assert load.time_under_tension_s == pytest.approx(93.0)
    assert (load.steps, load.walking_min, load.brisk_min) == (None, None, None)


def test_walk_without_heart_rate_or_rating_has_only_its_external_load() -> None:
    load = session_load(duration_min=40.0, steps=4100, walking_min=36.5, brisk_min=22)
    assert load == SessionLoad(
        srpe_au=None,
        trimp_banister=None,
        trimp_edwards=None,
        time_above_ceiling_s=None,
        duration_min=40.0,
        steps=4100,
        walking_min=36.5,
        brisk_min=22,
        sets=None,
        reps=None,
        volume_kg=None,
        time_under_tension_s=None,
    )


def test_each_heart_rate_load_needs_its_own_inputs() -> None:
    no_sex = session_load(duration_min=30.0, hr_1hz_bpm=STEADY_150, hr_rest_bpm=60, hr_max_bpm=180, sex=None)
    assert no_sex.trimp_banister is None
    assert no_sex.trimp_edwards == pytest.approx(120.0)
    assert no_sex.time_above_ceiling_s is None
    no_max = session_load(duration_min=30.0, hr_1hz_bpm=STEADY_150, hr_rest_bpm=60, sex="female", ceiling_bpm=160)
    assert (no_max.trimp_banister, no_max.trimp_edwards) == (None, None)
    assert no_max.time_above_ceiling_s == 0
    all_gap = session_load(
        duration_min=30.0, hr_1hz_bpm=np.full(1800, np.nan), hr_rest_bpm=60, hr_max_bpm=180, sex="male", ceiling_bpm=140
    )
    assert (all_gap.trimp_banister, all_gap.trimp_edwards, all_gap.time_above_ceiling_s) == (None, None, None)


def test_strength_sets_without_weights_have_no_volume() -> None:
    load = session_load(duration_min=20.0, strength_sets=[StrengthSet(reps=15, time_under_tension_s=40.0)])
    assert (load.sets, load.reps, load.volume_kg, load.time_under_tension_s) == (1, 15, None, 40.0)
    empty = session_load(duration_min=20.0, strength_sets=[])
    assert (empty.sets, empty.reps, empty.volume_kg, empty.time_under_tension_s) == (0, 0, None, 0.0)


def test_session_load_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="duration must not be negative"):
        session_load(duration_min=-5.0)
    with pytest.raises(ValueError, match="negative repetitions"):
        session_load(duration_min=5.0, strength_sets=[StrengthSet(reps=5, time_under_tension_s=10.0, weight_kg=-2.0)])
    with pytest.raises(ValueError, match="'male' or 'female'"):
        session_load(duration_min=5.0, hr_1hz_bpm=STEADY_150, hr_rest_bpm=60, hr_max_bpm=180, sex="x")
    with pytest.raises(ValueError, match="between 0 and 10"):
        session_load(duration_min=5.0, cr10=12)
