"""Flags: what a clinician should look at, each with its rule, severity, numbers and source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean
from typing import Literal

from monitor.tolerance.messages import Message, Param
from monitor.tolerance.reports import RED_FLAG_QUESTIONS
from monitor.tolerance.week import WeekInput

Severity = Literal["info", "warning", "critical"]
Source = Literal["self-report", "heart rate", "sessions", "load", "data quality", "prescription"]

MORNING_RISE_NRS = 1.0
"""A weekly mean of morning pain or stiffness this much above last week's counts as rising:
the smallest step of the 0-10 scale, so one bad morning among several does not."""
MIN_MORNINGS_FOR_TREND = 3
"""Mornings each week needs before its mean is compared: on a Monday one morning is no trend."""
MAX_ARTIFACT_FRACTION = 0.05
"""Above this, HRV is withheld (docs/algorithms.md, pinned conventions)."""
MIN_HR_COVERAGE = 0.80


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    severity: Severity
    message: Message
    source: Source
    session_id: int | None = None


def _percent(fraction: float) -> float:
    return round(100 * fraction, 1)


def weekly_mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def morning_rise(week: WeekInput, previous: WeekInput | None, measure: Literal["pain", "stiffness"]) -> Message | None:
    """A ``flag.morning_<measure>_rising`` message when the weekly mean rose by a scale step or more."""
    if previous is None:
        return None
    now_values = [v for m in week.week_mornings() if (v := getattr(m, measure)) is not None]
    before_values = [v for m in previous.week_mornings() if (v := getattr(m, measure)) is not None]
    if min(len(now_values), len(before_values)) < MIN_MORNINGS_FOR_TREND:
        return None
    now, before = fmean(now_values), fmean(before_values)
    if now - before < MORNING_RISE_NRS:
        return None
    return Message(f"flag.morning_{measure}_rising", {"previous": round(before, 1), "current": round(now, 1)})


def _flag(rule: str, severity: Severity, source: Source, session_id: int | None = None, **params: Param) -> Flag:
    return Flag(rule, severity, Message(f"flag.{rule}", params), source, session_id)


def week_flags(
    week: WeekInput,
    *,
    previous: WeekInput | None,
    weekly_load_au: float,
    reference_load_au: float | None,
    complete: bool = True,
) -> list[Flag]:
    """Every flag the week raises, red flags first.

    ``reference_load_au`` is the recent weekly load a rise is measured from (see
    :func:`monitor.tolerance.engine.reference_load_au`); a week still running raises no
    missed-session flag, since its sessions may yet come.
    """
    p = week.prescription
    flags: list[Flag] = []
    answered: list[tuple[date, frozenset[str], int | None]] = [
        (s.day, s.report.red_flags, s.id) for s in week.sessions if s.report
    ]
    answered += [(m.day, m.red_flags, None) for m in week.week_mornings()]
    for answered_on, answers, session_id in answered:
        for question in (q for q in RED_FLAG_QUESTIONS if q in answers):
            question_text = Message(f"red_flag.{question}")
            flags.append(
                _flag(
                    "red_flag",
                    "critical",
                    "self-report",
                    session_id,
                    day=answered_on.isoformat(),
                    question=question_text,
                )
            )
    for s in week.sessions:
        day: Param = s.day.isoformat()
        during = s.report.pain_during if s.report else None
        if during is not None and during > p.pain_during_limit:
            flags.append(
                _flag(
                    "pain_during_above_limit",
                    "warning",
                    "self-report",
                    s.id,
                    day=day,
                    pain=during,
                    limit=p.pain_during_limit,
                )
            )
        morning = week.morning(s.day + timedelta(days=1))
        before = s.report.pain_before if s.report else None
        if morning and morning.pain is not None and before is not None and morning.pain > before:
            flags.append(
                _flag(
                    "morning_pain_above_before",
                    "warning",
                    "self-report",
                    s.id,
                    day=day,
                    morning=morning.pain,
                    before=before,
                )
            )
        if s.time_above_ceiling_s is not None and s.ceiling_bpm is not None and s.duration_min > 0:
            share = s.time_above_ceiling_s / (60 * s.duration_min)
            if share > p.max_share_above_ceiling:
                flags.append(
                    _flag(
                        "heart_rate_above_ceiling",
                        "warning",
                        "heart rate",
                        s.id,
                        day=day,
                        ceiling_bpm=round(s.ceiling_bpm),
                        percent=_percent(share),
                        minutes=round(s.time_above_ceiling_s / 60, 1),
                        allowed_percent=_percent(p.max_share_above_ceiling),
                    )
                )
        problems = []
        if s.artifact_fraction is not None and s.artifact_fraction > MAX_ARTIFACT_FRACTION:
            problems.append(
                Message(
                    "quality.artifacts",
                    {"percent": _percent(s.artifact_fraction), "limit": _percent(MAX_ARTIFACT_FRACTION)},
                )
            )
        if s.hr_coverage is not None and s.hr_coverage < MIN_HR_COVERAGE:
            problems.append(
                Message("quality.coverage", {"percent": _percent(s.hr_coverage), "limit": _percent(MIN_HR_COVERAGE)})
            )
        flags += [
            _flag("poor_data_quality", "info", "data quality", s.id, day=day, problem=problem) for problem in problems
        ]
    for measure in ("pain", "stiffness"):
        rise = morning_rise(week, previous, measure)
        if rise is not None:
            flags.append(Flag(f"morning_{measure}_rising", "warning", rise, "self-report"))
    # Judged on the rounded percentages the flag shows: "rose 10.0 %, cap 10 %" is no rise.
    load_rise = _percent(weekly_load_au / reference_load_au - 1) if reference_load_au else None
    if load_rise is not None and reference_load_au is not None and load_rise > _percent(p.max_weekly_progression):
        flags.append(
            _flag(
                "weekly_load_rise",
                "warning",
                "load",
                percent=load_rise,
                previous=round(reference_load_au),
                current=round(weekly_load_au),
                cap=_percent(p.max_weekly_progression),
            )
        )
    if p.review_on is not None and p.review_on < week.start + timedelta(days=7):
        flags.append(_flag("review_due", "info", "prescription", on=p.review_on.isoformat()))
    done = len(week.sessions)
    if complete and done < p.sessions_per_week:
        severity: Severity = "warning" if done <= p.sessions_per_week / 2 else "info"
        flags.append(_flag("missed_sessions", severity, "sessions", done=done, prescribed=p.sessions_per_week))
    return flags
