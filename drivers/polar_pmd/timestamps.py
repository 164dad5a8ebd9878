"""Sensor timestamps of PMD samples, and whether the sensor's clock was ever set."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drivers.polar_pmd.constants import H10_UNSET_CLOCK_NS
from drivers.polar_pmd.frames import PmdDataFrame

# A derived sample interval this far from the nominal one means a lost frame or a
# clock reset, not the ±2 % rate error real sensors have.
_MAX_INTERVAL_DEVIATION = 0.25
_NS_PER_MS = 1_000_000
UNSET_CLOCK_WINDOW_NS = 86_400 * 1_000_000_000
"""How long after its 2019-01-01 default an H10 clock is taken to be one that was never set."""


class SampleTimestamps:
    """Per-sample sensor timestamps by the Polar SDK's rule (``PmdTimeStampUtils``).

    First frame: interval = 1e9 / nominal rate, counted back from the frame timestamp.
    Later frames: interval = (ts − previous ts) / n, counted forward from the previous
    frame, so the sensor's real rate (≈ 50.9 Hz for a nominal 50) is followed. Unlike
    the SDK, a derived interval more than 25 % above the nominal one (a lost frame) or
    not positive (a clock reset) falls back to the first-frame rule instead of smearing
    samples over the gap; a short one is kept, so samples never go back before the
    previous frame while the clock runs on. State is kept per (measurement, frame type); call :meth:`reset` on stop
    or disconnect. PPI frames have their own rule: :func:`ppi_sample_times_ns`.
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
            if 0 < interval_ns <= (1 + _MAX_INTERVAL_DEVIATION) * nominal_ns:
                return previous + np.rint(interval_ns * (steps + 1)).astype(np.int64)
        return frame.timestamp_ns - np.rint(nominal_ns * (n - 1 - steps)).astype(np.int64)


def ppi_sample_times_ns(frame: PmdDataFrame) -> npt.NDArray[np.int64] | None:
    """Sensor-clock time of each beat of a PPI frame, ns since 2000-01-01; None if it has none.

    Polar's rule (``PpiData.kt``): the last sample gets the frame timestamp, and each
    earlier one the time of the sample after it minus that later sample's pp interval.
    PPI samples have no sampling time of their own, and a device may send a frame
    timestamp of 0 ("the sample time is either zero or missing", ``TimeSystemExplained.md``);
    then this returns None and the caller should fall back to the host's receive time.
    """
    if frame.measurement != "ppi":
        raise ValueError(f"a {frame.measurement} frame has no PPI samples")
    if frame.timestamp_ns == 0:
        return None
    pp_ns = frame.samples["pp_ms"].astype(np.int64) * _NS_PER_MS
    later_pp_ns = np.cumsum(pp_ns[::-1])[::-1] - pp_ns  # the pp of every later sample, summed
    return frame.timestamp_ns - later_pp_ns


def clock_was_set(timestamp_ns: int) -> bool:
    """False if a sensor timestamp (ns since 2000-01-01) shows a clock that was never set.

    An H10 whose time was never set restarts at 2019-01-01T00:00:00Z
    (:data:`H10_UNSET_CLOCK_NS`) whenever it powers up, and it powers down about a minute
    after it leaves the strap unconnected (``TimeSystemExplained.md``), so such a clock
    reads within hours of that default. Rule: a time earlier than one day
    (:data:`UNSET_CLOCK_WINDOW_NS`) after the default was never set. Earlier times cannot
    be a set clock either: 0 is "no time" (PPI), and the Verity Sense and OH1 default
    to 2017-01-01T10:00:00Z. An unset H10 kept powered for over a day, or an unset
    Verity Sense that has run for two years, would pass as set.
    """
    return timestamp_ns >= H10_UNSET_CLOCK_NS + UNSET_CLOCK_WINDOW_NS
