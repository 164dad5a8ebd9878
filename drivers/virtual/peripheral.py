"""The common part of every virtual wearable: a Bumble GATT server on the loop's virtual link.

A peripheral advertises its name and services until a central connects; like a Polar
strap it serves one central at a time (connectable advertising stops with the
connection) and advertises again after a disconnect. Its data come from a
:class:`~drivers.virtual.replay.Replay`, which starts playing when a central first
subscribes to a data characteristic or starts a PMD measurement: a strap put on when the
client first asks for data. Items that fall due while nobody listens are dropped, as a
real device drops what it cannot send.

Fault injection: :meth:`drop_link` (link loss, reason 0x08), :meth:`go_silent` /
:meth:`resume`, :meth:`inject_malformed` and the settable :attr:`clock_drift_ppm`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Self

from bumble.att import ATT_READ_NOT_PERMITTED_ERROR, ATT_WRITE_NOT_PERMITTED_ERROR, ATT_Error
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import (
    HCI_CONNECTION_TIMEOUT_ERROR,
    HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR,
    Address,
)

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import H10_UNSET_CLOCK_NS
from drivers.virtual.radio import local_link, new_local_device
from drivers.virtual.replay import AtEnd, Replay, ReplayItem, SensorClock, play
from drivers.virtual.uuids import bleak_uuid, bumble_uuid

_ADVERTISING_INTERVAL_MS = 20


def gatt_characteristic(
    uuid: str,
    properties: Characteristic.Properties,
    *,
    read: Callable[[Connection], bytes] | None = None,
    write: Callable[[Connection, bytes], None] | None = None,
) -> Characteristic[bytes]:
    """A characteristic that refuses reads and writes it does not offer, with ATT errors.

    Bumble's server does not check permissions (``# TODO: check permissions``), so a write
    to a notify-only characteristic would silently overwrite its value.
    """

    def on_read(connection: Connection) -> bytes:
        if read is None:
            raise ATT_Error(ATT_READ_NOT_PERMITTED_ERROR)
        return read(connection)

    def on_write(connection: Connection, value: bytes) -> None:
        if write is None:
            raise ATT_Error(ATT_WRITE_NOT_PERMITTED_ERROR)
        write(connection, value)

    permissions = Characteristic.Permissions(0)
    if read is not None:
        permissions |= Characteristic.Permissions.READABLE
    if write is not None:
        permissions |= Characteristic.Permissions.WRITEABLE
    return Characteristic(bumble_uuid(uuid), properties, permissions, CharacteristicValue(read=on_read, write=on_write))


class VirtualPeripheral:
    """Base class: lifecycle, advertising, the replay and the faults every wearable shares.

    Subclasses provide :meth:`_services` and :meth:`_deliver`, and call
    :meth:`_start_replay` when a central asks for data.
    """

    clock_epoch_ns = H10_UNSET_CLOCK_NS
    """What the sensor clock reads at power-on: a clock whose time was never set."""

    def __init__(
        self,
        *,
        name: str,
        address: str,
        advertised_services: Sequence[str],
        replay: Replay,
        speed: float = 1.0,
        at_end: AtEnd = "loop",
        clock_drift_ppm: float = 0.0,
    ) -> None:
        self.name = name
        self.address = address.upper()
        self.replay = replay
        self.speed = speed
        self.at_end = at_end
        self._advertised_services = [bumble_uuid(u) for u in advertised_services]
        self._clock_drift_ppm = clock_drift_ppm
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._clock: SensorClock | None = None
        self._connection: Connection | None = None
        self._characteristics: dict[str, Characteristic[bytes]] = {}
        self._replay_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._silent = False
        self._corrupt_next: Counter[str] = Counter()
        self.replay_done = asyncio.Event()
        """Set when a replay with ``at_end="stop"`` has delivered its last item."""

    # Lifecycle

    async def start(self) -> None:
        """Power on inside the running loop's virtual world and start advertising."""
        if self._device is not None:
            return
        device, self._controller = new_local_device(self.name, Address(self.address))
        self._device = device
        self._clock = SensorClock(speed=self.speed, drift_ppm=self._clock_drift_ppm, epoch_ns=self.clock_epoch_ns)
        for service in self._services():
            for characteristic in service.characteristics:
                self._characteristics[bleak_uuid(characteristic.uuid)] = characteristic
            device.add_service(service)
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        await device.power_on()
        await device.start_advertising(
            advertising_data=bytes(self._advertising_data()),
            auto_restart=True,
            advertising_interval_min=_ADVERTISING_INTERVAL_MS,
        )

    async def stop(self) -> None:
        """Power off: the central sees a disconnect, and the device leaves the link."""
        device, controller = self._device, self._controller
        if device is None or controller is None:
            return
        tasks = [*self._tasks, *([self._replay_task] if self._replay_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await device.stop_advertising()
        if self._connection is not None:
            await self._connection.disconnect(HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR)
        await device.power_off()
        local_link().remove_controller(controller)
        self._device = self._controller = self._replay_task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _advertising_data(self) -> AdvertisingData:
        structures: list[tuple[int, bytes]] = [
            (
                AdvertisingData.FLAGS,
                bytes([AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG | AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG]),
            ),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
        ]
        short = [u for u in self._advertised_services if len(u.uuid_bytes) == 2]
        long = [u for u in self._advertised_services if len(u.uuid_bytes) == 16]
        if short:
            structures.append((AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, _uuid_bytes(short)))
        if long:
            structures.append((AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, _uuid_bytes(long)))
        return AdvertisingData(structures)

    # Connections

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._connection_ended()

    def _connection_ended(self) -> None:
        """Forget per-connection state; subclasses extend this."""

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` after the current ATT exchange, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Data

    def _services(self) -> list[Service]:
        raise NotImplementedError

    async def _deliver(self, item: ReplayItem, origin_ns: int) -> None:
        """Send one replayed notification (``origin_ns``: scenario time its pass started)."""
        raise NotImplementedError

    def _start_replay(self) -> None:
        if self._replay_task is None and self._clock is not None:
            self._replay_task = asyncio.create_task(self._play(self._clock))

    async def _play(self, clock: SensorClock) -> None:
        await play(self.replay, clock, self._deliver, at_end=self.at_end)
        self.replay_done.set()

    def sensor_time_ns(self) -> int:
        """What the device's sensor clock reads now (ns since 2000-01-01, as in PMD frames)."""
        clock = self._sensor_clock()
        return clock.sensor_ns(clock.scenario_now_ns())

    def _sensor_clock(self) -> SensorClock:
        if self._clock is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._clock

    async def _notify(self, uuid: str, payload: bytes) -> None:
        """Notify a data payload, unless silent; applies pending corruption."""
        if self._silent:
            return
        if self._corrupt_next[uuid] > 0:
            self._corrupt_next[uuid] -= 1
            payload = payload[:-1]  # cut short, as a lost last fragment would
        await self._send(uuid, payload)

    async def _send(self, uuid: str, payload: bytes) -> None:
        """Notify the connected central, if it subscribed (Bumble checks the CCCD)."""
        connection, device = self._connection, self._device
        if connection is not None and device is not None:
            await device.notify_subscriber(connection, self._characteristics[uuid], payload)

    # Faults

    async def drop_link(self) -> None:
        """Lose the link as out of range does (reason 0x08, supervision timeout); advertising resumes."""
        if self._connection is not None:
            await self._connection.disconnect(HCI_CONNECTION_TIMEOUT_ERROR)

    def go_silent(self) -> None:
        """Stay connected but send no data notifications until :meth:`resume` (the PMD control point still answers)."""
        self._silent = True

    def resume(self) -> None:
        self._silent = False

    async def inject_malformed(
        self,
        payloads: Iterable[bytes] = (),
        *,
        corrupt_next: int = 0,
        characteristic: str = HEART_RATE_MEASUREMENT_UUID,
    ) -> None:
        """Send ``payloads`` now, and cut the last byte off the next ``corrupt_next`` notifications.

        Both go to ``characteristic`` (default: Heart Rate Measurement); the payloads go
        out even while silent. A cut-short heart rate or uncompressed PMD notification is
        always malformed for the parsers.
        """
        uuid = characteristic.lower()
        for payload in payloads:
            await self._send(uuid, payload)
        self._corrupt_next[uuid] += corrupt_next

    @property
    def clock_drift_ppm(self) -> float:
        """How fast the sensor clock runs against the host's, in ppm; settable at any time."""
        return self._clock.drift_ppm if self._clock is not None else self._clock_drift_ppm

    @clock_drift_ppm.setter
    def clock_drift_ppm(self, value: float) -> None:
        self._clock_drift_ppm = value
        if self._clock is not None:
            self._clock.drift_ppm = value


def _uuid_bytes(uuids: Iterable[UUID]) -> bytes:
    return b"".join(u.to_bytes() for u in uuids)
