"""The data's life cycle: raw signals expire, a patient can be erased, and both leave an audit trail.

Retention removes raw samples only: a session keeps its summary, analysis, load and reports,
and gets an event saying why its charts are empty. Erasure removes everything of one patient,
signals first: if the signal database cannot delete them, nothing relational is deleted either,
so no sample is left behind without the session that says whose it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from monitor.store import Store
from monitor.store.audit import record_audit
from monitor.store.models import (
    AdviceDecision,
    MorningReportRow,
    Patient,
    PrescriptionVersion,
    SessionEvent,
    SessionReportRow,
    TrainingSession,
)
from monitor.store.signals import SignalStoreUnavailable, SqlSignalStore

RETENTION_EVENT = "retention"
"""The kind of the session event that says its raw signals were deleted."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: datetime
    """Raw samples before this moment were deleted."""
    retention_days: int
    removed: int
    """Chunks or points the signal store removed, as ``removed_unit`` says."""
    removed_unit: Literal["chunks", "points"]
    session_ids: tuple[int, ...]
    """Sessions marked on this run (each session is marked once, on the first run that reaches it)."""


def apply_retention(
    store: Store, *, retention_days: int, now: datetime, actor: str = "system:retention"
) -> RetentionReport:
    """Delete raw signals recorded more than ``retention_days`` before ``now``; a second run removes nothing new.

    Every session that started before the cut-off gets one ``retention`` event, and each of
    their patients one audit event. The SQL store removes whole chunks that ended before the
    cut-off, so a session spanning it loses the rest on a later run; InfluxDB removes points.
    """
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, got {retention_days}")
    if now.tzinfo is None:
        raise ValueError(f"now ({now}) needs a timezone")
    cutoff = (now - timedelta(days=retention_days)).astimezone(UTC)
    # Whole microseconds to ns in integers: a float cannot hold ns since the epoch.
    cutoff_ns = (cutoff - _EPOCH) // timedelta(microseconds=1) * 1000
    # Signals first: if their deletion fails, no session claims that it happened. Appends still
    # on their way (a hub's backfill) would otherwise arrive after it.
    store.signals.flush()
    removed = store.signals.apply_retention(older_than_ns=cutoff_ns)
    marked = (
        select(SessionEvent.id)
        .where(SessionEvent.session_id == TrainingSession.id, SessionEvent.kind == RETENTION_EVENT)
        .exists()
    )
    message = (
        f"Raw signals older than {retention_days} days were deleted on {now.astimezone(UTC):%Y-%m-%d} "
        "(data retention); the summary, load and reports are kept."
    )
    with store.session() as db, db.begin():
        sessions = db.execute(
            select(TrainingSession.id, Patient.pseudonym)
            .join(Patient)
            .where(TrainingSession.started_at < cutoff, ~marked)
            .order_by(TrainingSession.id)
        ).all()
        per_patient: dict[str, int] = {}
        for session_id, pseudonym in sessions:
            db.add(SessionEvent(session_id=session_id, kind=RETENTION_EVENT, message=message))
            per_patient[pseudonym] = per_patient.get(pseudonym, 0) + 1
        for pseudonym, count in per_patient.items():
            record_audit(
                db,
                actor=actor,
                action="retention",
                patient_pseudonym=pseudonym,
                detail=f"raw signals older than {retention_days} days deleted from {count} sessions",
            )
    return RetentionReport(
        cutoff=cutoff,
        retention_days=retention_days,
        removed=removed,
        removed_unit="chunks" if isinstance(store.signals, SqlSignalStore) else "points",
        session_ids=tuple(session_id for session_id, _ in sessions),
    )


@dataclass(frozen=True, slots=True)
class ErasureReport:
    pseudonym: str
    sessions: int
    session_reports: int
    morning_reports: int
    prescription_versions: int
    advice_decisions: int

    def detail(self) -> str:
        return (
            f"sessions={self.sessions} (with their signals) session_reports={self.session_reports} "
            f"morning_reports={self.morning_reports} prescription_versions={self.prescription_versions} "
            f"advice_decisions={self.advice_decisions}"
        )


def delete_patient(store: Store, pseudonym: str, *, actor: str) -> ErasureReport:
    """Erase a patient: the signals of all their sessions, then every row of theirs, recorded in the audit log.

    Raises LookupError for an unknown pseudonym. When the signal database fails
    (:class:`SignalStoreUnavailable`, or a refusal) no row is deleted and the error propagates;
    running it again is safe.
    """
    with store.session() as db, db.begin():
        # PostgreSQL: the row lock keeps a hub from adding a session whose signals would be missed.
        patient_id = db.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym).with_for_update())
        if patient_id is None:
            raise LookupError(f"no patient with pseudonym {pseudonym!r}")
        session_ids = list(db.scalars(select(TrainingSession.id).where(TrainingSession.patient_id == patient_id)))
        try:
            # Appends still on their way would otherwise arrive after the deletion.
            store.signals.flush()
            store.signals.delete_sessions(session_ids)
        except SignalStoreUnavailable as error:
            raise SignalStoreUnavailable(
                f"the signals of patient {pseudonym!r} ({len(session_ids)} sessions) could not be deleted, so "
                f"nothing of theirs was deleted; try again when the signal database is back: {error}"
            ) from error
        report = ErasureReport(
            pseudonym=pseudonym,
            sessions=len(session_ids),
            session_reports=_count(db, select(SessionReportRow).where(SessionReportRow.session_id.in_(session_ids))),
            morning_reports=_count(db, select(MorningReportRow).where(MorningReportRow.patient_id == patient_id)),
            prescription_versions=_count(
                db, select(PrescriptionVersion).where(PrescriptionVersion.patient_id == patient_id)
            ),
            advice_decisions=_count(db, select(AdviceDecision).where(AdviceDecision.patient_id == patient_id)),
        )
        # The database's ON DELETE CASCADE removes sessions, their events, chunks, analyses,
        # loads and reports, and the profile, prescriptions, mornings and decisions.
        db.execute(delete(Patient).where(Patient.id == patient_id))
        record_audit(db, actor=actor, action="delete", patient_pseudonym=pseudonym, detail=report.detail())
    return report


def _count(db: Session, query: Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.subquery())) or 0
