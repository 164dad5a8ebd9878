from __future__ import annotations

import pytest

from monitor.tolerance import Prescription


def prescription(**changes: object) -> Prescription:
    base = Prescription(
        sessions_per_week=3, kinds=("strength",), volume_per_session=30, volume_unit="repetitions", volume_goal=45
    )
    return base.with_changes(**changes)


def test_defaults_follow_the_pain_monitoring_model_and_gradual_progression() -> None:
    p = prescription()
    assert (p.pain_during_limit, p.pain_after_limit) == (5, 5)
    assert p.max_weekly_progression == 0.10
    assert p.intensity_after_weeks == 2


def test_a_ceiling_in_percent_hrr_is_karvonen() -> None:
    p = prescription(hr_ceiling_percent_hrr=60)
    assert p.ceiling_bpm(hr_rest_bpm=60, hr_max_bpm=180) == 132  # algorithms.md A5
    assert p.ceiling_bpm(hr_rest_bpm=None, hr_max_bpm=180) is None
    assert prescription(hr_ceiling_bpm=120).ceiling_bpm(hr_rest_bpm=None, hr_max_bpm=None) == 120


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sessions_per_week": 0}, "sessions_per_week"),
        ({"kinds": ("yoga",)}, "kinds"),
        ({"volume_per_session": 50}, "at most volume_goal"),
        ({"volume_unit": "km"}, "volume_unit"),
        ({"intensity": 20.0}, "go together"),
        ({"hr_ceiling_bpm": 130, "hr_ceiling_percent_hrr": 60}, "not both"),
        ({"hr_ceiling_bpm": 300}, "hr_ceiling_bpm"),
        ({"pain_during_limit": 11}, "pain_during_limit"),
        ({"max_weekly_progression": 0.0}, "max_weekly_progression"),
        ({"step_back_fraction": 1.0}, "step_back_fraction"),
    ],
)
def test_bad_prescriptions_are_refused_with_a_reason(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prescription(**changes)
