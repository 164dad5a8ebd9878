"""What the patient reports: pain and effort around a session, and each morning.

Ratings are checked on the way in (0-10), and every report keeps the time it was given,
so a late entry is allowed and visible as late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from monitor.tolerance.pain import check_nrs

RED_FLAG_QUESTIONS = ("weight_loss", "numbness", "fever", "dizziness", "redness")
"""Red flags (DESIGN.md): unexplained weight loss, numbness or tingling in the legs, fever,
dizziness, redness over the area. Any "yes" means: see a doctor before training on."""


MAX_WEIGHT_KG = 500.0


def _check_red_flags(answers: frozenset[str]) -> frozenset[str]:
    unknown = answers - set(RED_FLAG_QUESTIONS)
    if unknown:
        raise ValueError(f"unknown red-flag questions {sorted(unknown)}; known: {', '.join(RED_FLAG_QUESTIONS)}")
    return answers


@dataclass(frozen=True, slots=True)
class SessionReport:
    """Pain (0-10) before, during and after a session and effort (CR-10) after it; any may be missing."""

    reported_at: datetime
    pain_before: float | None = None
    pain_during: float | None = None
    pain_after: float | None = None
    effort_cr10: float | None = None
    """Foster's modified CR-10, collected about 30 minutes after the session."""
    red_flags: frozenset[str] = field(default_factory=frozenset)
    """The red-flag questions answered "yes"."""
    weight_kg: float | None = None
    """External weight used in the session's strength sets, when the patient entered one."""

    def __post_init__(self) -> None:
        if self.reported_at.tzinfo is None:
            raise ValueError("reported_at needs a timezone")
        if self.weight_kg is not None and not 0 < self.weight_kg <= MAX_WEIGHT_KG:
            raise ValueError(f"weight_kg must be above 0 and at most {MAX_WEIGHT_KG}, got {self.weight_kg}")
        for name in ("pain_before", "pain_during", "pain_after", "effort_cr10"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_nrs(value, name=name))
        object.__setattr__(self, "red_flags", _check_red_flags(frozenset(self.red_flags)))


@dataclass(frozen=True, slots=True)
class MorningReport:
    """Pain and stiffness (0-10) on waking on ``day``, and the red-flag questions."""

    day: date
    reported_at: datetime
    pain: float | None = None
    stiffness: float | None = None
    red_flags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.reported_at.tzinfo is None:
            raise ValueError("reported_at needs a timezone")
        for name in ("pain", "stiffness"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_nrs(value, name=name))
        object.__setattr__(self, "red_flags", _check_red_flags(frozenset(self.red_flags)))
