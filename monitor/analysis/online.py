"""Live previews: the batch functions over the last stretch of a stream, in bounded memory.

A live view needs a value every second, not the session's authoritative result. Each
processor here keeps either running totals (heart rate, ENMO) or only the last window of
samples in a fixed-size ring buffer (cadence, sets), and runs the same rules as the batch
function, so a preview equals the batch analysis of what it saw and memory does not grow
with the session. The live HRV and α1 are :class:`monitor.analysis.dfa.OnlineHrv`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.analysis.acceleration import vector_magnitude_g
from monitor.analysis.heart_rate import HR_MAX_BPM, HR_MIN_BPM, HRR_ZONES
from monitor.analysis.reps import ExerciseSet, segment_sets
from monitor.analysis.steps import count_steps


class RingBuffer:
    """The last ``capacity`` rows of a stream of shape (n, channels), in order."""

    def __init__(self, *, capacity: int, channels: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._data = np.zeros((capacity, channels))
        self._size = 0
        self._next = 0

    def extend(self, rows: npt.ArrayLike) -> None:
        values = np.asarray(rows, dtype=np.float64).reshape(-1, self._data.shape[1])
        capacity = len(self._data)
        values = values[-capacity:]
        positions = (self._next + np.arange(len(values))) % capacity
        self._data[positions] = values
        self._next = (self._next + len(values)) % capacity
        self._size = min(capacity, self._size + len(values))

    def values(self) -> npt.NDArray[np.float64]:
        """A copy, oldest row first."""
        if self._size < len(self._data):
            return self._data[: self._size].copy()
        return np.roll(self._data, -self._next, axis=0)

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return self._data.nbytes


class OnlineCadence:
    """Steps per minute over the last ``window_s`` of acceleration, for the live view."""

    def __init__(self, *, fs_hz: float, window_s: float = 60.0) -> None:
        self.fs_hz = fs_hz
        self.window_s = window_s
        self.buffer = RingBuffer(capacity=round(window_s * fs_hz), channels=3)

    def update(self, acc_g: npt.ArrayLike) -> None:
        self.buffer.extend(acc_g)

    def cadence_spm(self) -> float | None:
        """None until a whole window has been seen."""
        if len(self.buffer) < round(self.window_s * self.fs_hz):
            return None
        steps = count_steps(self.buffer.values(), fs_hz=self.fs_hz)
        return steps.count * 60.0 / self.window_s


@dataclass(frozen=True, slots=True)
class HeartRateSecond:
    t_s: int
    """The second ``[t_s, t_s + 1)``, on the time base of the readings."""
    hr_bpm: float
    """NaN when no valid reading is recent enough (as :func:`resample_hr_1hz`)."""
    zone: str | None
    """ACSM %HRR zone (:data:`HRR_ZONES`), None without a heart rate."""
    above_ceiling: bool


class OnlineHeartRate:
    """Heart rate each whole second, its zone, and running time per zone and above the ceiling.

    Seconds and totals equal :func:`resample_hr_1hz`, :func:`time_in_zones_s` and
    :func:`time_above_s` on the readings so far; only the latest valid reading is kept.
    """

    def __init__(
        self, *, hr_rest_bpm: float, hr_max_bpm: float, ceiling_bpm: float | None = None, max_hold_s: float = 3.0
    ) -> None:
        self.hr_rest_bpm = hr_rest_bpm
        self.hr_max_bpm = hr_max_bpm
        self.ceiling_bpm = ceiling_bpm
        self.max_hold_s = max_hold_s
        self.time_in_zones_s = {name: 0.0 for name, _ in HRR_ZONES}
        self.time_above_s = 0.0
        self._next_second: int | None = None
        self._last: tuple[float, float] | None = None

    def add(self, *, t_s: float, hr_bpm: float, sensor_contact: int = -1) -> list[HeartRateSecond]:
        """One reading, in time order; returns the seconds that end at or before it."""
        done = self.advance(t_s)
        if HR_MIN_BPM <= hr_bpm <= HR_MAX_BPM and sensor_contact != 0:
            self._last = (t_s, hr_bpm)
        return done

    def advance(self, t_s: float) -> list[HeartRateSecond]:
        """The seconds that end at or before ``t_s``, also when the strap has gone quiet."""
        if self._next_second is None:
            self._next_second = math.floor(t_s)
        done = []
        while self._next_second + 1 <= t_s:
            done.append(self._second(self._next_second))
            self._next_second += 1
        return done

    def _second(self, second: int) -> HeartRateSecond:
        hr = math.nan
        if self._last is not None and second + 1 - self._last[0] <= self.max_hold_s + 1.0:
            hr = self._last[1]
        if math.isnan(hr):
            return HeartRateSecond(second, hr, None, False)
        fraction = (hr - self.hr_rest_bpm) / (self.hr_max_bpm - self.hr_rest_bpm)
        zone = next((name for name, bound in reversed(HRR_ZONES) if fraction >= bound), HRR_ZONES[0][0])
        self.time_in_zones_s[zone] += 1
        above = self.ceiling_bpm is not None and hr > self.ceiling_bpm
        self.time_above_s += above
        return HeartRateSecond(second, hr, zone, above)


class OnlineEnmo:
    """ENMO (mg) of each whole epoch as it completes, equal to :func:`enmo_epochs`; O(1) memory."""

    def __init__(self, *, fs_hz: float, epoch_s: float = 5.0) -> None:
        self.per_epoch = round(epoch_s * fs_hz)
        self.epoch_s = epoch_s
        self._sum_mg = 0.0
        self._count = 0

    def update(self, acc_g: npt.ArrayLike) -> list[float]:
        excess_mg = np.maximum(vector_magnitude_g(acc_g) - 1.0, 0.0) * 1000.0
        done = []
        while len(excess_mg):
            take = excess_mg[: self.per_epoch - self._count]
            self._sum_mg += float(take.sum())
            self._count += len(take)
            excess_mg = excess_mg[len(take) :]
            if self._count == self.per_epoch:
                done.append(self._sum_mg / self.per_epoch)
                self._sum_mg, self._count = 0.0, 0
        return done


class OnlineSets:
    """The latest exercise set (and its repetitions) within the last ``window_s`` of acceleration.

    Equals :func:`segment_sets` on that window, times from the window's first sample.
    """

    def __init__(self, *, fs_hz: float, window_s: float = 120.0) -> None:
        self.fs_hz = fs_hz
        self.buffer = RingBuffer(capacity=round(window_s * fs_hz), channels=3)

    def update(self, acc_g: npt.ArrayLike) -> None:
        self.buffer.extend(acc_g)

    def latest_set(self) -> ExerciseSet | None:
        sets = segment_sets(self.buffer.values(), fs_hz=self.fs_hz)
        return sets[-1] if sets else None
