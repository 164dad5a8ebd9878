"""Per-sample sensor timestamps for PMD data frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drivers.polar_pmd.frames import PmdDataFrame

# A derived sample interval this far from the nominal one means a lost frame or a
# clock reset, not the ±2 % rate error real sensors have.
_MAX_INTERVAL_DEVIATION = 0.25


class SampleTimestamps:
    """Per-sample sensor timestamps by the Polar SDK's rule (``PmdTimeStampUtils``).

    First frame: interval = 1e9 / nominal rate, counted back from the frame timestamp.
    Later frames: interval = (ts − previous ts) / n, counted forward from the previous
    frame, so the sensor's real rate (≈ 50.9 Hz for a nominal 50) is followed. Unlike
    the SDK, a derived interval more than 25 % off the nominal one (a lost frame, a
    clock reset) falls back to the first-frame rule instead of smearing samples over
    the gap. State is kept per (measurement, frame type); call :meth:`reset` on stop
    or disconnect.
    """

    def __init__(self) -> None:
        self._previous_ns: dict[tuple[str, int], int] = {}

    def reset(self) -> None:
        self._previous_ns.clear()

    def sample_times_ns(self, frame: PmdDataFrame, *, nominal_rate_hz: float) -> npt.NDArray[np.int64]:
        """Sensor-clock time of each sample of ``frame``, ns since 2000-01-01."""
        n = len(frame.samples)
        key = (frame.measurement, frame.frame_type)
        nominal_ns = 1e9 / nominal_rate_hz
        previous = self._previous_ns.get(key)
        self._previous_ns[key] = frame.timestamp_ns
        steps = np.arange(n, dtype=np.float64)
        if previous is not None:
            interval_ns = (frame.timestamp_ns - previous) / n
            if abs(interval_ns - nominal_ns) <= _MAX_INTERVAL_DEVIATION * nominal_ns:
                return previous + np.rint(interval_ns * (steps + 1)).astype(np.int64)
        return frame.timestamp_ns - np.rint(nominal_ns * (n - 1 - steps)).astype(np.int64)
