"""The Heart Rate Service 0x180D of a virtual strap, and the plain standard strap itself."""

from __future__ import annotations

from collections.abc import Callable

from bumble.device import Connection
from bumble.gatt import Characteristic, Service

from drivers.gatt import BODY_SENSOR_LOCATION_UUID, HEART_RATE_MEASUREMENT_UUID, HEART_RATE_SERVICE_UUID
from drivers.virtual.peripheral import VirtualPeripheral, gatt_characteristic
from drivers.virtual.replay import AtEnd, Replay, ReplayItem
from drivers.virtual.uuids import bumble_uuid

BODY_SENSOR_LOCATION_CHEST = 1


def heart_rate_service(on_subscribed: Callable[[], None]) -> Service:
    """HRM (notify) and Body Sensor Location (read: chest); ``on_subscribed`` runs when a central enables HRM."""
    measurement = gatt_characteristic(HEART_RATE_MEASUREMENT_UUID, Characteristic.Properties.NOTIFY)

    def on_subscription(connection: Connection, notify_enabled: bool, indicate_enabled: bool) -> None:
        if notify_enabled:
            on_subscribed()

    measurement.on(Characteristic.EVENT_SUBSCRIPTION, on_subscription)
    location = gatt_characteristic(
        BODY_SENSOR_LOCATION_UUID, Characteristic.Properties.READ, read=lambda _: bytes([BODY_SENSOR_LOCATION_CHEST])
    )
    return Service(bumble_uuid(HEART_RATE_SERVICE_UUID), [measurement, location])


class VirtualHeartRateStrap(VirtualPeripheral):
    """A standard Bluetooth heart-rate chest strap: the Heart Rate Service and nothing else.

    Sends the replay's Heart Rate Measurement notifications (PMD frames in it are ignored).
    """

    def __init__(
        self,
        replay: Replay,
        *,
        name: str = "Virtual HRM 0001",
        address: str = "C0:DE:00:00:00:01",
        speed: float = 1.0,
        at_end: AtEnd = "loop",
    ) -> None:
        super().__init__(
            name=name,
            address=address,
            advertised_services=[HEART_RATE_SERVICE_UUID],
            replay=replay,
            speed=speed,
            at_end=at_end,
        )

    def _services(self) -> list[Service]:
        return [heart_rate_service(self._start_replay)]

    async def _deliver(self, item: ReplayItem, origin_ns: int) -> None:
        if item.characteristic == HEART_RATE_MEASUREMENT_UUID:
            await self._notify(item.characteristic, item.payload)
