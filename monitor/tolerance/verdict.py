"""One session against the pain-monitoring model: green, amber, red or unknown, and why.

Rules (Thomeé 1997; Silbernagel 2007/2020; docs/algorithms.md A4): pain during and after
may reach the prescribed limit (5/10); by the next morning pain must be no higher than
before the session, and stiffness no higher than on the morning of the session. A broken
rule makes the session red, whatever else is missing. Otherwise every report the rules
need must be there: a missing one makes the verdict unknown, never green. A session
within the rules is amber if pain went above 2/10 (acceptable) and green if not (safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.tolerance.messages import Message
from monitor.tolerance.pain import GREEN_MAX
from monitor.tolerance.prescription import Prescription
from monitor.tolerance.reports import MorningReport, SessionReport

Level = Literal["green", "amber", "red", "unknown"]


@dataclass(frozen=True, slots=True)
class Verdict:
    level: Level
    findings: tuple[Message, ...]
    """The rules that fired (or the reports that are missing), with their numbers."""


def pain_monitoring_verdict(
    *,
    report: SessionReport | None,
    next_morning: MorningReport | None,
    morning_of: MorningReport | None,
    prescription: Prescription,
) -> Verdict:
    """The verdict for one session from the reports around it."""
    broken: list[Message] = []
    missing: list[str] = []
    during = report.pain_during if report else None
    after = report.pain_after if report else None
    before = report.pain_before if report else None
    for pain, limit, key, name in (
        (during, prescription.pain_during_limit, "verdict.pain_during_above_limit", "report.pain_during"),
        (after, prescription.pain_after_limit, "verdict.pain_after_above_limit", "report.pain_after"),
    ):
        if pain is None:
            missing.append(name)
        elif pain > limit:
            broken.append(Message(key, {"pain": pain, "limit": limit}))
    morning_pain = next_morning.pain if next_morning else None
    if morning_pain is None:
        missing.append("report.morning_pain")
    if before is None:
        missing.append("report.pain_before")
    if morning_pain is not None and before is not None and morning_pain > before:
        broken.append(Message("verdict.morning_pain_above_before", {"morning": morning_pain, "before": before}))
    stiffness_now = next_morning.stiffness if next_morning else None
    stiffness_before = morning_of.stiffness if morning_of else None
    if stiffness_now is not None and stiffness_before is not None and stiffness_now > stiffness_before:
        broken.append(
            Message("verdict.morning_stiffness_above_before", {"morning": stiffness_now, "before": stiffness_before})
        )
    if broken:
        return Verdict("red", tuple(broken))
    if missing:
        return Verdict(
            "unknown", tuple(Message("verdict.missing_report", {"report": Message(name)}) for name in missing)
        )
    worst = max(during or 0.0, after or 0.0)  # both present: nothing is missing
    if worst > GREEN_MAX:
        limit = max(prescription.pain_during_limit, prescription.pain_after_limit)
        return Verdict("amber", (Message("verdict.pain_acceptable", {"pain": worst, "limit": limit}),))
    return Verdict("green", (Message("verdict.within_tolerance"),))
