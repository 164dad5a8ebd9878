"""The patient's one chart: sessions a week against the prescribed number, laid out for inline SVG.

Drawn on the server, so it shows without JavaScript; the page puts the numbers beside it as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.patient_self_api import WeekProgressOut

CHART_WIDTH, CHART_HEIGHT = 320, 150
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 28, 4, 10, 24
MAX_TICKS = 5


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    target_y: float | None
    """Where the prescribed number of sessions is; None without a prescription."""
    week: WeekProgressOut


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class SessionsChart:
    """Sessions a week as bars, the prescribed number as a dashed line over each, in SVG user units."""

    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    bar_width: float
    label_y: float
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    plot_left: int = CHART_LEFT
    plot_right: int = CHART_WIDTH - CHART_RIGHT


def sessions_chart(weeks: Sequence[WeekProgressOut]) -> SessionsChart:
    highest = max([1, *(w.sessions_done for w in weeks), *(w.sessions_prescribed or 0 for w in weeks)])
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - CHART_LEFT - CHART_RIGHT) / len(weeks)
    baseline = CHART_TOP + plot_height

    def y(value: float) -> float:
        return round(baseline - value * plot_height / highest, 1)

    bars = tuple(
        Bar(
            x=round(CHART_LEFT + i * slot + slot * 0.15, 1),
            y=y(week.sessions_done),
            height=round(baseline - y(week.sessions_done), 1),
            target_y=None if week.sessions_prescribed is None else y(week.sessions_prescribed),
            week=week,
        )
        for i, week in enumerate(weeks)
    )
    step = math.ceil(highest / MAX_TICKS)
    ticks = tuple(Tick(y(value), value) for value in range(0, highest + 1, step))
    return SessionsChart(bars, ticks, round(slot * 0.7, 1), CHART_HEIGHT - 6)
