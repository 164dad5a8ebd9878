"""Twelve-week patient histories through the tolerance engine, with the clinician accepting each advice.

Every scenario states, week by week, the advice and the flags a physiotherapist would
expect from the pain-monitoring model and the prescription's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest

from monitor.tolerance import (
    MorningReport,
    Prescription,
    SessionRecord,
    SessionReport,
    WeekAssessment,
    assess_history,
)

START = date(2026, 8, 3)  # a Monday
WEEKS = 12
SESSION_WEEKDAYS = (0, 2, 4, 5)  # Monday, Wednesday, Friday, and Saturday for a fourth session


@dataclass(frozen=True)
class Week:
    """How the patient trained and answered in one week."""

    sessions: int = 3
    minutes: float | None = None
    """Session length; None: as prescribed."""
    before: float = 1
    during: float | None = 2
    after: float | None = 2
    effort: float | None = 4
    morning_pain: float | None = 1
    stiffness: float | None = 1
    red_flag_on: dict[int, str] = field(default_factory=dict)
    """Weekday → red-flag question answered yes that morning."""
    report: bool = True


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def run(first: Prescription, weeks: Callable[[int], Week]) -> list[WeekAssessment]:
    """The history week by week; after each week the clinician accepts the advice as proposed."""
    prescriptions = [first]
    sessions: list[SessionRecord] = []
    mornings: list[MorningReport] = []
    assessments: list[WeekAssessment] = []
    for i in range(WEEKS):
        week, p = weeks(i), prescriptions[i]
        monday = START + timedelta(weeks=i)
        for offset in range(7):
            day = monday + timedelta(days=offset)
            flag = week.red_flag_on.get(offset)
            mornings.append(
                MorningReport(
                    day,
                    at(day, 7),
                    pain=week.morning_pain,
                    stiffness=week.stiffness,
                    red_flags=frozenset({flag} if flag else ()),
                )
            )
        for n in range(week.sessions):
            day = monday + timedelta(days=SESSION_WEEKDAYS[n])
            minutes = week.minutes or p.volume_per_session
            report = (
                SessionReport(
                    at(day, 18),
                    pain_before=week.before,
                    pain_during=week.during,
                    pain_after=week.after,
                    effort_cr10=week.effort,
                )
                if week.report
                else None
            )
            sessions.append(SessionRecord(len(sessions) + 1, day, "walking", minutes, volume=minutes, report=report))
        assessments = assess_history(start=START, prescriptions=prescriptions, sessions=sessions, mornings=mornings)
        prescriptions.append(assessments[-1].advice.proposed)
    return assessments


def walking(**changes: object) -> Prescription:
    base = Prescription(
        sessions_per_week=3,
        kinds=("walking",),
        volume_per_session=20,
        volume_unit="minutes",
        volume_goal=30,
        intensity=100,
        intensity_unit="steps/min",
    )
    return base.with_changes(**changes)


def advice_keys(history: list[WeekAssessment]) -> list[str]:
    return [a.advice.message.key.removeprefix("advice.") for a in history]


def flag_rules(history: list[WeekAssessment]) -> list[list[str]]:
    return [sorted({f.rule for f in a.flags}) for a in history]


def test_a_good_responder_progresses_volume_then_intensity() -> None:
    history = run(walking(), lambda i: Week())
    assert advice_keys(history) == [
        *["progress_volume"] * 5,  # 20 → 22 → 24.2 → 26.6 → 29.2 → 30 min, never above +10 %
        "hold_at_goal",  # the goal, tolerated for one week
        "progress_intensity",  # 100 → 110 steps/min after two
        "hold_at_goal",
        "progress_intensity",  # 110 → 121
        "hold_at_goal",
        "progress_intensity",  # 121 → 133.1
        "hold_at_goal",
    ]
    assert [a.prescription.volume_per_session for a in history[:6]] == [20, 22, 24.2, 26.6, 29.2, 30]
    assert [a.prescription.intensity for a in history[5:]] == [100, 100, 110, 110, 121, 121, 133.1]
    assert all(v.level == "green" for a in history for _, v in a.verdicts)
    assert flag_rules(history) == [[]] * WEEKS
    fourth = history[3].advice
    assert fourth.changes == {"volume_per_session": (26.6, 29.2)}
    assert fourth.message.english() == (
        "Progress volume from 26.6 to 29.2 minutes per session (+9.8%): "
        "every session was tolerated and all 3 were done."
    )


def test_a_load_spike_then_a_flare_steps_back() -> None:
    def weeks(i: int) -> Week:
        if i == 3:
            return Week(sessions=4, minutes=35)  # did far more than prescribed
        if i == 4:
            return Week(during=7, after=6, morning_pain=4)  # and paid for it
        return Week()

    history = run(walking(volume_goal=40), weeks)
    assert advice_keys(history) == [
        *["progress_volume"] * 3,
        "hold_load_rise",
        "step_back_pain",
        *["progress_volume"] * 7,
    ]
    assert flag_rules(history)[3] == ["weekly_load_rise"]
    spike = next(f for f in history[3].flags if f.rule == "weekly_load_rise")
    # 3 × 24.2 min × CR-10 4 = 290.4 AU, then 4 × 35 × 4 = 560 AU: +92.8 %.
    assert dict(spike.message.params) == {"percent": 92.8, "previous": 290, "current": 560, "cap": 10.0}
    assert flag_rules(history)[4] == ["morning_pain_above_before", "morning_pain_rising", "pain_during_above_limit"]
    assert [v.level for _, v in history[4].verdicts] == ["red"] * 3
    step_back = history[4].advice
    assert step_back.changes == {"volume_per_session": (26.6, 21.2)}  # −20 %
    assert "3 session(s) broke the pain-monitoring rules" in step_back.message.english()
    assert history[5].prescription.volume_per_session == 21.2


def test_rising_morning_stiffness_steps_back_although_session_pain_is_acceptable() -> None:
    stiffness = [2, 2, 2, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5]
    history = run(walking(), lambda i: Week(before=2, during=4, after=3, morning_pain=2, stiffness=stiffness[i]))
    assert [v.level for a in history for _, v in a.verdicts] == ["amber"] * 3 * WEEKS
    assert advice_keys(history)[:5] == ["progress_volume"] * 3 + ["step_back_morning", "progress_volume"]
    assert flag_rules(history)[3] == ["morning_stiffness_rising"]
    assert history[3].advice.message.english() == (
        "Step back from 26.6 to 21.2 minutes per session (−20.3%): "
        "morning stiffness rose from 2/10 to 3.5/10 this week."
    )
    assert all(rules == [] for i, rules in enumerate(flag_rules(history)) if i != 3)


def test_a_patient_who_misses_sessions_is_held_and_flagged() -> None:
    done = [1, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2]
    history = run(walking(), lambda i: Week(sessions=done[i]))
    assert advice_keys(history) == ["hold_adherence"] * 6 + ["hold_no_sessions"] + ["hold_adherence"] * 5
    assert all(a.prescription.volume_per_session == 20 for a in history)
    missed = [next(f for f in a.flags if f.rule == "missed_sessions") for a in history]
    assert [f.severity for f in missed] == ["warning"] * 7 + ["info"] * 5
    assert missed[0].message.english() == "1 of 3 prescribed sessions done this week."
    assert [a.adherence for a in history] == pytest.approx([d / 3 for d in done])


def test_a_red_flag_pauses_progression_until_it_is_gone() -> None:
    history = run(walking(), lambda i: Week(red_flag_on={2: "numbness"} if i == 4 else {}))
    assert advice_keys(history)[3:7] == ["progress_volume", "hold_red_flag", "progress_volume", "hold_at_goal"]
    (red,) = [f for f in history[4].flags if f.rule == "red_flag"]
    assert red.severity == "critical"
    assert red.message.english() == (
        "Red-flag answer on 2026-09-02: numbness or tingling in the legs. Refer to a doctor before training on."
    )
    assert history[5].prescription == history[4].prescription


def test_missing_reports_are_never_green() -> None:
    def weeks(i: int) -> Week:
        if i == 2:
            return Week(morning_pain=None)
        if i == 3:
            return Week(after=None)
        if i == 5:
            return Week(report=False)
        return Week()

    history = run(walking(), weeks)
    levels = [[v.level for _, v in a.verdicts] for a in history]
    assert levels[2] == levels[3] == levels[5] == ["unknown"] * 3
    assert advice_keys(history)[:7] == ["progress_volume"] * 2 + ["hold_unknown"] * 2 + ["progress_volume"] + [
        "hold_unknown",
        "progress_volume",
    ]
    missing = [m.english() for _, v in history[3].verdicts for m in v.findings]
    assert missing == ["No pain rating after the session yet, so tolerance cannot be judged."] * 3
    assert history[2].morning_pain_mean is None


def test_a_week_back_to_the_prescribed_dose_after_a_lighter_one_is_no_spike() -> None:
    done = [3, 3, 2, 3, 3, 1, 0, 3, 3, 3, 3, 3]
    history = run(walking(volume_goal=60), lambda i: Week(sessions=done[i]))
    assert [r for rules in flag_rules(history) for r in rules if r != "missed_sessions"] == []
    assert advice_keys(history)[2:9] == [
        "hold_adherence",
        "progress_volume",  # back to three sessions after two: no spike
        "progress_volume",
        "hold_adherence",
        "hold_no_sessions",
        "progress_volume",  # back after one and none
        "progress_volume",
    ]


def test_a_running_week_waits_for_its_end_unless_a_rule_is_broken() -> None:
    p = walking()
    monday = START
    calm = SessionRecord(
        1, monday, "walking", 20, report=SessionReport(at(monday, 18), pain_before=1, pain_during=2, pain_after=1)
    )
    mornings = [MorningReport(monday, at(monday, 7), pain=1, stiffness=1)]
    (week,) = assess_history(start=START, prescriptions=[p], sessions=[calm], mornings=mornings, today=monday)
    assert (week.complete, week.advice.message.key) == (False, "advice.week_running")
    assert week.advice.message.english() == (
        "The week is still running (1 of 3 sessions so far): the advice comes when it is over."
    )
    assert [f.rule for f in week.flags] == []  # its other sessions may yet come
    flare = SessionRecord(
        1, monday, "walking", 20, report=SessionReport(at(monday, 18), pain_before=1, pain_during=8, pain_after=6)
    )
    (week,) = assess_history(start=START, prescriptions=[p], sessions=[flare], mornings=mornings, today=monday)
    assert week.advice.action == "step_back"  # the model: reduce the next session


def test_one_bad_monday_morning_is_no_rising_trend() -> None:
    p = walking()
    monday = START + timedelta(weeks=1)
    last_week = [
        MorningReport(START + timedelta(days=d), at(START + timedelta(days=d), 7), stiffness=1) for d in range(7)
    ]
    stiff_monday = MorningReport(monday, at(monday, 7), stiffness=3)
    (_, running) = assess_history(
        start=START, prescriptions=[p, p], sessions=[], mornings=[*last_week, stiff_monday], today=monday
    )
    assert running.morning_stiffness_mean == 3
    assert "morning_stiffness_rising" not in {f.rule for f in running.flags}
