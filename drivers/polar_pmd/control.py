"""The PMD control point: features, requests, responses and settings TLVs.

Sources: polar-ble-sdk ``PmdControlPointCommand.kt``, ``PmdControlPointResponse.kt``,
``PmdSetting.kt``, ``PmdMeasurementType.kt`` and ``BlePMDClient.kt``, as summarised in
``shared/docs/wearable-protocols.md`` sections 3.2-3.4.

- A READ of the control point gives the features: ``0F`` and two bitmask bytes.
- A request is written as ``[opcode][measurement type][settings TLVs…]``; the type byte
  carries the recording type in bit 7 (online 0, offline 1).
- Its response arrives as an *indication*: ``F0 | opcode | type | status | more |
  params…``, params only on success; ``more`` announces further parts whose params
  are concatenated (:class:`ResponseAssembler`).
- An indication starting with ``01`` instead of ``F0`` says the device stopped the
  listed measurements on its own (:class:`MeasurementStopped`).
- Settings are TLVs ``[type][count][count × value]``; an H10 ends its start response with
  a lone reserved byte, which the parser tolerates.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from drivers.errors import MalformedPayload
from drivers.polar_pmd.constants import MEASUREMENT_NAMES, MEASUREMENT_TYPES


class Opcode(IntEnum):
    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 7
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 8
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 9


class Status(IntEnum):
    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


def status_text(status: int) -> str:
    try:
        return f"{Status(status).name} ({status})"
    except ValueError:
        return f"unknown status {status}"


RESPONSE_CODE = 0xF0
STOPPED_CODE = 0x01
_OFFLINE = 0x80
_TYPE_MASK = 0x3F

# Setting type -> (name, bytes per value, struct format of one value).
_SETTINGS: dict[int, tuple[str, int, str]] = {
    0: ("sample_rate", 2, "<H"),
    1: ("resolution", 2, "<H"),
    2: ("range", 2, "<H"),
    3: ("range_milliunit", 4, "<I"),
    4: ("channels", 1, "<B"),
    5: ("factor", 4, "<f"),
    6: ("security", 16, "16s"),
}
_SETTING_TYPES = {name: code for code, (name, _, _) in _SETTINGS.items()}

SettingValue = int | float | bytes
Settings = dict[str, list[SettingValue]]

# Feature bits of the control point READ: (byte index, bit) -> measurement.
_FEATURE_BITS: dict[tuple[int, int], str] = {
    (1, 0): "ecg",
    (1, 1): "ppg",
    (1, 2): "acc",
    (1, 3): "ppi",
    (1, 5): "gyro",
    (1, 6): "mag",
    (1, 7): "skin_temp",
    (2, 1): "sdk_mode",
    (2, 2): "location",
    (2, 3): "pressure",
    (2, 4): "temperature",
    (2, 5): "offline_recording",
    (2, 6): "offline_hr",
}
_FEATURES_CODE = 0x0F


def parse_features(payload: bytes) -> frozenset[str]:
    """The measurements a device offers, from a READ of the control point (H10: ``0F 05 …``)."""
    if len(payload) < 3 or payload[0] != _FEATURES_CODE:
        raise MalformedPayload(f"PMD features must start with 0F and have at least 3 bytes: {bytes(payload).hex()}")
    return frozenset(name for (index, bit), name in _FEATURE_BITS.items() if payload[index] >> bit & 1)


def encode_features(measurements: frozenset[str] | set[str]) -> bytes:
    unknown = set(measurements) - set(_FEATURE_BITS.values())
    if unknown:
        raise ValueError(f"not PMD features: {sorted(unknown)}")
    data = bytearray([_FEATURES_CODE, 0, 0])
    for (index, bit), name in _FEATURE_BITS.items():
        if name in measurements:
            data[index] |= 1 << bit
    return bytes(data)


def _measurement_byte(measurement: str, offline: bool) -> int:
    if measurement not in MEASUREMENT_TYPES:
        raise ValueError(f"unknown PMD measurement {measurement!r}")
    return MEASUREMENT_TYPES[measurement] | (_OFFLINE if offline else 0)


def _measurement_name(type_byte: int) -> str:
    name = MEASUREMENT_NAMES.get(type_byte & _TYPE_MASK)
    if name is None:
        raise MalformedPayload(f"unknown PMD measurement type {type_byte & _TYPE_MASK}")
    return name


def parse_settings(params: bytes) -> Settings:
    """Settings TLVs to ``{name: [values…]}``; a lone trailing byte (the H10's) is ignored."""
    settings: Settings = {}
    offset = 0
    while len(params) - offset >= 2:
        setting_type, count = params[offset], params[offset + 1]
        offset += 2
        if setting_type not in _SETTINGS:
            raise MalformedPayload(f"unknown PMD setting type {setting_type} at byte {offset - 2}")
        name, size, value_format = _SETTINGS[setting_type]
        if offset + count * size > len(params):
            raise MalformedPayload(f"PMD setting {name} announces {count} values but the payload ends")
        values = settings.setdefault(name, [])
        for _ in range(count):
            (value,) = struct.unpack_from(value_format, params, offset)
            values.append(value)
            offset += size
    return settings


def encode_settings(settings: Settings) -> bytes:
    data = bytearray()
    for name, values in settings.items():
        if name not in _SETTING_TYPES:
            raise ValueError(f"unknown PMD setting {name!r}")
        setting_type = _SETTING_TYPES[name]
        _, _, value_format = _SETTINGS[setting_type]
        if not 0 < len(values) < 256:
            raise ValueError(f"PMD setting {name} needs 1 to 255 values, not {len(values)}")
        data += bytes([setting_type, len(values)])
        try:
            data += b"".join(struct.pack(value_format, value) for value in values)
        except struct.error as error:
            raise ValueError(f"PMD setting {name}: {error}") from error
    return bytes(data)


@dataclass(frozen=True, slots=True)
class ControlPointRequest:
    """A write to the control point, e.g. start ACC at 200 Hz ±8 g with 16-bit samples."""

    opcode: Opcode
    measurement: str
    settings: Settings = field(default_factory=dict)
    offline: bool = False

    @classmethod
    def from_bytes(cls, payload: bytes) -> ControlPointRequest:
        if len(payload) < 2:
            raise MalformedPayload(f"PMD request of {len(payload)} bytes; at least 2 expected")
        try:
            opcode = Opcode(payload[0])
        except ValueError:
            raise MalformedPayload(f"unknown PMD opcode {payload[0]}") from None
        return cls(opcode, _measurement_name(payload[1]), parse_settings(payload[2:]), bool(payload[1] & _OFFLINE))

    def __bytes__(self) -> bytes:
        return bytes([self.opcode, _measurement_byte(self.measurement, self.offline)]) + encode_settings(self.settings)


def start_request(measurement: str, **settings: int) -> bytes:
    """``REQUEST_MEASUREMENT_START`` with one value per setting (the SDK never sends a factor)."""
    return bytes(
        ControlPointRequest(Opcode.REQUEST_MEASUREMENT_START, measurement, {k: [v] for k, v in settings.items()})
    )


def stop_request(measurement: str) -> bytes:
    return bytes(ControlPointRequest(Opcode.STOP_MEASUREMENT, measurement))


def settings_request(measurement: str) -> bytes:
    """Exactly ``01 <type>``: Polar devices reject extra bytes (polar-ble-sdk#451)."""
    return bytes(ControlPointRequest(Opcode.GET_MEASUREMENT_SETTINGS, measurement))


@dataclass(frozen=True, slots=True)
class ControlPointResponse:
    """An indication answering a request; ``params`` only on success."""

    opcode: int
    measurement: str
    status: int
    more: bool = False
    params: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS

    @classmethod
    def from_bytes(cls, payload: bytes) -> ControlPointResponse:
        if len(payload) < 4 or payload[0] != RESPONSE_CODE:
            raise MalformedPayload(f"not a PMD control point response: {bytes(payload).hex()}")
        status = payload[3]
        if status != Status.SUCCESS:
            return cls(payload[1], _measurement_name(payload[2]), status)
        more = len(payload) > 4 and payload[4] != 0
        return cls(payload[1], _measurement_name(payload[2]), status, more, bytes(payload[5:]))

    def __bytes__(self) -> bytes:
        head = bytes([RESPONSE_CODE, self.opcode, _measurement_byte(self.measurement, False), self.status])
        if self.status != Status.SUCCESS:
            return head
        return head + bytes([1 if self.more else 0]) + self.params


def parse_control_point_response(payload: bytes) -> ControlPointResponse:
    """Parse one response indication; raises :class:`MalformedPayload`."""
    return ControlPointResponse.from_bytes(payload)


@dataclass(frozen=True, slots=True)
class MeasurementStopped:
    """The device stopped these measurements by itself (``01 <types…>``)."""

    measurements: tuple[str, ...]

    @classmethod
    def from_bytes(cls, payload: bytes) -> MeasurementStopped:
        if len(payload) < 2 or payload[0] != STOPPED_CODE:
            raise MalformedPayload(f"not a PMD measurement-stopped notification: {bytes(payload).hex()}")
        return cls(tuple(_measurement_name(type_byte) for type_byte in payload[1:]))

    def __bytes__(self) -> bytes:
        return bytes([STOPPED_CODE, *(_measurement_byte(m, False) for m in self.measurements)])


def parse_control_point_indication(payload: bytes) -> ControlPointResponse | MeasurementStopped:
    """Any indication on the control point: a response, or the device saying it stopped."""
    if payload and payload[0] == STOPPED_CODE:
        return MeasurementStopped.from_bytes(payload)
    return ControlPointResponse.from_bytes(payload)


class ResponseAssembler:
    """Joins a multi-part response: parts share opcode and type; their params concatenate."""

    def __init__(self) -> None:
        self._first: ControlPointResponse | None = None
        self._params = bytearray()

    def add(self, part: ControlPointResponse) -> ControlPointResponse | None:
        """The whole response once its last part has arrived, else None."""
        if self._first is not None and (part.opcode, part.measurement) != (self._first.opcode, self._first.measurement):
            raise MalformedPayload(
                f"response part for opcode {part.opcode} {part.measurement} inside a response to "
                f"opcode {self._first.opcode} {self._first.measurement}"
            )
        first = self._first or part
        self._params += part.params
        if part.more and part.ok:
            self._first = first
            return None
        whole = ControlPointResponse(first.opcode, first.measurement, part.status, False, bytes(self._params))
        self._first, self._params = None, bytearray()
        return whole
