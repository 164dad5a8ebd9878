from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from monitor.store import Store, TrainingSession


def test_times_come_back_as_aware_utc(store: Store, patient_id: int) -> None:
    oslo_summer = timezone(timedelta(hours=2))
    with store.session() as db:
        row = TrainingSession(
            patient_id=patient_id, kind="walking", started_at=datetime(2026, 6, 1, 10, 0, tzinfo=oslo_summer)
        )
        db.add(row)
        db.commit()
        session_id = row.id
    with store.session() as db:
        started = db.get_one(TrainingSession, session_id).started_at
    assert started == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert started.tzinfo == UTC


def test_naive_times_are_refused(store: Store, patient_id: int) -> None:
    with store.session() as db:
        db.add(TrainingSession(patient_id=patient_id, kind="walking", started_at=datetime(2026, 6, 1, 10, 0)))
        with pytest.raises(StatementError, match="give a timezone"):
            db.commit()
