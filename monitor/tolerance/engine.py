"""The tolerance engine: a patient's weeks in, verdicts, flags and advice out, week by week.

Pure and deterministic: the same history always gives the same assessment, so the
dashboard can recompute it whenever a report arrives instead of storing conclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean

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
    load_complete: bool
    """Every session of the week has an effort rating, so ``load_au`` is the whole week's."""
    complete: bool
    """The week is over (False for the week holding ``today``)."""
    sessions_done: int
    adherence: float
    """Sessions done / prescribed (may exceed 1)."""
    morning_pain_mean: float | None
    morning_stiffness_mean: float | None
    weeks_at_goal: int
    """Consecutive tolerated weeks at the volume goal on the same prescription, this one included."""


RECENT_WEEKS = 4
"""Weeks whose load a rise is measured from."""


def reference_load_au(previous: Sequence[WeekAssessment]) -> float | None:
    """The recent weekly load: the larger of last week's and the mean of the last four.

    Only whole weeks of the programme count (over, every prescribed session done, every
    session rated): a week back to the prescribed dose after a lighter one (a missed
    session, a holiday, an unrated session) is no spike. The larger of the two keeps a
    slow climb measured from where it is now, while a week above both is a rise.
    """
    rated = [
        a.load_au
        for a in previous[-RECENT_WEEKS:]
        if a.complete and a.load_complete and a.sessions_done >= a.prescription.sessions_per_week
    ]
    if not rated:
        return None
    return max(rated[-1], fmean(rated))


def assess_history(
    *,
    start: date,
    prescriptions: Sequence[Prescription],
    sessions: Sequence[SessionRecord],
    mornings: Sequence[MorningReport],
    today: date | None = None,
) -> list[WeekAssessment]:
    """One assessment per week from ``start``; ``prescriptions[i]`` was in force in week ``i``.

    A week that holds ``today`` is still running (None: every week is over).
    """
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
        complete = today is None or week.start + timedelta(days=7) <= today
        assessments.append(
            assess_week(week, previous=weeks[i - 1] if i else None, history=assessments, complete=complete)
        )
    return assessments


def assess_week(
    week: WeekInput, *, previous: WeekInput | None, history: Sequence[WeekAssessment], complete: bool = True
) -> WeekAssessment:
    """One week, given the assessments of the weeks before it (oldest first)."""
    previous_assessment = history[-1] if history else None
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
        reference_load_au=reference_load_au(history),
        complete=complete,
    )
    tolerated = (
        complete
        and len(week.sessions) >= p.sessions_per_week
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
        complete=complete,
    )
    mornings = week.week_mornings()
    return WeekAssessment(
        week.start,
        p,
        verdicts,
        tuple(flags),
        advice,
        load_au,
        all(s.srpe_au is not None for s in week.sessions),
        complete,
        len(week.sessions),
        len(week.sessions) / p.sessions_per_week,
        weekly_mean([m.pain for m in mornings]),
        weekly_mean([m.stiffness for m in mornings]),
        weeks_at_goal,
    )
