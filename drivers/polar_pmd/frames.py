"""Polar Measurement Data (PMD) wire formats: data frames and per-sample timestamps.

Sources: polar-ble-sdk ``PmdDataFrame.kt``, ``AccData.kt``, ``EcgData.kt``,
``PmdTimeStampUtils.kt`` and the online measurement spec, as summarised in
``shared/docs/wearable-protocols.md`` section 3.

Data frame (notification on ``FB005C82``), little-endian::

    [0] measurement type (mask 0x3F) | [1..8] timestamp u64 | [9] frame type | [10..] content

The timestamp is the sensor clock in ns since 2000-01-01T00:00:00Z and belongs to the
*last* sample of the frame. Frame type bit 7 marks delta-compressed content.

Uncompressed content supported here: ACC frame types 0/1/2 (3 channels of int8/16/24,
mG) and ECG frame type 0 (int24 µV). Other measurement and frame types are reported
as :class:`MalformedPayload` until their decoders exist.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.errors import MalformedPayload
from drivers.polar_pmd.constants import DATA_MEASUREMENTS, MEASUREMENT_TYPES

_HEADER = struct.Struct("<BQB")
_COMPRESSED = 0x80
# (measurement, frame type) -> (bytes per value, channels) for uncompressed content.
_UNCOMPRESSED_LAYOUT = {
    ("acc", 0): (1, 3),
    ("acc", 1): (2, 3),
    ("acc", 2): (3, 3),
    ("ecg", 0): (3, 1),
}
_NATIVE_WIDTHS: dict[int, np.dtype[np.signedinteger[Any]]] = {1: np.dtype("<i1"), 2: np.dtype("<i2")}


@dataclass(frozen=True, slots=True)
class PmdDataFrame:
    """One PMD data notification, samples in the unit the format defines (ACC mG, ECG µV)."""

    measurement: str
    timestamp_ns: int
    frame_type: int
    samples: npt.NDArray[np.float64] = field(repr=False)
    compressed: bool = False

    @classmethod
    def from_bytes(
        cls, payload: bytes, *, resolution: int = 16, channels: int | None = None, factor: float = 1.0
    ) -> PmdDataFrame:
        if len(payload) < _HEADER.size:
            raise MalformedPayload(f"PMD frame of {len(payload)} bytes; the header alone is {_HEADER.size}")
        type_byte, timestamp_ns, frame_byte = _HEADER.unpack_from(payload)
        measurement = DATA_MEASUREMENTS.get(type_byte & 0x3F)
        if measurement is None:
            raise MalformedPayload(f"unknown PMD measurement type {type_byte & 0x3F}")
        compressed = bool(frame_byte & _COMPRESSED)
        frame_type = frame_byte & 0x7F
        layout = _UNCOMPRESSED_LAYOUT.get((measurement, frame_type))
        if compressed or layout is None:
            kind = "compressed" if compressed else "uncompressed"
            raise MalformedPayload(f"unsupported PMD {measurement} frame: {kind} type {frame_type}")
        width, n_channels = layout
        if channels is not None and channels != n_channels:
            raise MalformedPayload(f"{measurement} frame type {frame_type} has {n_channels} channels, not {channels}")
        content_size = len(payload) - _HEADER.size
        stride = width * n_channels
        if content_size == 0 or content_size % stride:
            raise MalformedPayload(
                f"{measurement} frame type {frame_type} content of {content_size} bytes "
                f"is not a positive multiple of {stride}"
            )
        values = _decode_signed(payload, width).reshape(-1, n_channels)
        if factor != 1.0:
            values *= factor
        return cls(measurement, timestamp_ns, frame_type, values, compressed)

    def __bytes__(self) -> bytes:
        layout = _UNCOMPRESSED_LAYOUT.get((self.measurement, self.frame_type))
        if self.compressed or layout is None:
            raise ValueError(f"cannot encode {self.measurement} frame type {self.frame_type}")
        width, n_channels = layout
        samples = np.asarray(self.samples)
        if samples.ndim != 2 or samples.shape[1] != n_channels or len(samples) == 0:
            raise ValueError(f"samples must have shape (n >= 1, {n_channels}), not {samples.shape}")
        raw = np.rint(samples).astype(np.int64)
        limit = 1 << (8 * width - 1)
        if raw.min() < -limit or raw.max() >= limit:
            raise ValueError(f"samples outside the {8 * width}-bit range of frame type {self.frame_type}")
        header = _HEADER.pack(MEASUREMENT_TYPES[self.measurement], self.timestamp_ns, self.frame_type)
        little_endian = raw.reshape(-1, 1).astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width]
        return header + little_endian.tobytes()


def _decode_signed(payload: bytes, width: int) -> npt.NDArray[np.float64]:
    """The frame content as little-endian two's-complement integers of ``width`` bytes."""
    native = _NATIVE_WIDTHS.get(width)
    if native is not None:
        return np.frombuffer(payload[_HEADER.size :], dtype=native).astype(np.float64)
    octets = np.frombuffer(payload[_HEADER.size :], dtype=np.uint8).reshape(-1, width).astype(np.int64)
    unsigned = np.zeros(len(octets), dtype=np.int64)
    for i in range(width):
        unsigned |= octets[:, i] << (8 * i)
    sign = np.int64(1) << (8 * width - 1)
    return ((unsigned ^ sign) - sign).astype(np.float64)


def decode_frame(
    payload: bytes, *, resolution: int = 16, channels: int | None = None, factor: float = 1.0
) -> PmdDataFrame:
    """Decode a PMD data notification; raises :class:`MalformedPayload`."""
    return PmdDataFrame.from_bytes(payload, resolution=resolution, channels=channels, factor=factor)
