from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis import count_steps
from monitor.analysis.online import OnlineCadence, RingBuffer


def test_ring_buffer_keeps_the_last_rows_in_order() -> None:
    ring = RingBuffer(capacity=5, channels=2)
    ring.extend(np.arange(6).reshape(3, 2))
    assert ring.values().tolist() == [[0, 1], [2, 3], [4, 5]]
    ring.extend(np.arange(6, 20).reshape(7, 2))
    assert ring.values()[:, 0].tolist() == [10, 12, 14, 16, 18]
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(capacity=0, channels=1)


def walking_g(seconds: float, *, fs_hz: float, steps_per_s: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    vertical = 1 + 0.3 * np.sin(2 * np.pi * steps_per_s * t)
    return np.column_stack([0.05 * rng.normal(size=len(t)), 0.05 * rng.normal(size=len(t)), vertical])


def test_online_cadence_equals_the_batch_count_of_its_window_and_memory_stays_fixed() -> None:
    rng = np.random.default_rng(3)
    fs_hz = 50.0
    online = OnlineCadence(fs_hz=fs_hz, window_s=60)
    stream = walking_g(2 * 3600, fs_hz=fs_hz, steps_per_s=1.8, rng=rng)  # two hours of walking
    assert online.cadence_spm() is None
    nbytes = online.buffer.nbytes
    for start in range(0, len(stream), 50 * 60 * 10):  # feed ten minutes at a time
        online.update(stream[start : start + 30000])
        window = stream[max(0, start + 30000 - 3000) : start + 30000]
        assert online.cadence_spm() == count_steps(window, fs_hz=fs_hz).count
        assert online.buffer.nbytes == nbytes
    assert online.cadence_spm() == pytest.approx(108, abs=2)  # 1.8 steps/s
