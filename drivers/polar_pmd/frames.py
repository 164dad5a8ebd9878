"""Polar Measurement Data (PMD) data frames: decode and encode.

Sources: polar-ble-sdk ``PmdDataFrame.kt`` and the ``AccData``, ``EcgData``, ``PpgData``,
``PpiData``, ``GyrData`` and ``MagData`` parsers with their unit tests, as summarised in
``shared/docs/wearable-protocols.md`` section 3.5.

Data frame (notification on ``FB005C82``), little-endian::

    [0] measurement type (mask 0x3F) | [1..8] timestamp u64 | [9] frame type | [10..] content

The timestamp is the sensor clock in ns since 2000-01-01T00:00:00Z and belongs to the
*last* sample of the frame (PPI frames may carry 0: no time). Frame-type bit 7 marks
delta-compressed content (:mod:`drivers.polar_pmd.delta`).

``samples`` by measurement and frame-type byte (n samples a frame):

==========  =====  ===========================================================================
acc         0-2    (n, 3) int8/int16/int24 in mG; the H10 sends type 1
acc         0x80   (n, 3) mG = raw × factor × 1000 (the raw values are in G)
acc         0x81   (n, 3) mG = raw × factor (Verity Sense)
ecg         0      (n, 1) int24 µV (H10)
ecg         1-3    records (:data:`RECORD_DTYPES`), fields as ``EcgData.kt`` reads them
ppg         0      (n, 4) int24 ppg0, ppg1, ppg2, ambient, × factor
ppg         0x80   (n, 4) as type 0, 22-bit reference sample (Verity Sense)
ppi         0      records: hr, pp_ms, pp_error_ms, blocker, skin_contact, skin_contact_supported
gyro        0x80   (n, 3) deg/s = raw × factor
gyro        0x81   (n, 3) deg/s = float32 × factor; delta-coded on the float32 bit patterns
mag         0x80   (n, 3) gauss = raw × factor
mag         0x81   (n, 4) x, y, z in gauss = raw mG × factor / 1000, then the calibration
                   status, unscaled (0 unknown, 1 poor, 2 ok, 3 good, else not available)
==========  =====  ===========================================================================

Numeric samples are float64 and keep their fractions where the SDK truncates to ``Int``.
``factor`` is the FACTOR setting of the start response; it scales every numeric frame
(the SDK scales only compressed ones, but devices send no factor for the others).
``resolution`` is the reference-sample width of integer delta frames; None means the
format's own (16 bits; PPG 22, which the SDK reads as 24: the two agree whenever the
bits above bit 21 are sign copies, as a 22-bit device sends them). Other frames ignore
it. Anything else, such as PPG types 4-10 of other devices, is :class:`MalformedPayload`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.errors import MalformedPayload
from drivers.polar_pmd.constants import DATA_MEASUREMENTS, MEASUREMENT_TYPES
from drivers.polar_pmd.delta import decode_delta, encode_delta, sign_extend

_HEADER = struct.Struct("<BQB")
_COMPRESSED = 0x80
_NATIVE_WIDTHS: dict[int, np.dtype[np.signedinteger[Any]]] = {1: np.dtype("<i1"), 2: np.dtype("<i2")}


@dataclass(frozen=True, slots=True)
class _Numeric:
    """Uncompressed content: ``channels`` little-endian signed integers of ``width`` bytes a sample."""

    width: int
    channels: int

    def decode(self, content: bytes, resolution: int | None, factor: float) -> npt.NDArray[np.float64]:
        stride = self.width * self.channels
        if not content or len(content) % stride:
            raise MalformedPayload(f"content of {len(content)} bytes is not a positive multiple of {stride}")
        native = _NATIVE_WIDTHS.get(self.width)
        if native is not None:
            values = np.frombuffer(content, dtype=native).astype(np.float64)
        else:
            octets = np.frombuffer(content, dtype=np.uint8).reshape(-1, self.width).astype(np.int64)
            unsigned = octets @ (np.int64(1) << np.arange(0, 8 * self.width, 8, dtype=np.int64))
            values = sign_extend(unsigned, 8 * self.width).astype(np.float64)
        if factor != 1.0:
            values *= factor
        return values.reshape(-1, self.channels)

    def encode(self, samples: npt.NDArray[Any], resolution: int | None, factor: float) -> bytes:
        raw = _raw_integers(samples, self.channels, factor)
        limit = 1 << (8 * self.width - 1)
        if raw.min() < -limit or raw.max() >= limit:
            raise ValueError(f"samples outside the {8 * self.width}-bit range of the frame type")
        return raw.reshape(-1, 1).astype("<i8").view(np.uint8).reshape(-1, 8)[:, : self.width].tobytes()


@dataclass(frozen=True, slots=True)
class _Delta:
    """Delta-coded content; ``unit`` converts raw × factor to the unit in the module table."""

    channels: int
    resolution: int
    unit: float = 1.0
    float32: bool = False  # values are IEEE-754 float32 bit patterns; always 32-bit references
    status_channel: bool = False  # the last channel is a status code: neither factor nor unit apply

    def decode(self, content: bytes, resolution: int | None, factor: float) -> npt.NDArray[np.float64]:
        bits = self.resolution if resolution is None or self.float32 else resolution
        raw = decode_delta(content, channels=self.channels, resolution=bits)
        values = (raw.view(np.float32) if self.float32 else raw).astype(np.float64)
        values *= self._scale(factor)
        return values

    def encode(self, samples: npt.NDArray[Any], resolution: int | None, factor: float) -> bytes:
        scale = self._scale(factor)
        if self.float32:
            values = _unscaled(samples, self.channels, scale)
            if np.abs(values).max() > np.finfo(np.float32).max:
                raise ValueError("samples outside the float32 range")
            return encode_delta(values.astype(np.float32).view(np.int32), resolution=32)
        raw = _raw_integers(samples, self.channels, scale)
        return encode_delta(raw, resolution=self.resolution if resolution is None else resolution)

    def _scale(self, factor: float) -> npt.NDArray[np.float64]:
        scale = np.full(self.channels, factor * self.unit)
        if self.status_channel:
            scale[-1] = 1.0
        return scale


@dataclass(frozen=True, slots=True)
class _BitField:
    name: str
    dtype: str
    first_bit: int
    bits: int
    signed: bool = False


@dataclass(frozen=True, slots=True)
class _Records:
    """Uncompressed content of ``size``-byte records, each a little-endian word of bit fields."""

    size: int
    fields: tuple[_BitField, ...]
    dtype: np.dtype[np.void]
    channels = 1

    @classmethod
    def of(cls, size: int, *fields: _BitField) -> _Records:
        return cls(size, fields, np.dtype([(f.name, f.dtype) for f in fields]))

    def decode(self, content: bytes, resolution: int | None, factor: float) -> npt.NDArray[np.void]:
        if not content or len(content) % self.size:
            raise MalformedPayload(f"content of {len(content)} bytes is not a positive multiple of {self.size}")
        octets = np.zeros((len(content) // self.size, 8), dtype=np.uint8)
        octets[:, : self.size] = np.frombuffer(content, dtype=np.uint8).reshape(-1, self.size)
        words = octets.view("<u8").ravel()
        records = np.empty(len(words), dtype=self.dtype)
        for f in self.fields:
            values = (words >> np.uint64(f.first_bit)) & np.uint64((1 << f.bits) - 1)
            records[f.name] = sign_extend(values.astype(np.int64), f.bits) if f.signed else values
        return records

    def encode(self, samples: npt.NDArray[Any], resolution: int | None, factor: float) -> bytes:
        records = np.asarray(samples)
        names = [f.name for f in self.fields]
        if records.ndim != 1 or not len(records) or records.dtype.names is None:
            raise ValueError(f"samples must be a 1-D record array with fields {names}")
        if missing := set(names) - set(records.dtype.names):
            raise ValueError(f"samples lack the fields {sorted(missing)}")
        words = np.zeros(len(records), dtype=np.uint64)
        for f in self.fields:
            values = records[f.name].astype(np.int64)
            low, high = (-(1 << (f.bits - 1)), (1 << (f.bits - 1)) - 1) if f.signed else (0, (1 << f.bits) - 1)
            if values.min() < low or values.max() > high:
                raise ValueError(f"{f.name} outside {low}..{high}")
            words |= (values.astype(np.uint64) & np.uint64((1 << f.bits) - 1)) << np.uint64(f.first_bit)
        return words.astype("<u8").view(np.uint8).reshape(-1, 8)[:, : self.size].tobytes()


_Layout = _Numeric | _Delta | _Records

# Record layouts, bit numbers counted from bit 0 of the record's first byte.
_PPI = _Records.of(
    6,
    _BitField("hr", "u1", 0, 8),
    _BitField("pp_ms", "<u2", 8, 16),
    _BitField("pp_error_ms", "<u2", 24, 16),
    _BitField("blocker", "?", 40, 1),
    _BitField("skin_contact", "?", 41, 1),
    _BitField("skin_contact_supported", "?", 42, 1),
)
# EcgData.kt reads types 1 and 2 as unsigned, with no offset removed; no device this
# project supports sends them.
_ECG_TYPE_1 = _Records.of(
    3,
    _BitField("microvolts", "<u2", 0, 14),
    _BitField("over_sampling", "?", 16, 1),
    _BitField("skin_contact", "u1", 17, 2),
    _BitField("contact_impedance", "u1", 19, 2),
)
_ECG_TYPE_2 = _Records.of(
    3, _BitField("microvolts", "<u4", 0, 18), _BitField("ecg_tag", "u1", 18, 3), _BitField("pace_tag", "u1", 21, 3)
)
_ECG_TYPE_3 = _Records.of(
    7, _BitField("data0", "<i4", 0, 24, True), _BitField("data1", "<i4", 24, 24, True), _BitField("status", "u1", 48, 8)
)

# (measurement, frame-type byte with the compression bit) -> layout.
_LAYOUTS: dict[tuple[str, int], _Layout] = {
    ("acc", 0x00): _Numeric(1, 3),
    ("acc", 0x01): _Numeric(2, 3),
    ("acc", 0x02): _Numeric(3, 3),
    ("acc", 0x80): _Delta(3, 16, unit=1000.0),
    ("acc", 0x81): _Delta(3, 16),
    ("ecg", 0x00): _Numeric(3, 1),
    ("ecg", 0x01): _ECG_TYPE_1,
    ("ecg", 0x02): _ECG_TYPE_2,
    ("ecg", 0x03): _ECG_TYPE_3,
    ("ppg", 0x00): _Numeric(3, 4),
    ("ppg", 0x80): _Delta(4, 22),
    ("ppi", 0x00): _PPI,
    ("gyro", 0x80): _Delta(3, 16),
    ("gyro", 0x81): _Delta(3, 32, float32=True),
    ("mag", 0x80): _Delta(3, 16),
    ("mag", 0x81): _Delta(4, 16, unit=0.001, status_channel=True),
}
# The same keyed by wire codes, (measurement type << 8) | frame-type byte: one lookup per frame.
_BY_WIRE_CODES = {
    MEASUREMENT_TYPES[measurement] << 8 | frame_byte: (measurement, layout)
    for (measurement, frame_byte), layout in _LAYOUTS.items()
}
RECORD_DTYPES: dict[tuple[str, int], np.dtype[np.void]] = {
    (measurement, frame_byte): layout.dtype
    for (measurement, frame_byte), layout in _LAYOUTS.items()
    if isinstance(layout, _Records)
}
"""The record dtype of ``samples`` by (measurement, frame type), for frames that are not numeric."""


# Not frozen: building a frozen dataclass is a third of the cost of decoding a frame,
# and a 200 Hz stream decodes six a second per strap; frames are read, never changed.
@dataclass(slots=True)
class PmdDataFrame:
    """One PMD data notification; ``samples`` as in the module table.

    ``factor`` and ``resolution`` are the stream settings the frame was decoded with;
    the encoder needs them to turn ``samples`` back into raw values.
    """

    measurement: str
    timestamp_ns: int
    frame_type: int
    samples: npt.NDArray[Any] = field(repr=False)
    compressed: bool = False
    factor: float = 1.0
    resolution: int | None = None

    @classmethod
    def from_bytes(
        cls, payload: bytes, *, resolution: int | None = None, channels: int | None = None, factor: float = 1.0
    ) -> PmdDataFrame:
        if len(payload) < _HEADER.size:
            raise MalformedPayload(f"PMD frame of {len(payload)} bytes; the header alone is {_HEADER.size}")
        type_byte, timestamp_ns, frame_byte = _HEADER.unpack_from(payload)
        found = _BY_WIRE_CODES.get((type_byte & 0x3F) << 8 | frame_byte)
        if found is None:
            measurement = DATA_MEASUREMENTS.get(type_byte & 0x3F)
            if measurement is None:
                raise MalformedPayload(f"unknown PMD measurement type {type_byte & 0x3F}")
            kind = "compressed" if frame_byte & _COMPRESSED else "uncompressed"
            raise MalformedPayload(f"unsupported PMD {measurement} frame: {kind} type {frame_byte & 0x7F}")
        measurement, layout = found
        if channels is not None and channels != layout.channels:
            raise MalformedPayload(
                f"{measurement} frame type {frame_byte:#04x} has {layout.channels} channels, not {channels}"
            )
        try:
            samples = layout.decode(payload[_HEADER.size :], resolution, factor)
        except MalformedPayload as error:
            raise MalformedPayload(f"{measurement} frame type {frame_byte:#04x}: {error}") from None
        return cls(measurement, timestamp_ns, frame_byte & 0x7F, samples, frame_byte >= _COMPRESSED, factor, resolution)

    def __bytes__(self) -> bytes:
        """The notification payload; raises ValueError for values the format cannot carry."""
        frame_byte = self.frame_type | (_COMPRESSED if self.compressed else 0)
        layout = _LAYOUTS.get((self.measurement, frame_byte))
        if layout is None:
            raise ValueError(f"cannot encode {self.measurement} frame type {frame_byte:#04x}")
        if not 0 <= self.timestamp_ns < 1 << 64:
            raise ValueError(f"timestamp {self.timestamp_ns} ns is outside the unsigned 64-bit range")
        header = _HEADER.pack(MEASUREMENT_TYPES[self.measurement], self.timestamp_ns, frame_byte)
        return header + layout.encode(self.samples, self.resolution, self.factor)


def decode_frame(
    payload: bytes, *, resolution: int | None = None, channels: int | None = None, factor: float = 1.0
) -> PmdDataFrame:
    """Decode a PMD data notification; raises :class:`MalformedPayload` and nothing else.

    ``channels``, if given, is checked against the frame's; ``resolution`` and ``factor``
    are the stream's settings (see the module docstring).
    """
    return PmdDataFrame.from_bytes(payload, resolution=resolution, channels=channels, factor=factor)


def _unscaled(
    samples: npt.NDArray[Any], channels: int, scale: float | npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``samples`` / ``scale``: the wire values, unrounded; raises ValueError for a bad shape or value."""
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != channels or not len(values):
        raise ValueError(f"samples must have shape (n >= 1, {channels}), not {values.shape}")
    with np.errstate(all="ignore"):  # inf and nan are rejected just below
        unscaled = values / scale
    if not np.isfinite(unscaled).all():
        raise ValueError("samples must be finite and the factor non-zero")
    return unscaled


def _raw_integers(
    samples: npt.NDArray[Any], channels: int, scale: float | npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """The wire integers behind ``samples``, rounded to the nearest; callers check their range."""
    raw = np.rint(_unscaled(samples, channels, scale))
    if np.abs(raw).max() >= 2.0**62:  # beyond any wire format; casting would not be exact
        raise ValueError("samples outside the range of any PMD frame type")
    return raw.astype(np.int64)
