"""bleak scanner backend over a Bumble host (see ``drivers/virtual/README.md``).

Each advertisement becomes bleak's ``AdvertisementData``; the ``BLEDevice`` keeps the
exact Bumble address (with its type) in ``details`` so a client connects to it without
scanning again. ``discover``, ``find_device_by_*`` and the service filter then work
through bleak's own code.
"""

from __future__ import annotations

from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Device

from drivers.virtual.radio import BumbleAdapter, BumbleArgs
from drivers.virtual.uuids import bleak_uuid

# AD type -> bytes per UUID, for the lists of service UUIDs and for service data.
_SERVICE_UUID_LISTS = {
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}
_SERVICE_DATA = {
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID: 2,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID: 4,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID: 16,
}


class BleakScannerBumble(BaseBleakScanner):
    """A bleak scanner whose radio is a Bumble host: the virtual link, or a USB dongle."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"],
        *,
        bumble: BumbleArgs | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode == "active"
        self._args: BumbleArgs = bumble or {}
        self._adapter: BumbleAdapter | None = None

    async def start(self) -> None:
        adapter = self._adapter = await BumbleAdapter.get(self._args)
        self.seen_devices = {}
        adapter.device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await adapter.start_scanning(active=self._active)

    async def stop(self) -> None:
        adapter, self._adapter = self._adapter, None
        if adapter is None:
            return
        adapter.device.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await adapter.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        service_uuids = _service_uuids(data)
        if not self.is_allowed_uuid(service_uuids):
            return
        name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.Type.SHORTENED_LOCAL_NAME)
        service_data = {
            bleak_uuid(UUID.from_bytes(raw[:size])): raw[size:]
            for kind, size in _SERVICE_DATA.items()
            for raw in data.get_all(kind, raw=True)
        }
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data=dict(data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)),
            service_data=service_data,
            service_uuids=service_uuids,
            tx_power=data.get(AdvertisingData.Type.TX_POWER_LEVEL),
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = advertisement.address.to_string(with_type_qualifier=False)
        # The key includes the address type: the virtual link routes by address *and* type.
        key = advertisement.address.to_string(with_type_qualifier=True)
        device = self.create_or_update_device(key, address, name, advertisement.address, adv)
        self.call_detection_callbacks(device, adv)


def _service_uuids(data: AdvertisingData) -> list[str]:
    uuids = (
        bleak_uuid(UUID.from_bytes(raw[offset : offset + size]))
        for kind, size in _SERVICE_UUID_LISTS.items()
        for raw in data.get_all(kind, raw=True)
        for offset in range(0, len(raw) - size + 1, size)
    )
    # dict.fromkeys: an active scan joins the scan response, which may repeat the list.
    return list(dict.fromkeys(uuids))
