"""What the engine says, as translation keys with parameters.

The engine never builds sentences: each finding, flag and piece of advice carries a key
and the numbers behind it, and the dashboard renders it in the reader's language. The
English text here is the source catalogue the translations start from.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeAlias

Param: TypeAlias = "int | float | str | Message"


@dataclass(frozen=True, slots=True)
class Message:
    key: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key not in ENGLISH:
            raise KeyError(f"no message {self.key!r}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def english(self) -> str:
        return render(self, ENGLISH)

    def as_dict(self) -> dict[str, object]:
        """JSON form: nested messages (a red-flag question, a data problem) stay keys too."""
        params = {k: v.as_dict() if isinstance(v, Message) else v for k, v in self.params.items()}
        return {"key": self.key, "params": params}


def render(message: Message, catalogue: Mapping[str, str]) -> str:
    """The message in the catalogue's language; numbers with at most one decimal, as clinicians read them."""
    shown = {name: _format(value, catalogue) for name, value in message.params.items()}
    return string.Formatter().vformat(catalogue[message.key], (), shown)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _format(value: Param, catalogue: Mapping[str, str]) -> str:
    if isinstance(value, Message):
        return render(value, catalogue)
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def format_number(value: float) -> str:
    """At most one decimal, none when whole: 29.2, 30, 133.1."""
    return str(int(value)) if value == int(value) else f"{value:.1f}".rstrip("0").rstrip(".")


ENGLISH: Mapping[str, str] = MappingProxyType(
    {
        # Session verdict findings (pain-monitoring model).
        "verdict.pain_during_above_limit": "Pain during the session was {pain}/10, above the limit of {limit}/10.",
        "verdict.pain_after_above_limit": "Pain after the session was {pain}/10, above the limit of {limit}/10.",
        "verdict.morning_pain_above_before": (
            "Pain the next morning was {morning}/10, higher than the {before}/10 before the session."
        ),
        "verdict.morning_stiffness_above_before": (
            "Stiffness the next morning was {morning}/10, higher than the {before}/10 on the morning of the session."
        ),
        "verdict.pain_acceptable": "Pain reached {pain}/10: acceptable (up to {limit}/10) but above the safe 2/10.",
        "verdict.within_tolerance": "Pain stayed at or below 2/10 and had settled by the next morning.",
        "verdict.missing_report": "No {report} yet, so tolerance cannot be judged.",
        "report.pain_before": "pain rating before the session",
        "report.pain_during": "pain rating during the session",
        "report.pain_after": "pain rating after the session",
        "report.morning_pain": "pain rating the next morning",
        # Flags.
        "flag.pain_during_above_limit": ("Session on {day}: pain during was {pain}/10, above the limit of {limit}/10."),
        "flag.morning_pain_above_before": (
            "Session on {day}: pain the next morning was {morning}/10, above the {before}/10 before it."
        ),
        "flag.morning_pain_rising": "Morning pain rose from {previous}/10 to {current}/10 on average this week.",
        "flag.morning_stiffness_rising": (
            "Morning stiffness rose from {previous}/10 to {current}/10 on average this week."
        ),
        "flag.heart_rate_above_ceiling": (
            "Session on {day}: heart rate was above the ceiling of {ceiling_bpm} bpm for {percent}% of the session "
            "({minutes} min; allowed {allowed_percent}%)."
        ),
        "flag.weekly_load_rise": (
            "Weekly load rose by {percent}% over its recent level ({previous} to {current} AU), "
            "above the cap of {cap}%."
        ),
        "flag.review_due": "The prescription was due for review on {on}.",
        "flag.missed_sessions": "{done} of {prescribed} prescribed sessions done this week.",
        "flag.poor_data_quality": "Session on {day}: {problem}.",
        "flag.red_flag": "Red-flag answer on {day}: {question}. Refer to a doctor before training on.",
        # Data-quality problems (parameters of flag.poor_data_quality, rendered in place).
        "quality.artifacts": "{percent}% of heartbeats were artifacts (more than {limit}%)",
        "quality.coverage": "heart rate covered {percent}% of the session (less than {limit}%)",
        # Red-flag questions.
        "red_flag.weight_loss": "unexplained weight loss",
        "red_flag.numbness": "numbness or tingling in the legs",
        "red_flag.fever": "fever",
        "red_flag.dizziness": "dizziness",
        "red_flag.redness": "redness or swelling over the area",
        # Weekly advice.
        "advice.progress_volume": (
            "Progress volume from {current} to {proposed} {unit} per session (+{percent}%): every session was "
            "tolerated and all {prescribed} were done."
        ),
        "advice.progress_intensity": (
            "Progress intensity from {current} to {proposed} {unit} (+{percent}%): the volume target has been "
            "tolerated for {weeks} weeks."
        ),
        "advice.hold_at_goal": (
            "Hold: the volume target is reached; intensity may rise after {needed} tolerated weeks at it "
            "({weeks} so far)."
        ),
        "advice.maintain": "Maintain: the volume goal is reached and tolerated, and no intensity is set to progress.",
        "advice.hold_adherence": "Hold: {done} of {prescribed} sessions were done, too few to judge a progression.",
        "advice.hold_unknown": "Hold: {unknown} of {sessions} sessions lack the reports needed to judge tolerance.",
        "advice.hold_load_rise": "Hold: weekly load already rose by {percent}%, above the cap of {cap}%.",
        "advice.hold_heart_rate": "Hold: heart rate stayed above the ceiling too long in {count} session(s).",
        "advice.hold_red_flag": "Pause progression: a red-flag answer needs a doctor's assessment first.",
        "advice.hold_no_sessions": "Hold: no sessions this week.",
        "advice.week_running": (
            "The week is still running ({done} of {prescribed} sessions so far): the advice comes when it is over."
        ),
        "advice.step_back_pain": (
            "Step back from {current} to {proposed} {unit} per session (−{percent}%): {count} session(s) broke "
            "the pain-monitoring rules."
        ),
        "advice.step_back_morning": (
            "Step back from {current} to {proposed} {unit} per session (−{percent}%): morning {measure} rose from "
            "{previous}/10 to {now}/10 this week."
        ),
    }
)
