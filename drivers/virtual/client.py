"""bleak client backend over a Bumble host (see ``drivers/virtual/README.md``).

Characteristics are addressed through the Bumble proxies kept in each bleak object's
``obj``, by handle, never by UUID, so duplicate UUIDs stay distinct. The bleak handle of
a characteristic is Bumble's *value* handle. ATT error responses surface as
:class:`bleak.exc.BleakGATTProtocolError`, as on the built-in backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import core
from bumble.att import ATT_Error
from bumble.device import Connection, Peer
from bumble.gatt import GATT_DEVICE_NAME_CHARACTERISTIC
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.hci import Address

from drivers.virtual.radio import DEFAULT_MTU, BumbleAdapter, BumbleArgs
from drivers.virtual.scanner import BleakScannerBumble
from drivers.virtual.uuids import bleak_uuid

_ATT_DEFAULT_MTU = 23


class BleakClientBumble(BaseBleakClient):
    """A bleak client whose central is a Bumble host: the virtual link, or a USB dongle."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        services: set[str] | None = None,
        timeout: float,
        bumble: BumbleArgs | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._args: BumbleArgs = bumble or {}
        self._service_filter = services
        self._peer_address: Address | None = None
        self._name = self.address.replace(":", "-")
        if isinstance(address_or_ble_device, BLEDevice):
            if isinstance(address_or_ble_device.details, Address):
                self._peer_address = address_or_ble_device.details
            self._name = address_or_ble_device.name or self._name
        self._connection: Connection | None = None
        self._notify_callbacks: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._connected().att_mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self._connection is not None:
            return
        adapter = await BumbleAdapter.get(self._args)
        if self._peer_address is None:
            # Kept for reconnects: the virtual devices' addresses are static.
            self._peer_address = await self._find_address()
        address = self._peer_address
        async with adapter.connect_lock:
            try:
                connection = await adapter.device.connect(address, timeout=self._timeout)
            except core.TimeoutError:
                raise TimeoutError(f"no connection to {self.address} within {self._timeout} s") from None
            except core.ConnectionError as error:
                raise BleakError(f"connection to {self.address} failed: {error}") from error
        self._connection = connection
        self._notify_callbacks.clear()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with self._link_lost_as_bleak_error("setting up the connection"):
                peer = Peer(connection)
                mtu = self._args.get("mtu", DEFAULT_MTU)
                if mtu > _ATT_DEFAULT_MTU:
                    await peer.request_mtu(mtu)
                self.services = await self._discover(peer)
                if pair:
                    await connection.pair()
        except BaseException:
            await self.disconnect()
            raise

    async def _find_address(self) -> Address:
        """Resolve a plain address string by scanning, as the built-in backends do."""
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

        def on_advertisement(device: BLEDevice, _: AdvertisementData) -> None:
            if device.address.upper() == self.address.upper() and not found.done():
                found.set_result(device)

        scanner = BleakScannerBumble(on_advertisement, None, "active", bumble=self._args)
        await scanner.start()
        try:
            async with asyncio.timeout(self._timeout):
                device = await found
        except TimeoutError:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.") from None
        finally:
            await scanner.stop()
        self._name = device.name or self._name
        return cast(Address, device.details)

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service_proxy in await peer.discover_services():
            service_uuid = bleak_uuid(service_proxy.uuid)
            if self._service_filter is not None and service_uuid not in self._service_filter:
                continue
            service = BleakGATTService(service_proxy, service_proxy.handle, service_uuid)
            collection.add_service(service)
            for char_proxy in await service_proxy.discover_characteristics():
                if char_proxy.uuid == GATT_DEVICE_NAME_CHARACTERISTIC:
                    self._name = (await char_proxy.read_value()).decode(errors="replace")
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bleak_uuid(char_proxy.uuid),
                    sorted(gatt_char_props_to_strs(int(char_proxy.properties))),
                    self._max_write_without_response_size,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in await char_proxy.discover_descriptors():
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy, descriptor_proxy.handle, bleak_uuid(descriptor_proxy.type), characteristic
                        )
                    )
        return collection

    def _max_write_without_response_size(self) -> int:
        connection = self._connection
        return (connection.att_mtu if connection is not None else _ATT_DEFAULT_MTU) - 3

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._notify_callbacks.clear()
        # Scheduled, not called, for every disconnect, including ours: as BlueZ does.
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            # Returns once Bumble reports the disconnection, so _on_disconnection has run.
            await connection.disconnect()
        except core.BaseBumbleError:
            if self._connection is not None:
                raise
            # The peer dropped the link while we were asking to: disconnected all the same.

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        await self._connected().pair()

    async def unpair(self) -> None:
        raise NotImplementedError("the Bumble backend keeps no bonds to remove")

    def _connected(self) -> Connection:
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        # There is no attribute cache: use_cached reads the device, which bleak allows.
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        async with self._att():
            return bytearray(await proxy.read_value())

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        proxy = cast(DescriptorProxy, descriptor.obj)
        async with self._att():
            return bytearray(await proxy.read_value())

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        async with self._att():
            await proxy.write_value(bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        proxy = cast(DescriptorProxy, descriptor.obj)
        async with self._att():
            await proxy.write_value(bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        async with self._att():
            # Notifications are preferred over indications when both exist, as bleak asks.
            await proxy.subscribe(on_value, prefer_notify=True)
        self._notify_callbacks[characteristic.handle] = on_value

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        on_value = self._notify_callbacks.pop(characteristic.handle, None)
        async with self._att():
            await proxy.unsubscribe(on_value)

    @asynccontextmanager
    async def _att(self) -> AsyncIterator[None]:
        """Map Bumble's ATT failures to bleak's exceptions."""
        self._connected()
        try:
            async with self._link_lost_as_bleak_error("a GATT request"):
                yield
        except ATT_Error as error:
            raise BleakGATTProtocolError(error.error_code) from error
        except core.TimeoutError as error:
            raise TimeoutError(str(error)) from error

    @asynccontextmanager
    async def _link_lost_as_bleak_error(self, during: str) -> AsyncIterator[None]:
        """A link lost while a request waits for its response is a BleakError, as on BlueZ.

        Bumble cancels the pending response's future on a disconnection, so the request
        raises CancelledError though nobody cancelled the task; a driver that reconnects
        would take it for its own cancellation and stop. A real cancellation goes through.
        """
        try:
            yield
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BleakError(f"{self.address}: the link was lost during {during}") from None
