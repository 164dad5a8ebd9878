"""What the clinical API takes and returns: prescriptions, reports, weekly assessments, load.

Every verdict finding, flag and piece of advice is a message: a translation key, its
parameters (the numbers behind it) and the English text, so no client has to guess why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dashboard.schemas import PatientOverview
from monitor.tolerance import Prescription
from monitor.tolerance.messages import Message

Nrs = Field(default=None, ge=0, le=10, description="0-10")
Light = Literal["red", "amber", "unknown", "green", "none"]
"""A patient's traffic light, most urgent first: ``none`` has no prescription to judge against."""
RedFlag = Literal["weight_loss", "numbness", "fever", "dizziness", "redness"]
"""The questions of ``monitor.tolerance.reports.RED_FLAG_QUESTIONS`` (a test keeps them equal)."""


class MessageOut(BaseModel):
    key: str = Field(description="Translation key")
    params: dict[str, Any] = Field(description="The numbers behind it; nested messages as {key, params}")
    text: str = Field(description="English rendering")

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        as_dict = message.as_dict()
        return cls(key=message.key, params=as_dict["params"], text=message.english())  # type: ignore[arg-type]


class PrescriptionIn(BaseModel):
    prescription: Prescription
    valid_from: date = Field(description="First day the new version applies to")
    note: str = Field(default="", max_length=1000)


class PrescriptionVersionOut(BaseModel):
    version: int
    valid_from: date
    created_at: datetime
    created_by: str | None = Field(description="The clinician who made this version")
    note: str
    prescription: Prescription


class SessionReportIn(BaseModel):
    pain_before: float | None = Nrs
    pain_during: float | None = Nrs
    pain_after: float | None = Nrs
    effort_cr10: float | None = Field(default=None, ge=0, le=10, description="Foster's CR-10, ~30 min after")
    weight_kg: float | None = Field(default=None, gt=0, le=500, description="External weight used in strength sets")
    red_flags: list[RedFlag] = Field(default_factory=list, description="Red-flag questions answered yes")
    reported_at: datetime | None = Field(
        default=None, description="When the patient answered; default now. Late entries keep their own time."
    )


class MorningReportIn(BaseModel):
    day: date
    pain: float | None = Nrs
    stiffness: float | None = Nrs
    red_flags: list[RedFlag] = Field(default_factory=list)
    reported_at: datetime | None = None


class VerdictOut(BaseModel):
    session_id: int
    level: Literal["green", "amber", "red", "unknown"]
    findings: list[MessageOut]


class FlagOut(BaseModel):
    rule: str
    severity: Literal["info", "warning", "critical"]
    source: str
    session_id: int | None
    message: MessageOut


class AdviceOut(BaseModel):
    action: Literal["progress", "hold", "step_back"]
    message: MessageOut
    changes: dict[str, tuple[float | None, float | None]] = Field(description="field: [current, proposed]")
    proposed: Prescription


class DecisionOut(BaseModel):
    decision: Literal["confirmed", "changed", "rejected"]
    decided_at: datetime
    decided_by: str | None
    note: str
    prescription_version: int | None


class DecisionIn(BaseModel):
    decision: Literal["confirmed", "changed", "rejected"]
    prescription: Prescription | None = Field(default=None, description="Required when the decision is changed")
    note: str = Field(default="", max_length=1000)


class WeekOut(BaseModel):
    start: date = Field(description="Monday")
    complete: bool = Field(description="False for the week still running: its advice may change")
    prescription: Prescription
    verdicts: list[VerdictOut]
    flags: list[FlagOut]
    advice: AdviceOut
    load_au: float = Field(description="Σ sRPE (CR-10 × minutes)")
    sessions_done: int
    sessions_prescribed: int
    morning_pain_mean: float | None
    morning_stiffness_mean: float | None
    decision: DecisionOut | None


class WeekLoadOut(BaseModel):
    start: date = Field(description="Monday")
    days: int = Field(description="Days of the week so far (7 once it is over)")
    total_au: float
    change: float | None = Field(description="Fractional change from the week before (0.2 = +20 %)")
    monotony: float | None = Field(description="Foster: mean / SD of the 7 daily loads; whole weeks only")
    strain_au: float | None = Field(description="Weekly load × monotony")


class LoadOut(BaseModel):
    days: list[date] = Field(description="From a Monday to today")
    daily_au: list[float]
    acute_au: list[float] = Field(description="7-day EWMA")
    chronic_au: list[float] = Field(description="28-day EWMA")
    ratio: list[float | None] = Field(
        description="Acute/chronic: a trend to read beside the others, not a threshold (algorithms.md A2)"
    )
    weeks: list[WeekLoadOut]


class PatientStatusOut(PatientOverview):
    """A row of the clinician's overview: who needs attention, and why."""

    light: Light = Field(
        description="red: a red flag or a session that broke the pain-monitoring rules; amber: a warning flag or "
        "pain above 2/10; unknown: reports missing or no session yet; green: on track; none: no prescription"
    )
    reasons: list[MessageOut] = Field(description="Why, most important first: open flags, then the latest verdict")
    latest_verdict: VerdictOut | None = Field(description="The newest finished session's verdict")
    awaiting_decision: date | None = Field(description="Monday of a finished week whose advice awaits a decision")
    sessions_done_this_week: int | None
    sessions_prescribed_this_week: int | None
    load_change: float | None = Field(
        description="Load of the last finished week against the week before (0.2 = +20 %); None when not comparable"
    )


class PatientDaysOut(BaseModel):
    """Per day from a Monday to today, beside ``LoadOut.days``: heart-rate load and pain around the sessions."""

    days: list[date]
    sessions: list[int] = Field(description="Finished sessions that day")
    trimp_banister: list[float | None] = Field(description="Σ Banister TRIMP of the day's sessions; null: none")
    trimp_edwards: list[float | None] = Field(description="Σ Edwards TRIMP of the day's sessions; null: none")
    pain_during: list[float | None] = Field(description="Worst pain during the day's sessions, 0-10")
    pain_after: list[float | None] = Field(description="Worst pain after the day's sessions, 0-10")
    pain_next_morning: list[float | None] = Field(description="Pain the morning after a session day, 0-10")
