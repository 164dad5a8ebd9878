from __future__ import annotations

import numpy as np
from sqlalchemy import select

from drivers.readings import AccelerationBatch, HeartRateReading
from monitor.session import CHUNK_SPAN_NS, SessionRecorder
from monitor.store import SignalChunk, Store, TrainingSession

T0 = 1_793_610_000_000_000_000
SENSOR_T0 = 1_546_300_835_000_000_000


def test_readings_are_chunked_aligned_and_summarised(store: Store, patient_id: int) -> None:
    recorder = SessionRecorder.start(store, patient_id=patient_id, kind="walking", started_at_ns=T0)
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
    recorder = SessionRecorder.start(store, patient_id=patient_id, kind="strength", started_at_ns=T0)
    for i in range(150):
        recorder.report_problem(f"line {i + 2}: malformed payload")
    session = recorder.finish(ended_at_ns=T0 + 60_000_000_000)
    assert session.malformed_count == 150
    assert session.duration_s == 60
    assert session.hr_mean_bpm is None
    with store.session() as db:
        assert len(db.get_one(TrainingSession, session.id).events) == 100


def test_problem_count_is_current_while_live(store: Store, patient_id: int) -> None:
    recorder = SessionRecorder.start(store, patient_id=patient_id, kind="walking", started_at_ns=T0)
    recorder.report_problem("line 7: malformed payload")
    with store.session() as db:
        assert db.get_one(TrainingSession, recorder.session_id).malformed_count == 1
