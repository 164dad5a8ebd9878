"""The audit log: who did what with whose data, written in the same transaction as what it records."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from monitor.store.models import AuditEvent

_DETAIL_LENGTH = 500
"""``AuditEvent.detail``'s column width; PostgreSQL refuses longer text where SQLite would keep it."""


def record_audit(db: Session, *, actor: str, action: str, patient_pseudonym: str | None, detail: str) -> AuditEvent:
    """Add who did what with whose data to ``db``, to be committed with the change it records.

    ``detail`` says what was done, never a health value; past the column's 500 characters it is cut short.
    """
    if not 0 < len(actor) <= 200 or not 0 < len(action) <= 32:
        raise ValueError(
            f"an audit event needs an actor of 1-200 and an action of 1-32 characters: {actor!r}, {action!r}"
        )
    if len(detail) > _DETAIL_LENGTH:
        detail = detail[: _DETAIL_LENGTH - 1] + "…"
    event = AuditEvent(
        at=datetime.now(UTC), actor=actor, action=action, patient_pseudonym=patient_pseudonym, detail=detail
    )
    db.add(event)
    return event
