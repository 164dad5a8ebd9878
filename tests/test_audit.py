"""The audit log's writer: bounded text, and no event without someone who acted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from monitor.store import AuditEvent, Store
from monitor.store.audit import record_audit


def test_record_audit_shortens_a_long_detail_and_refuses_a_missing_actor(store: Store) -> None:
    with store.session() as db:
        record_audit(db, actor="clinician:7", action="export", patient_pseudonym=None, detail="x" * 600)
        with pytest.raises(ValueError, match="actor of 1-200"):
            record_audit(db, actor="", action="export", patient_pseudonym=None, detail="")
        db.commit()
    with store.session() as db:
        (event,) = db.scalars(select(AuditEvent)).all()
    assert (event.actor, event.action, event.patient_pseudonym) == ("clinician:7", "export", None)
    assert event.detail == "x" * 499 + "…"
    assert event.at.tzinfo is not None
