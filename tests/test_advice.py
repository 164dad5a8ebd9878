from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.tolerance import Prescription, weekly_advice
from monitor.tolerance.advice import tenths_down


@given(st.floats(min_value=1, max_value=20000), st.floats(min_value=0.01, max_value=0.5))
def test_a_proposed_progression_never_exceeds_its_cap(volume: float, cap: float) -> None:
    proposed = tenths_down(volume * (1 + cap))
    assert proposed <= volume * (1 + cap) + 1e-9
    assert proposed > volume * (1 + cap) - 0.1 - 1e-9


def test_a_tolerated_week_at_goal_without_intensity_is_maintained() -> None:
    p = Prescription(
        sessions_per_week=2, kinds=("walking",), volume_per_session=40, volume_unit="minutes", volume_goal=40
    )
    advice = weekly_advice(p, sessions_done=2, verdicts=[], flags=[], weeks_at_goal=5)
    assert (advice.action, advice.message.key, advice.proposed) == ("hold", "advice.maintain", p)


def test_volume_progress_stops_at_the_goal() -> None:
    p = Prescription(
        sessions_per_week=2, kinds=("strength",), volume_per_session=42, volume_unit="repetitions", volume_goal=45
    )
    advice = weekly_advice(p, sessions_done=2, verdicts=[], flags=[], weeks_at_goal=0)
    assert advice.changes == {"volume_per_session": (42, 45)}
    assert advice.proposed.volume_per_session == 45
