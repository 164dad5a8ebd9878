"""A patient's prescription: how much, how hard, how often, and the rules of progression.

Defaults follow the pain-monitoring model and gradual progression (DESIGN.md): pain may
reach 5/10 during and after a session, weekly progression is at most 10 %, and volume
rises before intensity.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from monitor.tolerance.pain import DEFAULT_PAIN_LIMIT, check_nrs

SessionKind = Literal["walking", "strength"]
VolumeUnit = Literal["minutes", "steps", "repetitions"]


@dataclass(frozen=True, slots=True)
class Prescription:
    sessions_per_week: int
    kinds: tuple[SessionKind, ...]
    volume_per_session: float
    """What each session should hold, in ``volume_unit``: minutes or steps of walking,
    or repetitions (sets × repetitions) of strength work."""
    volume_unit: VolumeUnit
    volume_goal: float
    """The volume per session the programme builds to before intensity rises."""
    intensity: float | None = None
    """The intensity the patient trains at, in ``intensity_unit`` (e.g. kg, steps/min)."""
    intensity_unit: str | None = None
    hr_ceiling_bpm: float | None = None
    """Heart rate not to exceed; see also ``hr_ceiling_percent_hrr``."""
    hr_ceiling_percent_hrr: float | None = None
    """The ceiling as % heart-rate reserve (Karvonen), when not given in bpm."""
    pain_during_limit: float = DEFAULT_PAIN_LIMIT
    pain_after_limit: float = DEFAULT_PAIN_LIMIT
    max_weekly_progression: float = 0.10
    intensity_after_weeks: int = 2
    """Weeks the volume goal must be tolerated before intensity may rise (volume before intensity)."""
    step_back_fraction: float = 0.20
    """How much a step back takes off the volume (a project choice; the model says "reduce")."""
    max_share_above_ceiling: float = 0.10
    """Share of a session above the heart-rate ceiling that raises a flag."""
    review_on: date | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value}")
        if not 1 <= self.sessions_per_week <= 14:
            raise ValueError(f"sessions_per_week must be 1-14, got {self.sessions_per_week}")
        if not self.kinds or not set(self.kinds) <= {"walking", "strength"}:
            raise ValueError(f"kinds must be walking and/or strength, got {self.kinds!r}")
        if not 0 < self.volume_per_session <= self.volume_goal:
            raise ValueError(
                f"volume_per_session must be positive and at most volume_goal, got {self.volume_per_session} "
                f"and {self.volume_goal}"
            )
        if self.volume_unit not in ("minutes", "steps", "repetitions"):
            raise ValueError(f"volume_unit must be minutes, steps or repetitions, got {self.volume_unit!r}")
        if (self.intensity is None) != (self.intensity_unit is None):
            raise ValueError("intensity and intensity_unit go together")
        if self.intensity is not None and self.intensity <= 0:
            raise ValueError(f"intensity must be positive, got {self.intensity}")
        if self.hr_ceiling_bpm is not None and self.hr_ceiling_percent_hrr is not None:
            raise ValueError("give the heart-rate ceiling in bpm or in % HRR, not both")
        if self.hr_ceiling_bpm is not None and not 40 <= self.hr_ceiling_bpm <= 230:
            raise ValueError(f"hr_ceiling_bpm must be 40-230, got {self.hr_ceiling_bpm}")
        if self.hr_ceiling_percent_hrr is not None and not 0 < self.hr_ceiling_percent_hrr <= 100:
            raise ValueError(f"hr_ceiling_percent_hrr must be in (0, 100], got {self.hr_ceiling_percent_hrr}")
        check_nrs(self.pain_during_limit, name="pain_during_limit")
        check_nrs(self.pain_after_limit, name="pain_after_limit")
        for name in ("max_weekly_progression", "step_back_fraction", "max_share_above_ceiling"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.intensity_after_weeks < 0:
            raise ValueError(f"intensity_after_weeks must not be negative, got {self.intensity_after_weeks}")

    def ceiling_bpm(self, *, hr_rest_bpm: float | None, hr_max_bpm: float | None) -> float | None:
        """The heart-rate ceiling in bpm; a % HRR ceiling needs the patient's rest and max."""
        if self.hr_ceiling_bpm is not None:
            return self.hr_ceiling_bpm
        if self.hr_ceiling_percent_hrr is None or hr_rest_bpm is None or hr_max_bpm is None:
            return None
        return hr_rest_bpm + self.hr_ceiling_percent_hrr / 100 * (hr_max_bpm - hr_rest_bpm)

    def with_changes(self, **changes: object) -> Prescription:
        """A new version with ``changes``, checked like any prescription."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
