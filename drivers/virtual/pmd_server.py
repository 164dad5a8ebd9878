"""The Polar side of PMD: a control point that answers as a real device does, and its data frames.

Protocol: ``shared/docs/wearable-protocols.md`` §3. A READ of the control point gives the
features; a write is answered by an *indication*, sent after the ATT Write Response (the
handler schedules it with ``create_task``: awaiting it inside the handler would invert the
order). Status codes for bad requests:

- fewer than 2 bytes: no indication, the write fails with ATT error 0x0D (invalid length);
- unknown opcode 1, unknown measurement type 2, a measurement or opcode the device does
  not serve (or an offline recording) 3 NOT_SUPPORTED, unparsable settings 5;
- START: already running 6, ATT MTU below 232 10, then per setting a value the device does
  not offer: sample rate 8, resolution 7, range 9, channels 11, anything else 5.

A started measurement streams once its response has been indicated; STOP takes effect at
once; a disconnect stops everything, as on the H10.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bumble.att import ATT_INVALID_ATTRIBUTE_LENGTH_ERROR, ATT_Error
from bumble.device import Connection
from bumble.gatt import Characteristic, Service

from drivers.errors import MalformedPayload
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, HEART_RATE_SERVICE_UUID
from drivers.polar_pmd import (
    MEASUREMENT_NAMES,
    MEASUREMENT_TYPES,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    ControlPointRequest,
    ControlPointResponse,
    MeasurementStopped,
    Opcode,
    Status,
    encode_features,
    encode_settings,
)
from drivers.polar_pmd.control import RESPONSE_CODE, Settings
from drivers.virtual.heart_rate import heart_rate_service
from drivers.virtual.peripheral import VirtualPeripheral, gatt_characteristic
from drivers.virtual.replay import AtEnd, Replay, ReplayItem, pmd_timestamp_ns, with_pmd_timestamp
from drivers.virtual.uuids import bumble_uuid

PMD_MIN_MTU = 232
"""The smallest ATT MTU a Polar device streams with (``wearable-protocols.md`` §3.1)."""

_OPCODES = frozenset(Opcode)
_OFFLINE = 0x80
_TYPE_MASK = 0x3F
_SETTING_STATUS = {
    "sample_rate": Status.INVALID_SAMPLE_RATE,
    "resolution": Status.INVALID_RESOLUTION,
    "range": Status.INVALID_RANGE,
    "channels": Status.INVALID_NUMBER_OF_CHANNELS,
}


@dataclass(frozen=True, slots=True)
class MeasurementSpec:
    """One measurement as a device serves it."""

    settings: Settings
    """The answer to GET_MEASUREMENT_SETTINGS; a START must pick one offered value of each."""
    start_params: bytes = b""
    """Params of a successful START response (the H10's reserved ``01``, a Verity's factor)."""


@dataclass(frozen=True, slots=True)
class PmdProfile:
    features: frozenset[str]
    """What a control point READ announces."""
    measurements: Mapping[str, MeasurementSpec]
    """The features the virtual device can actually serve."""


class PolarPeripheral(VirtualPeripheral):
    """A Polar sensor: Heart Rate Service plus PMD, serving :attr:`profile`."""

    profile: PmdProfile

    default_name: str
    default_address: str

    def __init__(
        self,
        replay: Replay,
        *,
        name: str | None = None,
        address: str | None = None,
        speed: float = 1.0,
        at_end: AtEnd = "loop",
        clock_drift_ppm: float = 0.0,
    ) -> None:
        super().__init__(
            name=name or self.default_name,
            address=address or self.default_address,
            advertised_services=[HEART_RATE_SERVICE_UUID],
            replay=replay,
            speed=speed,
            at_end=at_end,
            clock_drift_ppm=clock_drift_ppm,
        )
        self._running: set[str] = set()

    @property
    def running(self) -> frozenset[str]:
        """The measurements streaming now."""
        return frozenset(self._running)

    def _services(self) -> list[Service]:
        self._control_point = gatt_characteristic(
            PMD_CONTROL_POINT_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE | Characteristic.Properties.INDICATE,
            read=lambda _: encode_features(self.profile.features),
            write=self._on_control_point_write,
        )
        data = gatt_characteristic(PMD_DATA_UUID, Characteristic.Properties.NOTIFY)
        pmd = Service(bumble_uuid(PMD_SERVICE_UUID), [self._control_point, data])
        return [heart_rate_service(self._start_replay), pmd]

    def _connection_ended(self) -> None:
        self._running.clear()

    # Control point

    def _on_control_point_write(self, connection: Connection, value: bytes) -> None:
        if len(value) < 2:
            raise ATT_Error(ATT_INVALID_ATTRIBUTE_LENGTH_ERROR)
        response, started = self._answer(connection, value)
        self._spawn(self._respond(connection, response, started))

    async def _respond(self, connection: Connection, response: bytes, started: str | None) -> None:
        # Only over the link that asked: after a drop-out the answer, and the stream, go nowhere.
        if self._connection is not connection:
            return
        await self._indicate(response)
        # A real device streams even when the client never enabled the indication.
        if started is not None and self._connection is connection:
            self._running.add(started)
            self._start_replay()

    async def _indicate(self, payload: bytes) -> None:
        connection, device = self._connection, self._device
        if connection is None or device is None:
            return
        try:
            await device.indicate_subscriber(connection, self._control_point, payload)
        except TimeoutError:
            # Bumble waits out its timeout for a confirmation that a lost link never brings.
            if self._connection is connection:
                raise

    def _answer(self, connection: Connection, value: bytes) -> tuple[bytes, str | None]:
        """The response to one request, and the measurement it starts, if any."""
        opcode_byte, type_byte = value[0], value[1]

        def error(status: Status) -> tuple[bytes, None]:
            return bytes([RESPONSE_CODE, opcode_byte, type_byte, status]), None

        if opcode_byte not in _OPCODES:
            return error(Status.INVALID_OP_CODE)
        name = MEASUREMENT_NAMES.get(type_byte & _TYPE_MASK)
        if name is None:
            return error(Status.INVALID_MEASUREMENT_TYPE)
        spec = self.profile.measurements.get(name)
        if spec is None or name not in self.profile.features or type_byte & _OFFLINE:
            return error(Status.NOT_SUPPORTED)
        try:
            request = ControlPointRequest.from_bytes(value)
        except MalformedPayload:
            return error(Status.INVALID_PARAMETER)

        def success(params: bytes = b"") -> bytes:
            return bytes(ControlPointResponse(request.opcode, name, Status.SUCCESS, params=params))

        match request.opcode:
            case Opcode.GET_MEASUREMENT_SETTINGS:
                # Polar rejects anything but exactly ``01 <type>`` (polar-ble-sdk#451).
                if len(value) != 2:
                    return error(Status.INVALID_PARAMETER)
                return success(encode_settings(spec.settings)), None
            case Opcode.REQUEST_MEASUREMENT_START:
                status = self._start_status(connection, name, spec, request.settings)
                if status != Status.SUCCESS:
                    return error(status)
                return success(spec.start_params), name
            case Opcode.STOP_MEASUREMENT:
                self._running.discard(name)
                return success(), None
            case _:
                return error(Status.NOT_SUPPORTED)

    def _start_status(self, connection: Connection, name: str, spec: MeasurementSpec, settings: Settings) -> Status:
        if name in self._running:
            return Status.ALREADY_IN_STATE
        if connection.att_mtu < PMD_MIN_MTU:
            return Status.INVALID_MTU
        for setting, offered in spec.settings.items():
            values = settings.get(setting)
            if values is None or len(values) != 1 or values[0] not in offered:
                return _SETTING_STATUS.get(setting, Status.INVALID_PARAMETER)
        if not settings.keys() <= spec.settings.keys():
            return Status.INVALID_PARAMETER
        return self._stream_status(name, settings)

    def _stream_status(self, name: str, settings: Settings) -> Status:
        """Whether the replay can feed this stream: the virtual device's own limitation.

        The replay's frames are sent as they are, so a stream needs frames of that
        measurement, and for ACC the replay's sample rate; other offered rates are
        answered INVALID_SAMPLE_RATE, a measurement the replay lacks NOT_SUPPORTED.
        """
        if MEASUREMENT_TYPES[name] not in self.replay.measurements():
            return Status.NOT_SUPPORTED
        acc = self.replay.acc
        if name == "acc" and acc is not None and settings["sample_rate"] != [acc.sample_rate_hz]:
            return Status.INVALID_SAMPLE_RATE
        return Status.SUCCESS

    # Data

    async def _deliver(self, item: ReplayItem, origin_ns: int) -> None:
        if item.characteristic == HEART_RATE_MEASUREMENT_UUID:
            await self._notify(item.characteristic, item.payload)
        elif item.payload and MEASUREMENT_NAMES.get(item.payload[0] & _TYPE_MASK) in self._running:
            await self._notify(PMD_DATA_UUID, self._restamped(item.payload, origin_ns))

    def _restamped(self, payload: bytes, origin_ns: int) -> bytes:
        """The frame with its sensor timestamp moved onto this device's clock."""
        timestamp_ns = pmd_timestamp_ns(payload)
        if not timestamp_ns:  # too short to carry one, or 0: no time (PPI)
            return payload
        scenario_ns = self.replay.sensor_scenario_ns(timestamp_ns, origin_ns)
        return with_pmd_timestamp(payload, self._sensor_clock().sensor_ns(scenario_ns))

    # Faults

    async def stop_measurement_unsolicited(self, measurements: Iterable[str] | None = None) -> None:
        """Stop streams as the device does on its own, announcing ``01 <types…>`` on the control point.

        Default: every running measurement (nothing is sent if none runs).
        """
        stopped = tuple(self._running if measurements is None else measurements)
        self._running.difference_update(stopped)
        if stopped:
            await self._indicate(bytes(MeasurementStopped(stopped)))
