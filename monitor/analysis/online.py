"""Live previews: the batch functions over the last stretch of a stream, in bounded memory.

A live view needs a value every second, not the session's authoritative result. Each
processor here keeps only the last window of samples in a fixed-size ring buffer and
runs the same batch function on it, so a preview equals the batch analysis of the
window it saw and memory does not grow with the session.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

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
