from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from monitor.store import SignalChunk, Store, TrainingSession
from monitor.store.signals import UNIFORM_TOLERANCE_NS, Chunk

T0 = 1_793_610_000_000_000_000


@pytest.fixture
def session_id(store: Store, patient_id: int) -> int:
    from monitor.sinks import StoreSink

    return StoreSink.create(store, patient_id=patient_id, kind="walking", started_at_ns=T0).session_id


def test_int16_signal_round_trips_exactly(store: Store, session_id: int) -> None:
    rng = np.random.default_rng(0)
    t_ns = T0 + np.arange(1000) * 5_000_000
    acc = rng.integers(-8000, 8000, (1000, 3)).astype(float)
    store.signals.append(session_id, "acc_mg", "h10", t_ns[:500], acc[:500])
    store.signals.append(session_id, "acc_mg", "h10", t_ns[500:], acc[500:])
    signal = store.signals.read(session_id, "acc_mg")
    np.testing.assert_array_equal(signal.t_ns, t_ns)
    np.testing.assert_array_equal(signal.values, acc)


def test_even_spacing_stores_no_times_and_uneven_keeps_them(store: Store, session_id: int) -> None:
    even = T0 + np.arange(100) * 5_000_000 + np.tile([0, 30_000], 50)  # timer-tick jitter
    uneven = T0 + 10**9 + np.cumsum(np.full(10, 800_000_000) + np.arange(10) * 1_000_000)
    store.signals.append(session_id, "acc_mg", "h10", even, np.zeros((100, 3)))
    store.signals.append(session_id, "rr_ms", "h10", uneven, np.arange(10.0))
    with store.session() as db:
        chunks = {c.signal: c for c in db.scalars(select(SignalChunk))}
    assert chunks["acc_mg"].times is None
    assert chunks["rr_ms"].times is not None
    read_even = store.signals.read(session_id, "acc_mg").t_ns
    assert np.max(np.abs(read_even - even)) <= UNIFORM_TOLERANCE_NS
    np.testing.assert_array_equal(store.signals.read(session_id, "rr_ms").t_ns, uneven)


def test_rr_keeps_the_exact_wire_value(store: Store, session_id: int) -> None:
    rr_ms = np.arange(1, 65536, 97) / 1024 * 1000
    store.signals.append(session_id, "rr_ms", "h10", T0 + np.arange(len(rr_ms)), rr_ms)
    np.testing.assert_array_equal(store.signals.read(session_id, "rr_ms").values[:, 0], rr_ms)


def test_rewriting_a_chunk_does_not_duplicate(store: Store, session_id: int) -> None:
    t_ns = T0 + np.arange(10) * 1_000_000_000
    for _ in range(3):
        store.signals.append(session_id, "hr_bpm", "h10", t_ns, np.column_stack([np.arange(60, 70), np.ones(10)]))
    assert len(store.signals.read(session_id, "hr_bpm")) == 10


def test_time_range_and_device_filters(store: Store, session_id: int) -> None:
    t_ns = T0 + np.arange(20) * 1_000_000_000
    values = np.column_stack([np.arange(20) + 60, np.ones(20)])
    store.signals.append(session_id, "hr_bpm", "h10", t_ns[:10], values[:10])
    store.signals.append(session_id, "hr_bpm", "h10", t_ns[10:], values[10:])
    store.signals.append(session_id, "hr_bpm", "strap", t_ns[:5], values[:5])
    part = store.signals.read(session_id, "hr_bpm", device="h10", t_from_ns=int(t_ns[8]), t_to_ns=int(t_ns[12]))
    assert part.values[:, 0].tolist() == [68, 69, 70, 71, 72]
    assert len(store.signals.read(session_id, "hr_bpm")) == 25


def test_deleting_a_session_removes_its_chunks(store: Store, session_id: int) -> None:
    store.signals.append(session_id, "rr_ms", "h10", [T0], [800.0])
    with store.session() as db:
        db.delete(db.get_one(TrainingSession, session_id))
        db.commit()
        assert db.scalar(select(func.count()).select_from(SignalChunk)) == 0


