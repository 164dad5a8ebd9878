"""One week of a patient's programme, as the engine sees it: plain records, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from monitor.load import srpe_au
from monitor.tolerance.prescription import Prescription, SessionKind
from monitor.tolerance.reports import MorningReport, SessionReport


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session's summary and its report; the numbers the tolerance rules read."""

    id: int
    day: date
    kind: SessionKind
    duration_min: float
    volume: float | None = None
    """Done, in the prescription's volume unit (None when not measured)."""
    report: SessionReport | None = None
    time_above_ceiling_s: float | None = None
    ceiling_bpm: float | None = None
    """The heart-rate ceiling ``time_above_ceiling_s`` was counted against."""
    artifact_fraction: float | None = None
    hr_coverage: float | None = None

    @property
    def srpe_au(self) -> float | None:
        """Foster session load: CR-10 effort × minutes; None without an effort rating."""
        effort = self.report.effort_cr10 if self.report else None
        return None if effort is None else srpe_au(cr10=effort, minutes=self.duration_min)


@dataclass(frozen=True, slots=True)
class WeekInput:
    start: date
    """The first day of the week; the week is ``start`` to ``start + 6 days``."""
    prescription: Prescription
    """The version in force during the week."""
    sessions: Sequence[SessionRecord]
    mornings: Sequence[MorningReport]
    """Morning reports from ``start`` to ``start + 7 days``: the morning after the last day belongs here too."""

    def __post_init__(self) -> None:
        end = self.start + timedelta(days=7)
        for session in self.sessions:
            if not self.start <= session.day < end:
                raise ValueError(f"session {session.id} on {session.day} is outside the week of {self.start}")
        for morning in self.mornings:
            if not self.start <= morning.day <= end:
                raise ValueError(f"morning report of {morning.day} is outside the week of {self.start}")

    def morning(self, day: date) -> MorningReport | None:
        return next((m for m in self.mornings if m.day == day), None)

    def week_mornings(self) -> list[MorningReport]:
        """The mornings of the week's own seven days."""
        end = self.start + timedelta(days=7)
        return [m for m in self.mornings if m.day < end]
