"""Bluetooth SIG GATT wire formats: Heart Rate Measurement (0x2A37), Body Sensor Location
(0x2A38) and RSC Measurement (0x2A53).

Heart Rate Measurement (Heart Rate Service 1.0; Polar ``BleHrClient.kt``; Nordic
``HeartRateMeasurementDataCallback.kt``), all little-endian:

=====  ===================================================================
byte   field
=====  ===================================================================
0      flags: bit0 HR is uint16, bit2 contact supported, bit1 contact
       detected, bit3 energy expended present, bit4 RR present
1..    HR in bpm (uint8, or uint16 if bit0)
+2     energy expended in kJ (uint16), if bit3
rest   RR intervals in 1/1024 s (uint16 each, oldest first), if bit4
=====  ===================================================================

The parser is strict: a payload that is too short for its flags, or that leaves a
byte over, is malformed. RR values are reported in ms as ``raw / 1024 * 1000``,
unrounded (the project's pinned convention).

Body Sensor Location (read): one uint8, 0 other, 1 chest, 2 wrist, 3 finger, 4 hand,
5 ear lobe, 6 foot. The SIG reserves 7..255; such a value is malformed like any other
payload this module cannot name, so callers keep one ``except`` clause (the location is
informational; a device that reports a reserved one just shows none).

RSC Measurement (Running Speed and Cadence service 0x1814, notify; Nordic
``RunningSpeedAndCadenceMeasurementDataCallback.kt``):

=====  ===================================================================
byte   field
=====  ===================================================================
0      flags: bit0 stride length present, bit1 total distance present,
       bit2 running (else walking); bits 3-7 reserved, ignored
1..2   speed, uint16 in 1/256 m/s
3      cadence, uint8 in steps/min
+2     stride length, uint16 in 1/100 m, if bit0
+4     total distance, uint32 in 1/10 m, if bit1
=====  ===================================================================

Strict like the heart rate parser: the length must be exactly what the flags announce.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from drivers.errors import MalformedPayload


def sig_uuid(short: int) -> str:
    """Expand a 16-bit SIG-assigned number to the 128-bit UUID string bleak uses."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


HEART_RATE_SERVICE_UUID = sig_uuid(0x180D)
HEART_RATE_MEASUREMENT_UUID = sig_uuid(0x2A37)
BODY_SENSOR_LOCATION_UUID = sig_uuid(0x2A38)
RUNNING_SPEED_CADENCE_SERVICE_UUID = sig_uuid(0x1814)
RSC_MEASUREMENT_UUID = sig_uuid(0x2A53)

RR_TICKS_PER_S = 1024

_FLAG_HR_UINT16 = 0x01
_FLAG_CONTACT_DETECTED = 0x02
_FLAG_CONTACT_SUPPORTED = 0x04
_FLAG_ENERGY = 0x08
_FLAG_RR = 0x10
_UINT16_MAX = 0xFFFF


# 1000/1024 is exact in binary, so ticks * _MS_PER_TICK == ticks / 1024 * 1000 exactly.
_MS_PER_TICK = 1000 / RR_TICKS_PER_S


def rr_ticks_to_ms(ticks: int) -> float:
    """RR interval from the wire's 1/1024 s ticks to ms, unrounded."""
    return ticks * _MS_PER_TICK


