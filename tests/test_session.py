from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from drivers.readings import AccelerationBatch, HeartRateReading
from monitor.session import SessionRecorder
from monitor.sinks import CHUNK_SPAN_NS, PatientInStore, SessionChunk, StoreSink
from monitor.store import SignalChunk, Store, TrainingSession

T0 = 1_793_610_000_000_000_000
SENSOR_T0 = 1_546_300_835_000_000_000


def test_readings_are_chunked_aligned_and_summarised(store: Store, patient_id: int) -> None:
    recorder = SessionRecorder.start(PatientInStore(store, patient_id), kind="walking", started_at_ns=T0)
    for second in range(1, 31):
        t_ns = T0 + second * 1_000_000_000
        contact = second != 10  # one reading without skin contact: not a heart rate
        recorder.consume(HeartRateReading("h10", t_ns + 20_000_000, 100 + second, (600.0,), contact))
        sensor_ns = SENSOR_T0 + second * 1_000_000_000 - np.arange(100)[::-1] * 10_000_000
        recorder.consume(AccelerationBatch("h10", t_ns + 15_000_000, sensor_ns, np.full((100, 3), float(second))))
    session = recorder.finish()
    assert session.status == "complete"
    assert session.hr_max_bpm == 130
    assert session.hr_coverage == 1.0  # the no-contact second holds the reading before it
    assert session.acc_sample_count == 3000
    assert session.beat_count == 30
    acc = store.signals.read(session.id, "acc_mg")
    # The least-delayed frame sets the offset: every sample lands 15 ms after its true time.
    np.testing.assert_array_equal(acc.t_ns[-100:], T0 + 30_000_000_000 + 15_000_000 - np.arange(100)[::-1] * 10_000_000)
    hr = store.signals.read(session.id, "hr_bpm")
    assert hr.values[9].tolist() == [110, 0]
    with store.session() as db:
        spans = [
            c.t_end_ns - c.t_start_ns for c in db.scalars(select(SignalChunk).where(SignalChunk.signal == "acc_mg"))
        ]
    assert len(spans) > 1
    assert max(spans) <= CHUNK_SPAN_NS + 1_000_000_000


def test_problems_are_counted_and_only_the_first_hundred_kept(store: Store, patient_id: int) -> None:
    recorder = SessionRecorder.start(PatientInStore(store, patient_id), kind="strength", started_at_ns=T0)
    for i in range(150):
        recorder.report_problem(f"line {i + 2}: malformed payload")
    session = recorder.finish(ended_at_ns=T0 + 60_000_000_000)
    assert session.malformed_count == 150
    assert session.duration_s == 60
    assert session.hr_mean_bpm is None
    with store.session() as db:
        assert len(db.get_one(TrainingSession, session.id).events) == 100


def test_problem_count_is_current_while_live(store: Store, patient_id: int) -> None:
    sink = StoreSink.create(store, patient_id=patient_id, kind="walking", started_at_ns=T0)
    SessionRecorder(sink, T0).report_problem("line 7: malformed payload")
    with store.session() as db:
        assert db.get_one(TrainingSession, sink.session_id).malformed_count == 1


def test_a_better_clock_estimate_never_moves_samples_back_in_time(store: Store, patient_id: int) -> None:
    recorder = SessionRecorder.start(PatientInStore(store, patient_id), kind="walking", started_at_ns=T0)
    values = np.arange(300 * 6, dtype=float).reshape(-1, 3)
    for frame in range(6 * 10):
        sensor_ns = SENSOR_T0 + frame * 100_000_000 + np.arange(10) * 10_000_000
        # Every frame comes 60 ms late but the last, which takes 5 ms: the offset estimate
        # drops by 55 ms between two chunks.
        latency_ns = 5_000_000 if frame == 59 else 60_000_000
        host_ns = T0 + frame * 100_000_000 + 90_000_000 + latency_ns
        recorder.consume(
            AccelerationBatch("h10", host_ns, sensor_ns, values[(frame * 10) % 600 : (frame * 10) % 600 + 10])
        )
    session = recorder.finish()
    acc = store.signals.read(session.id, "acc_mg")
    assert len(acc) == 600
    assert np.all(np.diff(acc.t_ns) > 0)
    np.testing.assert_array_equal(acc.values, values[:600])


def test_a_failing_analysis_keeps_the_session_and_says_so(
    store: Store, patient_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> None:
        raise FloatingPointError("boom")

    monkeypatch.setattr("monitor.sinks.analyse_activity", broken)
    recorder = SessionRecorder.start(PatientInStore(store, patient_id), kind="walking", started_at_ns=T0)
    recorder.consume(HeartRateReading("h10", T0 + 1_000_000_000, 90, (660.0,), True))
    session = recorder.finish(ended_at_ns=T0 + 2_000_000_000)
    assert session.hr_max_bpm == 90
    with store.session() as db:
        row = db.get_one(TrainingSession, session.id)
        assert row.analysis is None
        assert [e.message for e in row.events] == ["analysis failed: FloatingPointError: boom"]


def test_an_end_the_database_refuses_writes_nothing_and_can_be_done_again(
    store: Store, patient_id: int, tmp_path: Path
) -> None:
    sink = StoreSink.create(store, patient_id=patient_id, kind="walking", started_at_ns=T0)
    t_ns = T0 + np.arange(1, 61, dtype=np.int64) * 1_000_000_000
    acc_t_ns = T0 + np.arange(60 * 100, dtype=np.int64) * 10_000_000
    walking_mg = 1000 + 300 * np.sin(2 * np.pi * 1.8 * (acc_t_ns - T0) / 1e9)
    sink.append(
        [
            SessionChunk("hr_bpm", "h10", t_ns, np.column_stack([np.full(60, 110.0), np.ones(60)])),
            SessionChunk("rr_ms", "h10", t_ns, np.full((60, 1), 545.0)),
            SessionChunk("acc_mg", "h10", acc_t_ns, np.column_stack([walking_mg, np.zeros((6000, 2))])),
        ]
    )
    # Another writer holds the database past the busy timeout, so the end's write fails.
    blocker = sqlite3.connect(tmp_path / "dosis.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"):
        sink.finish(status="complete", ended_at_ns=T0 + 61_000_000_000)
    with store.session() as db:
        row = db.get_one(TrainingSession, sink.session_id)
        assert (row.status, row.hr_mean_bpm, row.analysis, row.load) == ("live", None, None, None)
    blocker.rollback()
    blocker.close()
    session = sink.finish(status="complete", ended_at_ns=T0 + 61_000_000_000)
    assert (session.status, session.hr_mean_bpm, session.duration_s) == ("complete", 110, 61)
    with store.session() as db:
        row = db.get_one(TrainingSession, sink.session_id)
        assert row.analysis is not None
        assert row.load is not None
        assert row.analysis.activity["steps"] > 0
