"""Typed readings: what a wearable's notifications become, live or replayed.

``NotificationDecoder`` is the one place that turns a (time, characteristic, payload)
notification into a reading, so a live bleak driver and a capture replay share it.
Times are as the host and the sensor saw them; mapping sensor clocks onto wall time
is the session's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from drivers.errors import MalformedPayload
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, POLAR_EPOCH_UNIX_NS, SampleTimestamps, decode_frame


@dataclass(frozen=True, slots=True)
class HeartRateReading:
    """A Heart Rate Measurement as received; it carries no sensor time of its own."""

    device: str
    t_host_ns: int
    bpm: int
    rr_ms: tuple[float, ...]
    sensor_contact: bool | None


@dataclass(frozen=True, slots=True)
class AccelerationBatch:
    """Accelerometer samples from one PMD frame.

    ``t_sensor_ns`` is the sensor clock per sample, converted to the Unix epoch but not
    yet aligned to the host clock (an H10 whose time was never set says 2019).
    """

    device: str
    t_host_ns: int
    t_sensor_ns: npt.NDArray[np.int64] = field(repr=False)
    acc_mg: npt.NDArray[np.float64] = field(repr=False)


Reading = HeartRateReading | AccelerationBatch


@dataclass(frozen=True, slots=True)
class PmdStream:
    """Settings a PMD stream was started with; the frames alone do not carry them."""

    sample_rate_hz: float
    resolution_bits: int = 16
    range_g: int | None = None
    factor: float = 1.0


class NotificationDecoder:
    """Turns one device's notifications into readings.

    ``decode`` raises :class:`MalformedPayload` for a payload that cannot be parsed and
    returns None for a characteristic no reading comes from (control point traffic).
    """

    def __init__(self, device: str, *, acc: PmdStream | None = None) -> None:
        self.device = device
        self.acc = acc
        """The ACC stream settings; a driver sets them once the device has started the stream."""
        self._timestamps = SampleTimestamps()

    def reset(self) -> None:
        """Forget stream state; call after a stop or a disconnect."""
        self._timestamps.reset()

    def decode(self, t_host_ns: int, characteristic: str, payload: bytes) -> Reading | None:
        uuid = characteristic.lower()
        if uuid == HEART_RATE_MEASUREMENT_UUID:
            hr = parse_heart_rate(payload)
            return HeartRateReading(self.device, t_host_ns, hr.bpm, hr.rr_ms, hr.sensor_contact)
        if uuid == PMD_DATA_UUID:
            return self._decode_pmd(t_host_ns, payload)
        return None

    def _decode_pmd(self, t_host_ns: int, payload: bytes) -> AccelerationBatch:
        stream = self.acc
        if stream is None:
            raise MalformedPayload("PMD data arrived but no ACC stream was started")
        frame = decode_frame(payload, resolution=stream.resolution_bits, factor=stream.factor)
        if frame.measurement != "acc":
            raise MalformedPayload(f"PMD {frame.measurement} frame arrived but only ACC was started")
        t_sensor_ns = self._timestamps.sample_times_ns(frame, nominal_rate_hz=stream.sample_rate_hz)
        return AccelerationBatch(self.device, t_host_ns, t_sensor_ns + POLAR_EPOCH_UNIX_NS, frame.samples)