def rr_ms_to_ticks(rr_ms: float) -> int:
    """The nearest 1/1024 s tick count for an RR interval in ms."""
    return round(rr_ms * RR_TICKS_PER_S / 1000)


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One Heart Rate Measurement notification.

    ``sensor_contact`` is None when the sensor does not support contact detection.
    Values are range-checked when encoded; parsed ones are in range by construction.
    """

    bpm: int
    rr_ms: tuple[float, ...] = ()
    sensor_contact: bool | None = None
    energy_kj: int | None = None

    @classmethod
    def from_bytes(cls, payload: bytes) -> HeartRateMeasurement:
        size = len(payload)
        if size < 2:
            raise MalformedPayload(f"heart rate payload of {size} bytes; at least 2 expected")
        flags = payload[0]
        if flags & _FLAG_HR_UINT16:
            if size < 3:
                raise MalformedPayload("heart rate flagged as uint16 but payload has 2 bytes")
            bpm = payload[1] | payload[2] << 8
            offset = 3
        else:
            bpm = payload[1]
            offset = 2
        energy_kj = None
        if flags & _FLAG_ENERGY:
            if size < offset + 2:
                raise MalformedPayload("energy expended flagged but missing")
            energy_kj = payload[offset] | payload[offset + 1] << 8
            offset += 2
        rest = size - offset
        if flags & _FLAG_RR:
            if rest == 0 or rest % 2:
                raise MalformedPayload(f"RR flagged but {rest} bytes follow; a positive even count expected")
            rr_ms = tuple([(payload[i] | payload[i + 1] << 8) * _MS_PER_TICK for i in range(offset, size, 2)])
        elif rest:
            raise MalformedPayload(f"{rest} unexpected trailing bytes")
        else:
            rr_ms = ()
        sensor_contact = bool(flags & _FLAG_CONTACT_DETECTED) if flags & _FLAG_CONTACT_SUPPORTED else None
        return cls(bpm, rr_ms, sensor_contact, energy_kj)

    def __bytes__(self) -> bytes:
        """The notification payload; raises ValueError for values the format cannot carry."""
        if not 0 <= self.bpm <= _UINT16_MAX:
            raise ValueError(f"bpm {self.bpm} is outside 0..65535")
        if self.energy_kj is not None and not 0 <= self.energy_kj <= _UINT16_MAX:
            raise ValueError(f"energy {self.energy_kj} kJ is outside 0..65535")
        rr_ticks = [rr_ms_to_ticks(rr) for rr in self.rr_ms]
        if rr_ticks and not 0 <= min(rr_ticks) <= max(rr_ticks) <= _UINT16_MAX:
            raise ValueError(f"RR intervals {self.rr_ms} ms are outside 0..{rr_ticks_to_ms(_UINT16_MAX):.1f} ms")
        flags = 0
        body = bytearray()
        if self.bpm > 0xFF:
            flags |= _FLAG_HR_UINT16
            body += struct.pack("<H", self.bpm)
        else:
            body.append(self.bpm)
        if self.sensor_contact is not None:
            flags |= _FLAG_CONTACT_SUPPORTED
            if self.sensor_contact:
                flags |= _FLAG_CONTACT_DETECTED
        if self.energy_kj is not None:
            flags |= _FLAG_ENERGY
            body += struct.pack("<H", self.energy_kj)
        if self.rr_ms:
            flags |= _FLAG_RR
            body += struct.pack(f"<{len(rr_ticks)}H", *rr_ticks)
        return bytes([flags]) + bytes(body)


def parse_heart_rate(payload: bytes) -> HeartRateMeasurement:
    """Parse a Heart Rate Measurement notification; raises :class:`MalformedPayload`."""
    return HeartRateMeasurement.from_bytes(payload)


BODY_SENSOR_LOCATIONS = ("other", "chest", "wrist", "finger", "hand", "ear lobe", "foot")
"""Body Sensor Location names, indexed by their wire value."""


def parse_body_sensor_location(payload: bytes) -> str:
    """The name of a Body Sensor Location value; raises :class:`MalformedPayload`."""
    if len(payload) != 1:
        raise MalformedPayload(f"body sensor location of {len(payload)} bytes; 1 expected")
    if payload[0] >= len(BODY_SENSOR_LOCATIONS):
        raise MalformedPayload(f"body sensor location {payload[0]} is reserved")
    return BODY_SENSOR_LOCATIONS[payload[0]]


def encode_body_sensor_location(location: str) -> bytes:
    """The Body Sensor Location value of a name in :data:`BODY_SENSOR_LOCATIONS`; else ValueError."""
    if location not in BODY_SENSOR_LOCATIONS:
        raise ValueError(f"{location!r} is not one of {BODY_SENSOR_LOCATIONS}")
    return bytes([BODY_SENSOR_LOCATIONS.index(location)])


_RSC_FLAG_STRIDE = 0x01
_RSC_FLAG_DISTANCE = 0x02
_RSC_FLAG_RUNNING = 0x04
_RSC_SPEED_TICKS_PER_MPS = 256
_RSC_STRIDE_TICKS_PER_M = 100
_RSC_DISTANCE_TICKS_PER_M = 10
_RSC_BASE = struct.Struct("<BHB")


@dataclass(frozen=True, slots=True)
class RscMeasurement:
    """One RSC Measurement notification (a footpod); optional fields are None when absent.

    Values are range-checked when encoded; parsed ones are in range by construction.
    """

    speed_mps: float
    cadence_spm: int
    running: bool
    stride_m: float | None = None
    distance_m: float | None = None

    @classmethod
    def from_bytes(cls, payload: bytes) -> RscMeasurement:
        size = len(payload)
        if size < _RSC_BASE.size:
            raise MalformedPayload(f"RSC payload of {size} bytes; at least {_RSC_BASE.size} expected")
        flags, speed, cadence = _RSC_BASE.unpack_from(payload)
        expected = _RSC_BASE.size + (2 if flags & _RSC_FLAG_STRIDE else 0) + (4 if flags & _RSC_FLAG_DISTANCE else 0)
        if size != expected:
            raise MalformedPayload(f"RSC payload of {size} bytes; its flags {flags:#04x} announce {expected}")
        offset = _RSC_BASE.size
        stride_m = distance_m = None
        if flags & _RSC_FLAG_STRIDE:
            stride_m = struct.unpack_from("<H", payload, offset)[0] / _RSC_STRIDE_TICKS_PER_M
            offset += 2
        if flags & _RSC_FLAG_DISTANCE:
            distance_m = struct.unpack_from("<I", payload, offset)[0] / _RSC_DISTANCE_TICKS_PER_M
        running = bool(flags & _RSC_FLAG_RUNNING)
        return cls(speed / _RSC_SPEED_TICKS_PER_MPS, cadence, running, stride_m, distance_m)

    def __bytes__(self) -> bytes:
        """The notification payload; raises ValueError for values the format cannot carry."""
        speed = _ticks("speed", self.speed_mps, _RSC_SPEED_TICKS_PER_MPS, 0xFFFF)
        cadence = _ticks("cadence", self.cadence_spm, 1, 0xFF)
        flags = _RSC_FLAG_RUNNING if self.running else 0
        body = bytearray(_RSC_BASE.pack(0, speed, cadence))
        if self.stride_m is not None:
            flags |= _RSC_FLAG_STRIDE
            body += struct.pack("<H", _ticks("stride", self.stride_m, _RSC_STRIDE_TICKS_PER_M, 0xFFFF))
        if self.distance_m is not None:
            flags |= _RSC_FLAG_DISTANCE
            body += struct.pack("<I", _ticks("distance", self.distance_m, _RSC_DISTANCE_TICKS_PER_M, 0xFFFFFFFF))
        body[0] = flags
        return bytes(body)


def _ticks(name: str, value: float, ticks_per_unit: int, maximum: int) -> int:
    """``value`` in the wire's ticks, rounded to the nearest; ValueError outside 0..maximum ticks."""
    ticks = round(value * ticks_per_unit) if math.isfinite(value) else -1
    if not 0 <= ticks <= maximum:
        raise ValueError(f"{name} {value} is outside 0..{maximum / ticks_per_unit}")
    return ticks


def parse_running_speed_cadence(payload: bytes) -> RscMeasurement:
    """Parse an RSC Measurement notification; raises :class:`MalformedPayload`."""
    return RscMeasurement.from_bytes(payload)
