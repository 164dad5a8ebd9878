"""Weekly progression advice: progress, hold or step back, with the reason and the numbers.

The pain-monitoring model decides first: a red flag pauses progression, a broken rule
(a red session, morning pain or stiffness rising over the week) steps back. A week that
cannot be judged (sessions missed, reports missing) or that already rose too fast holds.
A tolerated week progresses volume by at most the weekly cap up to the goal; intensity
rises only after the goal has been tolerated for the prescribed number of weeks. Advice
is a proposal: nothing changes until a clinician confirms it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from monitor.tolerance.flags import Flag
from monitor.tolerance.messages import Message, Param
from monitor.tolerance.prescription import Prescription
from monitor.tolerance.verdict import Verdict

Action = Literal["progress", "hold", "step_back"]


@dataclass(frozen=True, slots=True)
class Advice:
    action: Action
    message: Message
    proposed: Prescription
    """The prescription for next week if the clinician accepts; the current one for a hold."""
    changes: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    """Changed fields: name → (current, proposed)."""


def _percent(fraction: float) -> float:
    return round(100 * fraction, 1)


def _hold(p: Prescription, key: str, **params: Param) -> Advice:
    return Advice("hold", Message(key, params), p)


def _change(action: Action, p: Prescription, name: str, proposed: float, key: str, **params: Param) -> Advice:
    """Advice that changes one number of the prescription, with the change in the message."""
    current = getattr(p, name)
    # The volume's unit is one of the engine's words (translated where shown); intensity's is the clinician's own.
    unit: Param = Message(f"unit.{p.volume_unit}") if name == "volume_per_session" else p.intensity_unit or ""
    shown: dict[str, Param] = {
        "current": current,
        "proposed": proposed,
        "unit": unit,
        "percent": _percent(abs(proposed / current - 1)),
    }
    return Advice(action, Message(key, shown | params), p.with_changes(**{name: proposed}), {name: (current, proposed)})


def tenths_down(value: float) -> float:
    """Rounded down to 0.1, so a progression never exceeds its cap through rounding."""
    return math.floor(value * 10 + 1e-9) / 10


def is_at_goal(p: Prescription) -> bool:
    return p.volume_per_session >= p.volume_goal


def weekly_advice(
    p: Prescription,
    *,
    sessions_done: int,
    verdicts: Sequence[Verdict],
    flags: Sequence[Flag],
    weeks_at_goal: int,
    complete: bool = True,
) -> Advice:
    """The advice for the week after this one; ``weeks_at_goal`` counts tolerated weeks at the goal, this one too.

    While the week is still running (``complete`` False) only the model's safety rules
    speak: a red flag or a broken rule is acted on at once ("reduce the next session"),
    anything else waits for the week's end.
    """
    rules = {f.rule for f in flags}
    if "red_flag" in rules:
        return _hold(p, "advice.hold_red_flag")
    red = sum(v.level == "red" for v in verdicts)
    rising = [f for f in flags if f.rule in ("morning_pain_rising", "morning_stiffness_rising")]
    if red or rising:
        proposed_volume = tenths_down(p.volume_per_session * (1 - p.step_back_fraction))
        if red:
            return _change("step_back", p, "volume_per_session", proposed_volume, "advice.step_back_pain", count=red)
        rise = rising[0].message.params
        return _change(
            "step_back",
            p,
            "volume_per_session",
            proposed_volume,
            "advice.step_back_morning",
            measure=Message("measure.pain" if rising[0].rule == "morning_pain_rising" else "measure.stiffness"),
            previous=rise["previous"],
            now=rise["current"],
        )
    if not complete:
        return _hold(p, "advice.week_running", done=sessions_done, prescribed=p.sessions_per_week)
    if sessions_done == 0:
        return _hold(p, "advice.hold_no_sessions")
    if sessions_done < p.sessions_per_week:
        return _hold(p, "advice.hold_adherence", done=sessions_done, prescribed=p.sessions_per_week)
    unknown = sum(v.level == "unknown" for v in verdicts)
    if unknown:
        return _hold(p, "advice.hold_unknown", unknown=unknown, sessions=len(verdicts))
    load_rise = next((f for f in flags if f.rule == "weekly_load_rise"), None)
    if load_rise is not None:
        return _hold(
            p,
            "advice.hold_load_rise",
            percent=load_rise.message.params["percent"],
            cap=_percent(p.max_weekly_progression),
        )
    above = sum(f.rule == "heart_rate_above_ceiling" for f in flags)
    if above:
        return _hold(p, "advice.hold_heart_rate", count=above)
    if not is_at_goal(p):
        proposed_volume = min(p.volume_goal, tenths_down(p.volume_per_session * (1 + p.max_weekly_progression)))
        return _change(
            "progress",
            p,
            "volume_per_session",
            proposed_volume,
            "advice.progress_volume",
            prescribed=p.sessions_per_week,
        )
    if p.intensity is None or p.intensity_unit is None:
        return _hold(p, "advice.maintain")
    if weeks_at_goal < p.intensity_after_weeks:
        return _hold(p, "advice.hold_at_goal", needed=p.intensity_after_weeks, weeks=weeks_at_goal)
    proposed_intensity = tenths_down(p.intensity * (1 + p.max_weekly_progression))
    return _change("progress", p, "intensity", proposed_intensity, "advice.progress_intensity", weeks=weeks_at_goal)
