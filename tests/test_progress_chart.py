"""The patient's progress chart laid out for SVG: bars to scale, the plan line, the ticks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dashboard.patient_self_api import WeekProgressOut
from dashboard.progress_chart import sessions_chart

THIS_MONDAY = date(2026, 3, 16)


def test_the_chart_scales_bars_and_the_plan_to_the_highest_week() -> None:
    weeks = [
        WeekProgressOut(
            start=THIS_MONDAY - timedelta(weeks=2), sessions_done=0, sessions_prescribed=None, pain_after_mean=None
        ),
        WeekProgressOut(
            start=THIS_MONDAY - timedelta(weeks=1), sessions_done=2, sessions_prescribed=4, pain_after_mean=None
        ),
        WeekProgressOut(start=THIS_MONDAY, sessions_done=4, sessions_prescribed=4, pain_after_mean=None),
    ]
    chart = sessions_chart(weeks)
    empty, half, full = chart.bars
    assert empty.height == 0
    assert empty.target_y is None
    assert full.height == pytest.approx(2 * half.height, abs=0.1)
    assert full.target_y == full.y == half.target_y  # the plan line at the top of a week that met it
    assert [tick.value for tick in chart.ticks] == [0, 1, 2, 3, 4]
    assert chart.ticks[-1].y == full.y
    assert empty.x < half.x < full.x
