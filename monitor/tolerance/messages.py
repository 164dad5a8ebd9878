"""What the engine says, as translation keys with parameters.

The engine never builds sentences: each finding, flag and piece of advice carries a key
and the numbers behind it, and the dashboard renders it in the reader's language. The
English text here is the source catalogue the translations start from.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
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

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Message:
        """The inverse of :meth:`as_dict`; KeyError for an unknown key."""
        params = data.get("params") or {}
        assert isinstance(params, Mapping)
        return cls(
            str(data["key"]),
            {k: cls.from_dict(v) if isinstance(v, Mapping) else v for k, v in params.items()},
        )


def render(message: Message, catalogue: Mapping[str, str], *, number: Callable[[float], str] | None = None) -> str:
    """The message in the catalogue's language; numbers with at most one decimal, as clinicians read them.

    ``number`` writes a decimal number in the reader's locale (default :func:`format_number`).
    """
    number = number or format_number
    shown = {name: _format(value, catalogue, number) for name, value in message.params.items()}
    return string.Formatter().vformat(catalogue[message.key], (), shown)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _format(value: Param, catalogue: Mapping[str, str], number: Callable[[float], str]) -> str:
    if isinstance(value, Message):
        return render(value, catalogue, number=number)
    if isinstance(value, float):
        return number(value)
    return str(value)


def N_(text: str) -> str:
    """Marks the catalogue's source text for `make translations`; the dashboard translates it when shown."""
    return text


def format_number(value: float) -> str:
    """At most one decimal, none when whole: 29.2, 30, 133.1."""
    return str(int(value)) if value == int(value) else f"{value:.1f}".rstrip("0").rstrip(".")


ENGLISH: Mapping[str, str] = MappingProxyType(
    {
        # Session verdict findings (pain-monitoring model).
        "verdict.pain_during_above_limit": N_("Pain during the session was {pain}/10, above the limit of {limit}/10."),
        "verdict.pain_after_above_limit": N_("Pain after the session was {pain}/10, above the limit of {limit}/10."),
        "verdict.morning_pain_above_before": N_(
            "Pain the next morning was {morning}/10, higher than the {before}/10 before the session."
        ),
        "verdict.morning_stiffness_above_before": N_(
            "Stiffness the next morning was {morning}/10, higher than the {before}/10 on the morning of the session."
        ),
        "verdict.pain_acceptable": N_("Pain reached {pain}/10: acceptable (up to {limit}/10) but above the safe 2/10."),
        "verdict.within_tolerance": N_("Pain stayed at or below 2/10 and had settled by the next morning."),
        "verdict.missing_report": N_("No {report} yet, so tolerance cannot be judged."),
        "report.pain_before": N_("pain rating before the session"),
        "report.pain_during": N_("pain rating during the session"),
        "report.pain_after": N_("pain rating after the session"),
        "report.morning_pain": N_("pain rating the next morning"),
        # Flags.
        "flag.pain_during_above_limit": N_(
            "Session on {day}: pain during was {pain}/10, above the limit of {limit}/10."
        ),
        "flag.morning_pain_above_before": N_(
            "Session on {day}: pain the next morning was {morning}/10, above the {before}/10 before it."
        ),
        "flag.morning_pain_rising": N_("Morning pain rose from {previous}/10 to {current}/10 on average this week."),
        "flag.morning_stiffness_rising": N_(
            "Morning stiffness rose from {previous}/10 to {current}/10 on average this week."
        ),
        "flag.heart_rate_above_ceiling": N_(
            "Session on {day}: heart rate was above the ceiling of {ceiling_bpm} bpm for {percent}% of the session "
            "({minutes} min; allowed {allowed_percent}%)."
        ),
        "flag.weekly_load_rise": N_(
            "Weekly load rose by {percent}% over its recent level ({previous} to {current} AU), "
            "above the cap of {cap}%."
        ),
        "flag.review_due": N_("The prescription was due for review on {on}."),
        "flag.missed_sessions": N_("{done} of {prescribed} prescribed sessions done this week."),
        "flag.poor_data_quality": N_("Session on {day}: {problem}."),
        "flag.red_flag": N_("Red-flag answer on {day}: {question}. Refer to a doctor before training on."),
        # Data-quality problems (parameters of flag.poor_data_quality, rendered in place).
        "quality.artifacts": N_("{percent}% of heartbeats were artifacts (more than {limit}%)"),
        "quality.coverage": N_("heart rate covered {percent}% of the session (less than {limit}%)"),
        # Red-flag questions.
        "red_flag.weight_loss": N_("unexplained weight loss"),
        "red_flag.numbness": N_("numbness or tingling in the legs"),
        "red_flag.fever": N_("fever"),
        "red_flag.dizziness": N_("dizziness"),
        "red_flag.redness": N_("redness or swelling over the area"),
        # Words inside advice: the volume's unit, and what rose in the morning.
        "unit.minutes": N_("minutes"),
        "unit.steps": N_("steps"),
        "unit.repetitions": N_("repetitions"),
        "measure.pain": N_("pain"),
        "measure.stiffness": N_("stiffness"),
        # Weekly advice.
        "advice.progress_volume": N_(
            "Progress volume from {current} to {proposed} {unit} per session (+{percent}%): every session was "
            "tolerated and all {prescribed} were done."
        ),
        "advice.progress_intensity": N_(
            "Progress intensity from {current} to {proposed} {unit} (+{percent}%): the volume target has been "
            "tolerated for {weeks} weeks."
        ),
        "advice.hold_at_goal": N_(
            "Hold: the volume target is reached; intensity may rise after {needed} tolerated weeks at it "
            "({weeks} so far)."
        ),
        "advice.maintain": N_(
            "Maintain: the volume goal is reached and tolerated, and no intensity is set to progress."
        ),
        "advice.hold_adherence": N_("Hold: {done} of {prescribed} sessions were done, too few to judge a progression."),
        "advice.hold_unknown": N_("Hold: {unknown} of {sessions} sessions lack the reports needed to judge tolerance."),
        "advice.hold_load_rise": N_("Hold: weekly load already rose by {percent}%, above the cap of {cap}%."),
        "advice.hold_heart_rate": N_("Hold: heart rate stayed above the ceiling too long in {count} session(s)."),
        "advice.hold_red_flag": N_("Pause progression: a red-flag answer needs a doctor's assessment first."),
        "advice.hold_no_sessions": N_("Hold: no sessions this week."),
        "advice.week_running": N_(
            "The week is still running ({done} of {prescribed} sessions so far): the advice comes when it is over."
        ),
        "advice.step_back_pain": N_(
            "Step back from {current} to {proposed} {unit} per session (−{percent}%): {count} session(s) broke "
            "the pain-monitoring rules."
        ),
        "advice.step_back_morning": N_(
            "Step back from {current} to {proposed} {unit} per session (−{percent}%): morning {measure} rose from "
            "{previous}/10 to {now}/10 this week."
        ),
    }
)
