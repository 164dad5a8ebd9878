from __future__ import annotations

import numpy as np
import pytest

from monitor.clock import BeatClock, ClockAlignment

SENSOR_EPOCH_NS = 1_546_300_835_000_000_000  # an H10 with its clock unset: 2019
WALL_EPOCH_NS = 1_793_610_000_000_000_000


def latencies_ns(rng: np.random.Generator, n: int) -> np.ndarray:
    return (8e6 + rng.exponential(12e6, n)).astype(np.int64)


def test_offset_converges_on_the_least_delayed_notification() -> None:
    rng = np.random.default_rng(1)
    clock = ClockAlignment()
    frame_s = np.arange(1, 200) * 0.18
    for t_s, latency in zip(frame_s, latencies_ns(rng, len(frame_s)), strict=True):
        clock.observe(t_sensor_ns=SENSOR_EPOCH_NS + int(t_s * 1e9), t_host_ns=WALL_EPOCH_NS + int(t_s * 1e9) + latency)
    wall = clock.to_wall_ns(np.array([SENSOR_EPOCH_NS + 5_000_000_000]))
    error_ms = (wall[0] - (WALL_EPOCH_NS + 5_000_000_000)) / 1e6
    assert 8 <= error_ms < 9  # the latency floor is all that remains


def test_unaligned_clock_refuses_to_guess() -> None:
    with pytest.raises(RuntimeError, match="no"):
        ClockAlignment().to_wall_ns(np.array([0]))


def simulate_beats(
    rr_ms: np.ndarray, *, drop: frozenset[int] = frozenset(), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """True beat times and the times a BeatClock gives them, from 1 Hz notifications."""
    rng = np.random.default_rng(seed)
    beat_ns = WALL_EPOCH_NS + np.cumsum(rr_ms * 1e6).astype(np.int64)
    clock = BeatClock()
    estimated, truth = [], []
    for second in range(1, int((beat_ns[-1] - WALL_EPOCH_NS) / 1e9) + 1):
        sent_ns = WALL_EPOCH_NS + second * 1_000_000_000
        in_second = (beat_ns > sent_ns - 1_000_000_000) & (beat_ns <= sent_ns)
        if second in drop:
            continue
        host_ns = sent_ns + latencies_ns(rng, 1)[0]
        estimated.append(clock.beat_times_ns(t_host_ns=int(host_ns), rr_ms=rr_ms[in_second]))
        truth.append(beat_ns[in_second])
    return np.concatenate(truth), np.concatenate(estimated)


def test_beats_are_in_order_and_close_to_the_truth() -> None:
    rng = np.random.default_rng(5)
    rr_ms = 600 + 150 * np.sin(np.arange(600) / 30) + rng.normal(0, 20, 600)
    truth, estimated = simulate_beats(rr_ms)
    assert np.all(np.diff(estimated) > 0)
    error_ms = (estimated - truth) / 1e6
    assert error_ms.min() >= 0  # every estimate is an upper bound
    # Receive-time stamping alone is late by the latency plus up to a second; once a
    # notification has come soon after a beat, chaining is within ~the latency floor.
    assert np.median(error_ms[truth > WALL_EPOCH_NS + 10e9]) < 20
    assert error_ms.max() < 1200


def test_lost_notifications_restart_the_chain() -> None:
    rr_ms = np.full(300, 800.0)
    truth, estimated = simulate_beats(rr_ms, drop=frozenset({50, 51, 120}))
    assert len(estimated) < len(rr_ms) - 3
    assert np.all(np.diff(estimated) > 0)
    error_ms = (estimated - truth) / 1e6
    assert error_ms.min() >= 0  # a chain carried across the gap would put beats too early
    assert np.median(error_ms) < 20


def test_a_notification_without_beats_gives_none_but_counts_as_heard() -> None:
    clock = BeatClock()
    clock.beat_times_ns(t_host_ns=WALL_EPOCH_NS, rr_ms=[1200.0])
    assert len(clock.beat_times_ns(t_host_ns=WALL_EPOCH_NS + 1_000_000_000, rr_ms=[])) == 0
    # Heard a second ago, so the chain holds: 1.3 s after the first beat, not at receive time.
    beat = clock.beat_times_ns(t_host_ns=WALL_EPOCH_NS + 2_000_000_000, rr_ms=[1300.0])
    assert beat.tolist() == [WALL_EPOCH_NS + 1_300_000_000]


def simulate_device(
    clock: ClockAlignment,
    *,
    drift_ppm: float,
    frame_s: float,
    until_s: float,
    rng: np.random.Generator,
    t_from_s: float,
) -> None:
    """Feed a clock the frames a drifting sensor sends between t_from_s and until_s of true time."""
    true_s = np.arange(t_from_s, until_s, frame_s)
    sensor_ns = SENSOR_EPOCH_NS + (true_s * (1 + drift_ppm * 1e-6) * 1e9).astype(np.int64)
    host_ns = WALL_EPOCH_NS + (true_s * 1e9).astype(np.int64) + latencies_ns(rng, len(true_s))
    for sensor, host in zip(sensor_ns, host_ns, strict=True):
        clock.observe(t_sensor_ns=int(sensor), t_host_ns=int(host))


def test_two_drifting_sensors_stay_on_one_time_axis_for_an_hour() -> None:
    # ±40 ppm puts the sensor clocks 290 ms apart after an hour; the alignment must
    # keep simultaneous samples of both within 50 ms of each other, all the way.
    rng = np.random.default_rng(11)
    drifts_ppm = {"h10": 40.0, "verity": -40.0}
    frame_s = {"h10": 0.18, "verity": 0.7}
    clocks = {name: ClockAlignment() for name in drifts_ppm}
    worst_ms = 0.0
    for minute in range(60):
        for name, clock in clocks.items():
            simulate_device(
                clock,
                drift_ppm=drifts_ppm[name],
                frame_s=frame_s[name],
                until_s=(minute + 1) * 60.0,
                rng=rng,
                t_from_s=minute * 60.0,
            )
        true_s = (minute + 1) * 60.0
        wall = {
            name: int(
                clock.to_wall_ns(np.array([SENSOR_EPOCH_NS + int(true_s * (1 + drifts_ppm[name] * 1e-6) * 1e9)]))[0]
            )
            for name, clock in clocks.items()
        }
        worst_ms = max(worst_ms, abs(wall["h10"] - wall["verity"]) / 1e6)
        for name in clocks:
            assert 0 <= (wall[name] - WALL_EPOCH_NS) / 1e6 - true_s * 1e3 < 30
    assert worst_ms < 50


def test_a_sensor_clock_reset_starts_the_alignment_anew() -> None:
    clock = ClockAlignment()
    for i in range(400):
        clock.observe(
            t_sensor_ns=SENSOR_EPOCH_NS + i * 500_000_000, t_host_ns=WALL_EPOCH_NS + i * 500_000_000 + 9_000_000
        )
    # The strap rebooted: its clock is back at 2019-01-01 plus a few seconds.
    rebooted_ns = SENSOR_EPOCH_NS - 3_600 * 10**9
    clock.observe(t_sensor_ns=rebooted_ns, t_host_ns=WALL_EPOCH_NS + 201 * 10**9)
    assert clock.to_wall_ns(np.array([rebooted_ns]))[0] == WALL_EPOCH_NS + 201 * 10**9
