"""What a virtual wearable sends, and when: a recorded timeline paced by the asyncio clock.

A :class:`Replay` is a list of notifications with times relative to its first one, taken
from a capture file (``monitor.capture``) or given explicitly. A :class:`SensorClock`
turns *scenario time* (seconds since the virtual device powered on, run ``speed`` times
faster than the loop's clock) into what the device's own clock reads: one whose time was
never set counts from a fixed date at power-on (2019-01-01 for an H10), optionally
drifting by some ppm.

PMD data frames carry a sensor timestamp (the last sample's). Replayed frames keep the
capture's spacing between those timestamps, which encodes the real sensor's rate, but are
re-stamped onto the virtual device's clock: a capture sensor time ``s`` maps to scenario
time ``origin + s + offset``, where ``offset`` is the smallest (receive time − sensor time)
in the capture, so no frame is stamped after the moment it is sent.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_DATA_UUID
from monitor.capture import CaptureReader, CaptureRecord, PmdStreamSettings

_NS_PER_S = 1_000_000_000
_TIMESTAMP = struct.Struct("<Q")
_TIMESTAMP_OFFSET = 1
_PMD_HEADER_SIZE = 10
# Characteristics a replay plays; everything else in a capture (control point responses)
# is generated live by the virtual device.
_DATA_CHARACTERISTICS = (HEART_RATE_MEASUREMENT_UUID, PMD_DATA_UUID)

AtEnd = Literal["loop", "stop"]


@dataclass(frozen=True, slots=True)
class ReplayItem:
    t_ns: int
    """Scenario time; a :class:`Replay` counts it from its first item."""
    characteristic: str
    payload: bytes


def pmd_timestamp_ns(payload: bytes) -> int | None:
    """The sensor timestamp of a PMD data frame, None if it is too short to carry one."""
    if len(payload) < _PMD_HEADER_SIZE:
        return None
    value: int = _TIMESTAMP.unpack_from(payload, _TIMESTAMP_OFFSET)[0]
    return value


def with_pmd_timestamp(payload: bytes, timestamp_ns: int) -> bytes:
    return payload[:_TIMESTAMP_OFFSET] + _TIMESTAMP.pack(timestamp_ns) + payload[_TIMESTAMP_OFFSET + _TIMESTAMP.size :]


class Replay:
    """A timeline of notifications, and the PMD stream settings its frames were made with."""

    def __init__(
        self, items: Iterable[ReplayItem], *, acc: PmdStreamSettings | None = None, loop_gap_s: float = 1.0
    ) -> None:
        ordered = sorted(items, key=lambda item: item.t_ns)
        if not ordered:
            raise ValueError("a replay needs at least one notification")
        start_ns = ordered[0].t_ns
        self.items = tuple(ReplayItem(item.t_ns - start_ns, item.characteristic, item.payload) for item in ordered)
        self.acc = acc
        self.period_ns = self.items[-1].t_ns + round(loop_gap_s * _NS_PER_S)
        """Scenario time from one pass's start to the next one's when looping."""
        offsets = [
            item.t_ns - timestamp
            for item in self.items
            # PPI frames may carry timestamp 0, meaning none.
            if item.characteristic == PMD_DATA_UUID and (timestamp := pmd_timestamp_ns(item.payload))
        ]
        self._sensor_offset_ns = min(offsets, default=0)

    @classmethod
    def from_items(cls, items: Iterable[tuple[float, str, bytes]], *, acc: PmdStreamSettings | None = None) -> Replay:
        """Explicit ``(t_s, characteristic UUID, payload)`` notifications, t_s from any origin."""
        return cls((ReplayItem(round(t_s * _NS_PER_S), c.lower(), bytes(p)) for t_s, c, p in items), acc=acc)

    @classmethod
    def heart_rate(cls, items: Iterable[tuple[float, bytes]]) -> Replay:
        """Explicit ``(t_s, Heart Rate Measurement payload)`` notifications."""
        return cls.from_items((t_s, HEART_RATE_MEASUREMENT_UUID, payload) for t_s, payload in items)

    @classmethod
    def from_capture(cls, path: str | Path, *, device: str | None = None) -> Replay:
        """The heart-rate and PMD data notifications of one device (default: the first) of a capture."""
        with CaptureReader(path) as reader:
            header = reader.header
            devices = {d.id: d for d in header.devices}
            if device is not None and device not in devices:
                raise ValueError(f"{path}: no device {device!r}; the capture has {sorted(devices)}")
            chosen = header.devices[0] if device is None else devices[device]
            records = [
                record
                for record in reader.records()
                if isinstance(record, CaptureRecord)
                and record.device == chosen.id
                and record.characteristic in _DATA_CHARACTERISTICS
            ]
        if not records:
            raise ValueError(f"{path}: device {chosen.id!r} has no heart-rate or PMD data notifications")
        return cls((ReplayItem(r.t_ns, r.characteristic, r.payload) for r in records), acc=chosen.acc)

    def sensor_scenario_ns(self, sensor_ns: int, origin_ns: int) -> int:
        """Scenario time of a capture sensor timestamp, for a pass that started at ``origin_ns``."""
        return origin_ns + sensor_ns + self._sensor_offset_ns

    def measurements(self) -> frozenset[int]:
        """The PMD measurement type codes among the replay's data frames."""
        return frozenset(
            item.payload[0] & 0x3F for item in self.items if item.characteristic == PMD_DATA_UUID and item.payload
        )


class SensorClock:
    """A virtual device's clock: scenario time since power-on, as its sensor reads it.

    ``drift_ppm`` > 0 runs the sensor clock fast against the host; it may change at any
    time without making the clock jump.
    """

    def __init__(self, *, speed: float, drift_ppm: float, epoch_ns: int) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.speed = speed
        self._drift_ppm = drift_ppm
        self._power_on_s = asyncio.get_running_loop().time()
        # The sensor reading at the scenario time the drift last changed.
        self._anchor_scenario_ns = 0
        self._anchor_sensor_ns = epoch_ns

    def scenario_now_ns(self) -> int:
        return round((asyncio.get_running_loop().time() - self._power_on_s) * self.speed * _NS_PER_S)

    def loop_time_at(self, scenario_ns: int) -> float:
        return self._power_on_s + scenario_ns / _NS_PER_S / self.speed

    def sensor_ns(self, scenario_ns: int) -> int:
        elapsed_ns = scenario_ns - self._anchor_scenario_ns
        return self._anchor_sensor_ns + round(elapsed_ns * (1 + self._drift_ppm * 1e-6))

    @property
    def drift_ppm(self) -> float:
        return self._drift_ppm

    @drift_ppm.setter
    def drift_ppm(self, value: float) -> None:
        now_ns = self.scenario_now_ns()
        self._anchor_sensor_ns = self.sensor_ns(now_ns)
        self._anchor_scenario_ns = now_ns
        self._drift_ppm = value


Deliver = Callable[[ReplayItem, int], Awaitable[None]]


async def play(replay: Replay, clock: SensorClock, deliver: Deliver, *, at_end: AtEnd) -> None:
    """Deliver each item at its scenario time, from now on; ``deliver`` gets the pass's origin.

    Absolute deadlines keep a long replay from drifting; an item already late is delivered
    at once, as a real device empties its queue after a stall.
    """
    loop = asyncio.get_running_loop()
    origin_ns = clock.scenario_now_ns()
    while True:
        for item in replay.items:
            delay_s = clock.loop_time_at(origin_ns + item.t_ns) - loop.time()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            await deliver(item, origin_ns)
        if at_end == "stop":
            return
        origin_ns += replay.period_ns
