"""``dosis serve`` as a process: it applies the retention period by itself, and stops cleanly."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servers import DosisServer
from sqlalchemy import select

from monitor.composites import WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore
from monitor.store import Patient, SessionEvent, Store, TrainingSession
from monitor.store.lifecycle import RETENTION_EVENT


def test_serve_deletes_raw_signals_past_the_retention_period_when_it_starts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}")
    with store.session() as db:
        patient = Patient(pseudonym="p-3f7a21", display_name="Ingrid Madsen")
        db.add(patient)
        db.commit()
    now = datetime.now(UTC)
    old, recent = (
        asyncio.run(
            replay_capture(
                WALKING_CAPTURE, PatientInStore(store, patient.id), start_at_ns=int((now - age).timestamp() * 1e9)
            )
        ).session.id
        for age in (timedelta(days=40), timedelta(days=3))
    )
    server = DosisServer(tmp_path, {"DOSIS_RETENTION_DAYS": "30"})
    server.start()
    try:
        deadline = time.monotonic() + 30
        while len(store.signals.read(old, "acc_mg")):
            assert time.monotonic() < deadline, "the old session's signals were not deleted"
            time.sleep(0.1)
    finally:
        server.stop()
    assert len(store.signals.read(recent, "acc_mg")) > 0
    with store.session() as db:
        marked = db.scalars(select(SessionEvent.session_id).where(SessionEvent.kind == RETENTION_EVENT)).all()
        summary = db.get_one(TrainingSession, old)
    assert marked == [old]
    assert summary.hr_mean_bpm is not None  # the summary outlives the raw data
    assert "retention" in server.log.read_text()
    store.close()
