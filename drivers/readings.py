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
from drivers.polar_pmd.constants import DATA_MEASUREMENTS
from drivers.polar_pmd.timestamps import ppi_sample_times_ns


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


@dataclass(frozen=True, slots=True)
class EcgBatch:
    """ECG samples in µV from one PMD frame; times as in :class:`AccelerationBatch`."""

    device: str
    t_host_ns: int
    t_sensor_ns: npt.NDArray[np.int64] = field(repr=False)
    ecg_uv: npt.NDArray[np.float64] = field(repr=False)


@dataclass(frozen=True, slots=True)
class PpiBatch:
    """Optical pulse-to-pulse intervals from one PMD frame (Verity Sense, OH1).

    ``t_sensor_ns`` is each beat's sensor time (Unix epoch, not yet aligned), or None when
    the device sent no frame timestamp; then only the receive time is known.
    """

    device: str
    t_host_ns: int
    t_sensor_ns: npt.NDArray[np.int64] | None = field(repr=False)
    pp_ms: npt.NDArray[np.float64] = field(repr=False)
    pp_error_ms: npt.NDArray[np.float64] = field(repr=False)
    hr_bpm: npt.NDArray[np.float64] = field(repr=False)
    blocker: npt.NDArray[np.bool_] = field(repr=False)
    """The device flags the interval as unreliable (movement, poor contact)."""
    skin_contact: npt.NDArray[np.bool_] = field(repr=False)


Reading = HeartRateReading | AccelerationBatch | EcgBatch | PpiBatch


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

    def __init__(
        self, device: str, *, acc: PmdStream | None = None, ecg: PmdStream | None = None, ppi: bool = False
    ) -> None:
        self.device = device
        self.acc = acc
        """The ACC stream settings; a driver sets them once the device has started the stream."""
        self.ecg = ecg
        self.ppi = ppi
        """Whether a PPI stream was started."""
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

    def _decode_pmd(self, t_host_ns: int, payload: bytes) -> AccelerationBatch | EcgBatch | PpiBatch:
        measurement = DATA_MEASUREMENTS.get(payload[0] & 0x3F) if payload else None
        stream = {"acc": self.acc, "ecg": self.ecg}.get(measurement or "")
        if stream is not None:
            frame = decode_frame(payload, resolution=stream.resolution_bits, factor=stream.factor)
            t_sensor_ns = self._timestamps.sample_times_ns(frame, nominal_rate_hz=stream.sample_rate_hz)
            t_sensor_ns += POLAR_EPOCH_UNIX_NS
            if measurement == "acc":
                return AccelerationBatch(self.device, t_host_ns, t_sensor_ns, frame.samples)
            if frame.frame_type != 0:
                # Types 1-3 carry other devices' raw ADC records, not µV.
                raise MalformedPayload(f"ECG frame type {frame.frame_type} is not recorded; only type 0 (µV)")
            return EcgBatch(self.device, t_host_ns, t_sensor_ns, frame.samples[:, 0])
        if measurement == "ppi" and self.ppi:
            frame = decode_frame(payload)
            beat_ns = ppi_sample_times_ns(frame)
            samples = frame.samples
            return PpiBatch(
                self.device,
                t_host_ns,
                None if beat_ns is None else beat_ns + POLAR_EPOCH_UNIX_NS,
                samples["pp_ms"].astype(np.float64),
                samples["pp_error_ms"].astype(np.float64),
                samples["hr"].astype(np.float64),
                samples["blocker"].astype(bool),
                samples["skin_contact"].astype(bool),
            )
        raise MalformedPayload(f"PMD {measurement or 'unknown'} data arrived but that stream was not started")
