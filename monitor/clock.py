"""Mapping a sensor's clock onto the host's wall clock."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt


class ClockAlignment:
    """Wall time for sensor timestamps, from (sensor time, host receive time) pairs.

    A notification reaches the host some latency after the sensor stamped its last
    sample, and that latency is never negative, so the smallest ``host − sensor`` of a
    stretch of time is the best estimate of the clock offset then: the pair with the
    least queueing in the radio and the host. Sensor crystals drift (an H10 and a
    Verity Sense drift apart by about 1.8 s a day, polar-ble-sdk#674), so the offset is
    not one number: the alignment keeps the least-delayed pair of every ``window_s`` of
    sensor time, and once it has three fits a line through the last ``max_windows`` of
    them. A pair that disagrees with the line by more than ``reset_threshold_s`` means
    the sensor clock jumped (a reboot resets an H10 to 2019) and starts the history
    anew. Memory is bounded by ``max_windows``.
    """

    def __init__(self, *, window_s: float = 30.0, max_windows: int = 40, reset_threshold_s: float = 1.0) -> None:
        self._window_ns = int(window_s * 1e9)
        self._reset_threshold_ns = reset_threshold_s * 1e9
        self._minima: deque[tuple[int, int]] = deque(maxlen=max_windows)
        """(sensor ns, offset ns) of the least-delayed pair of each finished window."""
        self._current: tuple[int, int, int] | None = None
        """(window index, sensor ns, offset ns) of the window being filled."""
        self._line: tuple[int, float, float] | None = None
        """(origin sensor ns, offset ns at the origin, slope): the fit, until a pair changes it."""

    def observe(self, *, t_sensor_ns: int, t_host_ns: int) -> None:
        """Record that a sample stamped ``t_sensor_ns`` had arrived by ``t_host_ns``."""
        offset = t_host_ns - t_sensor_ns
        if self._current is not None and abs(offset - self._offset_at(t_sensor_ns)) > self._reset_threshold_ns:
            self._minima.clear()
            self._current = None
        window = t_sensor_ns // self._window_ns
        if self._current is None or window != self._current[0]:
            if self._current is not None:
                self._minima.append(self._current[1:])
            self._current = (window, t_sensor_ns, offset)
            self._line = None
        elif offset < self._current[2]:
            self._current = (window, t_sensor_ns, offset)
            self._line = None

    def to_wall_ns(self, t_sensor_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
        times = np.asarray(t_sensor_ns, dtype=np.int64)
        if self._current is None:
            raise RuntimeError("no (sensor, host) time pair observed yet")
        return times + np.rint(self._offset_at(times)).astype(np.int64)

    def _offset_at(self, t_sensor_ns: npt.ArrayLike) -> npt.NDArray[np.float64]:
        if self._line is None:
            self._line = self._fit()
        origin, offset_at_origin, slope = self._line
        at_s = (np.asarray(t_sensor_ns, dtype=np.int64) - origin) / 1e9
        offset: npt.NDArray[np.float64] = offset_at_origin + slope * at_s
        return offset

    def _fit(self) -> tuple[int, float, float]:
        assert self._current is not None
        points = [*self._minima, self._current[1:]]
        origin = points[0][0]
        offsets = np.array([offset for _, offset in points], dtype=np.int64)
        base = int(offsets.min())
        if len(points) < 3:
            return origin, float(base), 0.0
        # Relative to the first point and the smallest offset, so float64 keeps ns resolution.
        x_s = np.array([sensor - origin for sensor, _ in points], dtype=np.float64) / 1e9
        slope, intercept = np.polyfit(x_s, (offsets - base).astype(np.float64), 1)
        return origin, base + float(intercept), float(slope)


class BeatClock:
    """Wall time for the beats of Heart Rate Measurement notifications.

    A notification carries RR intervals but no times. Stamping beats back from its
    receive time (last beat = receive time, each earlier one an RR before the next;
    what bleakheart does) makes them late by the latency plus however long before the
    notification the last beat fell, up to a second, and can even reorder beats.
    Chaining beats by their RR intervals is exact from beat to beat but knows no
    absolute time. Both are upper bounds on the true time, so each beat takes the
    smaller, which tightens as notifications arrive with beats just before them.

    A beat reported in one notification happened after the previous notification was
    sent, so no earlier than the previous receive time minus ``max_latency_ms``. A chain
    that falls before that bound has lost beats (lost contact), and so has one across a
    silence longer than ``max_interval_ms`` (a dropped notification; straps notify about
    once a second): the chain then restarts from the receive time. Call this for every
    notification, with or without RR intervals, so the bounds stay current.
    """

    def __init__(self, *, max_latency_ms: float = 150.0, max_interval_ms: float = 1500.0) -> None:
        self._max_latency_ns = max_latency_ms * 1e6
        self._max_interval_ns = max_interval_ms * 1e6
        self._last_beat_ns: float | None = None
        self._last_host_ns: int | None = None

    def beat_times_ns(self, *, t_host_ns: int, rr_ms: npt.ArrayLike) -> npt.NDArray[np.int64]:
        rr_ns = np.asarray(rr_ms, dtype=np.float64) * 1e6
        last_host_ns, self._last_host_ns = self._last_host_ns, t_host_ns
        lost = last_host_ns is None or t_host_ns - last_host_ns > self._max_interval_ns
        earliest = None if lost or last_host_ns is None else last_host_ns - self._max_latency_ns
        if len(rr_ns) == 0:
            return np.empty(0, dtype=np.int64)
        # Receive-time bound of each beat: the last at t_host, earlier ones back by RR.
        upper_bounds = t_host_ns - np.concatenate([np.cumsum(rr_ns[::-1])[::-1][1:], [0.0]])
        times = np.empty(len(rr_ns))
        previous = self._last_beat_ns
        for i, (rr, upper) in enumerate(zip(rr_ns, upper_bounds, strict=True)):
            chained = None if previous is None else previous + rr
            chain_broken = chained is None or earliest is None or chained < earliest
            beat = upper if chained is None or chain_broken else min(chained, upper)
            if previous is not None:
                # Keep beats in order even when an earlier bound was loose.
                beat = max(beat, previous + 1e6)
            times[i] = previous = beat
        self._last_beat_ns = previous
        return np.rint(times).astype(np.int64)
