from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.analysis import count_steps
from monitor.analysis.heart_rate import resample_hr_1hz, time_above_s, time_in_zones_s
from monitor.analysis.intensity import enmo_epochs
from monitor.analysis.online import OnlineCadence, OnlineEnmo, OnlineHeartRate, OnlineSets, RingBuffer
from monitor.analysis.reps import segment_sets
from monitor.recordings import load_spar_sets


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


def test_online_heart_rate_equals_the_batch_seconds_zones_and_time_above() -> None:
    rng = np.random.default_rng(5)
    t_s = np.cumsum(rng.uniform(0.8, 1.2, 7200)) + 0.3  # two hours at about one reading a second
    hr = 60 + 90 * (0.5 + 0.5 * np.sin(t_s / 600)) + rng.normal(0, 3, len(t_s))
    hr[rng.choice(len(hr), 50, replace=False)] = 0  # invalid readings
    contact = np.where(rng.random(len(hr)) < 0.02, 0, 1)
    t_s[3000:] += 20  # the strap goes quiet for 20 s
    online = OnlineHeartRate(hr_rest_bpm=60, hr_max_bpm=185, ceiling_bpm=130)
    seconds = []
    for t, bpm, touching in zip(t_s, hr, contact, strict=True):
        seconds += online.add(t_s=float(t), hr_bpm=float(bpm), sensor_contact=int(touching))
    grid, batch = resample_hr_1hz(t_s=t_s, hr_bpm=hr, sensor_contact=contact)
    done = len(seconds)
    assert done == len(grid) - 1  # the second of the last reading is still open
    assert [s.t_s for s in seconds] == grid[:done].tolist()
    assert np.array_equal(np.array([s.hr_bpm for s in seconds]), batch[:done], equal_nan=True)
    assert sum(np.isnan(s.hr_bpm) for s in seconds) >= 15  # the quiet stretch is a gap
    assert online.time_in_zones_s == time_in_zones_s(batch[:done], hr_rest_bpm=60, hr_max_bpm=185)
    assert online.time_above_s == time_above_s(batch[:done], ceiling_bpm=130) > 0
    assert {s.zone for s in seconds} >= {"light", "moderate", "vigorous", None}
    # A strap that stops sending still moves the clock on, with gaps.
    quiet = online.advance(float(t_s[-1]) + 10)
    assert [np.isnan(s.hr_bpm) for s in quiet][-5:] == [True] * 5


def test_online_enmo_equals_the_batch_epochs_fed_in_any_pieces() -> None:
    rng = np.random.default_rng(9)
    fs_hz = 50.0
    stream = walking_g(600, fs_hz=fs_hz, steps_per_s=1.8, rng=rng)
    online = OnlineEnmo(fs_hz=fs_hz)
    values: list[float] = []
    start = 0
    while start < len(stream):
        size = int(rng.integers(1, 700))
        values += online.update(stream[start : start + size])
        start += size
    assert values == pytest.approx(enmo_epochs(stream, fs_hz=fs_hz).value_mg.tolist(), rel=1e-12)


def test_online_sets_equal_the_batch_sets_of_their_window(recordings: Path) -> None:
    fs_hz = 50.0
    sets = load_spar_sets(recordings, ["set003_S1_TRAP_R", "set007_S1_ABD_L"])
    rest = np.tile([0.0, 0.0, 1.0], (round(30 * fs_hz), 1))
    stream = np.concatenate([rest, sets[0].acc_g, rest, sets[1].acc_g, rest[:200]])
    online = OnlineSets(fs_hz=fs_hz, window_s=120)
    nbytes = online.buffer.nbytes
    step = round(10 * fs_hz)
    latest = []
    for start in range(0, len(stream), step):
        online.update(stream[start : start + step])
        end = min(start + step, len(stream))
        window = stream[max(0, end - round(120 * fs_hz)) : end]
        expected = segment_sets(window, fs_hz=fs_hz)
        found = online.latest_set()
        assert (found is None) == (not expected)
        if found is not None:
            assert found.reps.count == expected[-1].reps.count
            assert found.start_s == expected[-1].start_s
            latest.append(found.reps.count)
        assert online.buffer.nbytes == nbytes
    assert abs(latest[-1] - sets[1].reps) <= 2