@pytest.mark.parametrize(
    ("signal", "t_ns", "values", "message"),
    [
        ("acc_mg", [T0], [[40000.0, 0, 0]], "int16 range"),
        ("acc_mg", [T0], [[1.0, 2.0]], "3 channels"),
        ("rr_ms", [T0 + 1, T0], [800.0, 810.0], "must not decrease"),
        ("rr_ms", [], [], "at least one"),
    ],
)
def test_data_that_does_not_fit_is_refused(
    store: Store, session_id: int, signal: str, t_ns: list[int], values: list[Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.signals.append(session_id, signal, "h10", t_ns, values)


def test_a_batch_of_chunks_is_one_write_and_a_retried_batch_adds_nothing(store: Store, session_id: int) -> None:
    t0 = 1_700_000_000_000_000_000
    batch = [
        Chunk(session_id, "acc_mg", "h10", t0 + np.arange(3) * 5_000_000, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        Chunk(session_id, "acc_mg", "h10", t0 + 10**9 + np.arange(2) * 5_000_000, [[0, 0, 1000], [0, 0, 999]]),
        Chunk(session_id, "hr_bpm", "h10", [t0], [[72, 1]]),
    ]
    store.signals.append_many(batch)
    store.signals.append_many(batch)
    store.signals.append_many([])
    acc = store.signals.read(session_id, "acc_mg")
    assert acc.values[:, 2].tolist() == [3, 6, 9, 1000, 999]
    assert store.signals.read(session_id, "hr_bpm").values.tolist() == [[72, 1]]
    with pytest.raises(ValueError, match="3 channels"):
        store.signals.append_many([batch[0], Chunk(session_id, "acc_mg", "h10", [t0 + 5 * 10**9], [[1, 2]])])
    assert len(store.signals.read(session_id, "acc_mg")) == 5  # a bad chunk writes nothing of its batch


def test_decimation_keeps_every_peak_in_at_most_max_points(store: Store, session_id: int) -> None:
    t_ns = T0 + np.arange(1000) * 5_000_000  # 5 s at 200 Hz
    z = np.zeros(1000)
    z[137], z[862] = 1500, -1200  # one-sample spikes a plain subsample would miss
    store.signals.append(session_id, "acc_mg", "h10", t_ns, np.column_stack([z, z, z]))
    chart = store.signals.read_decimated(session_id, "acc_mg", max_points=50, channel=2)
    assert len(chart) == 50
    assert chart.bucket_ns == -(-(999 * 5_000_000 + 1) // 50)  # the span, first to last sample, in 50
    assert (chart.max.max(), chart.min.min()) == (1500, -1200)
    spike_bucket = 137 * 5_000_000 // chart.bucket_ns
    assert chart.t_ns[spike_bucket] == T0 + spike_bucket * chart.bucket_ns
    assert chart.max[spike_bucket] == 1500
    window = store.signals.read_decimated(
        session_id, "acc_mg", max_points=10, channel=2, t_from_ns=T0 + 10**9, t_to_ns=T0 + 2 * 10**9
    )
    assert window.t_ns[0] == T0 + 10**9
    assert len(window) == 10
    assert (window.max.max(), window.min.min()) == (0, 0)  # neither spike is in that second
    with pytest.raises(ValueError, match="max_points"):
        store.signals.read_decimated(session_id, "acc_mg", max_points=0)


def test_retention_removes_old_chunks_and_a_patients_sessions_go_together(store: Store, session_id: int) -> None:
    for k in range(5):
        store.signals.append(session_id, "hr_bpm", "h10", [T0 + k * 10**9], [[60 + k, 1]])
    assert store.signals.apply_retention(older_than_ns=T0 + 2 * 10**9) == 2
    assert store.signals.read(session_id, "hr_bpm").values[:, 0].tolist() == [62, 63, 64]
    store.signals.delete_sessions([session_id, 12345])
    assert len(store.signals.read(session_id, "hr_bpm")) == 0
