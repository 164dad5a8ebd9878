from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.tolerance import Prescription, SessionRecord, SessionReport
from monitor.tolerance.flags import Flag, week_flags
from monitor.tolerance.week import WeekInput

MONDAY = date(2026, 9, 7)
P = Prescription(
    sessions_per_week=1,
    kinds=("walking",),
    volume_per_session=30,
    volume_unit="minutes",
    volume_goal=30,
    hr_ceiling_bpm=120,
)


def flags_for(session: SessionRecord, *, load: float = 0, previous_load: float | None = None) -> list[Flag]:
    week = WeekInput(MONDAY, P, [session], [])
    return week_flags(week, previous=None, weekly_load_au=load, reference_load_au=previous_load)


def test_heart_rate_above_the_ceiling_for_more_than_the_allowed_share() -> None:
    over = SessionRecord(1, MONDAY, "walking", 30, time_above_ceiling_s=240, ceiling_bpm=120)
    (flag,) = flags_for(over)
    assert (flag.rule, flag.source, flag.session_id) == ("heart_rate_above_ceiling", "heart rate", 1)
    assert flag.message.english() == (
        "Session on 2026-09-07: heart rate was above the ceiling of 120 bpm for 13.3% of the session "
        "(4 min; allowed 10%)."
    )
    assert flags_for(SessionRecord(1, MONDAY, "walking", 30, time_above_ceiling_s=180, ceiling_bpm=120)) == []


def test_poor_data_quality_names_the_problem() -> None:
    session = SessionRecord(1, MONDAY, "walking", 30, artifact_fraction=0.12, hr_coverage=0.5)
    texts = [f.message.english() for f in flags_for(session)]
    assert texts == [
        "Session on 2026-09-07: 12% of heartbeats were artifacts (more than 5%).",
        "Session on 2026-09-07: heart rate covered 50% of the session (less than 80%).",
    ]


@pytest.mark.parametrize(("load", "raised"), [(110.0, False), (110.04, False), (110.1, True)])
def test_weekly_load_rise_is_judged_on_the_percentage_shown(load: float, raised: bool) -> None:
    flags = flags_for(SessionRecord(1, MONDAY, "walking", 30), load=load, previous_load=100)
    assert any(f.rule == "weekly_load_rise" for f in flags) == raised


def test_sessions_outside_the_week_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the week"):
        WeekInput(MONDAY, P, [SessionRecord(1, date(2026, 9, 14), "walking", 30)], [])


def test_red_flags_come_first_and_are_critical() -> None:
    report = SessionReport(datetime(2026, 9, 7, 18, tzinfo=UTC), pain_during=7, red_flags=frozenset({"dizziness"}))
    flags = flags_for(SessionRecord(1, MONDAY, "walking", 30, report=report))
    assert [(f.rule, f.severity) for f in flags] == [("red_flag", "critical"), ("pain_during_above_limit", "warning")]


def test_a_prescription_past_its_review_date_says_so() -> None:
    due = WeekInput(MONDAY, P.with_changes(review_on=date(2026, 9, 10)), [SessionRecord(1, MONDAY, "walking", 30)], [])
    (flag,) = week_flags(due, previous=None, weekly_load_au=0, reference_load_au=None)
    assert (flag.rule, flag.severity, flag.source) == ("review_due", "info", "prescription")
    assert flag.message.english() == "The prescription was due for review on 2026-09-10."
    later = WeekInput(
        MONDAY, P.with_changes(review_on=date(2026, 9, 14)), [SessionRecord(1, MONDAY, "walking", 30)], []
    )
    assert week_flags(later, previous=None, weekly_load_au=0, reference_load_au=None) == []
