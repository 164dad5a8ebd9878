"""The tolerance engine: a patient's weeks in, verdicts, flags and advice out, week by week.

Pure and deterministic: the same history always gives the same assessment, so the
dashboard can recompute it whenever a report arrives instead of storing conclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from monitor.tolerance.advice import Advice, is_at_goal, weekly_advice
from monitor.tolerance.flags import Flag, week_flags, weekly_mean
from monitor.tolerance.prescription import Prescription
from monitor.tolerance.reports import MorningReport
from monitor.tolerance.verdict import Verdict, pain_monitoring_verdict
from monitor.tolerance.week import SessionRecord, WeekInput


@dataclass(frozen=True, slots=True)
class WeekAssessment:
    start: date
    prescription: Prescription
    verdicts: tuple[tuple[int, Verdict], ...]
    """(session id, verdict), in session order."""
    flags: tuple[Flag, ...]
    advice: Advice
    load_au: float
    """Σ sRPE (CR-10 × minutes) of the week's sessions with an effort rating."""
    sessions_done: int
    adherence: float
    """Sessions done / prescribed (may exceed 1)."""
    morning_pain_mean: float | None
    morning_stiffness_mean: float | None
    weeks_at_goal: int
    """Consecutive tolerated weeks at the volume goal on the same prescription, this one included."""


def assess_history(
    *,
    start: date,
    prescriptions: Sequence[Prescription],
    sessions: Sequence[SessionRecord],
    mornings: Sequence[MorningReport],
) -> list[WeekAssessment]:
    """One assessment per week from ``start``; ``prescriptions[i]`` was in force in week ``i``."""
    weeks = []
    for i, prescription in enumerate(prescriptions):
        first = start + timedelta(weeks=i)
        end = first + timedelta(days=7)
        weeks.append(
            WeekInput(
                first,
                prescription,
                sorted((s for s in sessions if first <= s.day < end), key=lambda s: (s.day, s.id)),
                [m for m in mornings if first <= m.day <= end],
            )
        )
    assessments: list[WeekAssessment] = []
    for i, week in enumerate(weeks):
        previous = assessments[-1] if assessments else None
        assessments.append(assess_week(week, previous=weeks[i - 1] if i else None, previous_assessment=previous))
    return assessments


def assess_week(
    week: WeekInput, *, previous: WeekInput | None, previous_assessment: WeekAssessment | None
) -> WeekAssessment:
    p = week.prescription
    verdicts = tuple(
        (
            s.id,
            pain_monitoring_verdict(
                report=s.report,
                next_morning=week.morning(s.day + timedelta(days=1)),
                morning_of=week.morning(s.day),
                prescription=p,
            ),
        )
        for s in week.sessions
    )
    load_au = sum(s.srpe_au or 0.0 for s in week.sessions)
    flags = week_flags(
        week,
        previous=previous,
        weekly_load_au=load_au,
        previous_load_au=previous_assessment.load_au if previous_assessment else None,
    )
    tolerated = (
        len(week.sessions) >= p.sessions_per_week
        and all(v.level in ("green", "amber") for _, v in verdicts)
        and not any(f.severity != "info" for f in flags)
    )
    same_dose = previous_assessment is not None and (
        previous_assessment.prescription.volume_per_session,
        previous_assessment.prescription.intensity,
    ) == (p.volume_per_session, p.intensity)
    weeks_at_goal = 0
    if tolerated and is_at_goal(p):
        weeks_at_goal = 1 + (previous_assessment.weeks_at_goal if previous_assessment and same_dose else 0)
    advice = weekly_advice(
        p,
        sessions_done=len(week.sessions),
        verdicts=[v for _, v in verdicts],
        flags=flags,
        weeks_at_goal=weeks_at_goal,
    )
    mornings = week.week_mornings()
    return WeekAssessment(
        week.start,
        p,
        verdicts,
        tuple(flags),
        advice,
        load_au,
        len(week.sessions),
        len(week.sessions) / p.sessions_per_week,
        weekly_mean([m.pain for m in mornings]),
        weekly_mean([m.stiffness for m in mornings]),
        weeks_at_goal,
    )
