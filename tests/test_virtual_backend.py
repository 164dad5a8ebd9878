"""The Bumble bleak backend, driven only through bleak's public API against virtual wearables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from helpers import Inbox

from drivers.gatt import BODY_SENSOR_LOCATION_UUID, HEART_RATE_MEASUREMENT_UUID, HEART_RATE_SERVICE_UUID
from drivers.polar_pmd import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID, PMD_SERVICE_UUID
from drivers.virtual import Replay, VirtualHeartRateStrap, VirtualPolarH10, backend_classes
from monitor.composites import WALKING_CAPTURE

CLIENT, SCANNER = backend_classes()
REPLAY = Replay.from_capture(WALKING_CAPTURE)
CAPTURE_HR = [item.payload for item in REPLAY.items if item.characteristic == HEART_RATE_MEASUREMENT_UUID]
# A strap beating 20 times a second (of loop time), for tests that only need a steady stream.
FAST_HR = Replay.heart_rate((i / 20, bytes([0x00, 60 + i])) for i in range(40))
TIMEOUT_S = 3.0


@pytest.fixture
async def h10() -> AsyncIterator[VirtualPolarH10]:
    async with VirtualPolarH10(REPLAY, speed=50) as device:
        yield device


@pytest.fixture
async def strap() -> AsyncIterator[VirtualHeartRateStrap]:
    async with VirtualHeartRateStrap(FAST_HR, speed=10) as device:
        yield device


async def test_scan_sees_each_device_with_its_name_and_services(
    h10: VirtualPolarH10, strap: VirtualHeartRateStrap
) -> None:
    found = await BleakScanner.discover(
        timeout=0.2, return_adv=True, service_uuids=[HEART_RATE_SERVICE_UUID], backend=SCANNER
    )

    names = {address: adv.local_name for address, (_, adv) in found.items()}
    assert names == {h10.address: h10.name, strap.address: strap.name}
    assert all(adv.service_uuids == [HEART_RATE_SERVICE_UUID] for _, adv in found.values())


async def test_service_filter_leaves_out_devices_without_the_service(h10: VirtualPolarH10) -> None:
    found = await BleakScanner.discover(timeout=0.2, service_uuids=[PMD_SERVICE_UUID], backend=SCANNER)

    assert found == []


async def test_find_by_name_then_connect_gives_lowercase_uuids_and_value_handles(h10: VirtualPolarH10) -> None:
    device = await BleakScanner.find_device_by_name(h10.name, timeout=TIMEOUT_S, backend=SCANNER)
    assert device is not None

    async with BleakClient(device, backend=CLIENT) as client:
        assert client.name == h10.name
        assert client.mtu_size == 247
        uuids = {service.uuid for service in client.services}
        assert {HEART_RATE_SERVICE_UUID, PMD_SERVICE_UUID} <= uuids
        control_point = client.services.get_characteristic(PMD_CONTROL_POINT_UUID)
        assert control_point is not None
        assert sorted(control_point.properties) == ["indicate", "read", "write"]
        assert client.services.get_characteristic(PMD_DATA_UUID) is not None
        # Reading by the handle bleak reports reads the characteristic's value.
        assert await client.read_gatt_char(control_point.handle) == await client.read_gatt_char(PMD_CONTROL_POINT_UUID)


async def test_connect_by_address_string_scans_for_it(strap: VirtualHeartRateStrap) -> None:
    async with BleakClient(strap.address, backend=CLIENT, timeout=TIMEOUT_S) as client:
        assert await client.read_gatt_char(BODY_SENSOR_LOCATION_UUID) == b"\x01"


async def test_unknown_address_is_not_found() -> None:
    with pytest.raises(BleakDeviceNotFoundError):
        await BleakClient("C0:00:00:00:00:99", backend=CLIENT, timeout=0.2).connect()


async def test_heart_rate_payloads_equal_the_captures_in_order() -> None:
    async with VirtualPolarH10(REPLAY, speed=200, at_end="stop") as h10:
        inbox = Inbox()
        async with BleakClient(h10.address, backend=CLIENT) as client:
            await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
            received = await inbox.take(len(CAPTURE_HR))
            await h10.replay_done.wait()

    assert received == CAPTURE_HR
    assert inbox.queue.empty()


async def test_att_errors_surface_as_bleak_protocol_errors(strap: VirtualHeartRateStrap) -> None:
    async with BleakClient(strap.address, backend=CLIENT) as client:
        with pytest.raises(BleakGATTProtocolError) as write_error:
            await client.write_gatt_char(HEART_RATE_MEASUREMENT_UUID, b"\x00\x50", response=True)
        with pytest.raises(BleakGATTProtocolError) as read_error:
            await client.read_gatt_char(HEART_RATE_MEASUREMENT_UUID)

    assert write_error.value.code == BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
    assert read_error.value.code == BleakGATTProtocolErrorCode.READ_NOT_PERMITTED


async def test_requested_mtu_is_configurable(strap: VirtualHeartRateStrap) -> None:
    async with BleakClient(strap.address, backend=CLIENT, bumble={"mtu": 23}) as client:
        assert client.mtu_size == 23


async def test_dropped_link_calls_back_and_the_same_client_reconnects(strap: VirtualHeartRateStrap) -> None:
    dropped = asyncio.Event()
    inbox = Inbox()
    client = BleakClient(strap.address, lambda _: dropped.set(), backend=CLIENT)
    await client.connect()
    await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
    await inbox.take(2)

    await strap.drop_link()
    async with asyncio.timeout(TIMEOUT_S):
        await dropped.wait()
    assert not client.is_connected

    await client.connect()
    resumed = Inbox()
    await client.start_notify(HEART_RATE_MEASUREMENT_UUID, resumed)
    assert len(await resumed.take(2)) == 2
    await client.disconnect()


async def test_client_disconnect_also_calls_back(strap: VirtualHeartRateStrap) -> None:
    called = asyncio.Event()
    async with BleakClient(strap.address, lambda _: called.set(), backend=CLIENT) as client:
        pass

    async with asyncio.timeout(TIMEOUT_S):
        await called.wait()
    assert not client.is_connected
    assert not strap.connected


async def test_silent_device_stays_connected_without_notifying(strap: VirtualHeartRateStrap) -> None:
    inbox = Inbox()
    async with BleakClient(strap.address, backend=CLIENT) as client:
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
        await inbox.take(1)
        strap.go_silent()
        # A read's response follows every notification sent before it: nothing is in flight after.
        await client.read_gatt_char(BODY_SENSOR_LOCATION_UUID)
        inbox.queue = asyncio.Queue()
        # A quiet spell ten notification intervals long.
        await asyncio.sleep(10 / 20 / strap.speed)
        assert inbox.queue.empty()
        assert client.is_connected

        strap.resume()
        assert len(await inbox.take(1)) == 1


async def test_two_devices_at_once(h10: VirtualPolarH10, strap: VirtualHeartRateStrap) -> None:
    h10_inbox, strap_inbox = Inbox(), Inbox()
    async with (
        BleakClient(h10.address, backend=CLIENT) as h10_client,
        BleakClient(strap.address, backend=CLIENT) as strap_client,
    ):
        await h10_client.start_notify(HEART_RATE_MEASUREMENT_UUID, h10_inbox)
        await strap_client.start_notify(HEART_RATE_MEASUREMENT_UUID, strap_inbox)
        assert await h10_inbox.take(2) == CAPTURE_HR[:2]
        assert await strap_inbox.take(2) == [item.payload for item in FAST_HR.items[:2]]


async def test_second_central_cannot_connect_while_the_first_is(h10: VirtualPolarH10) -> None:
    device = await BleakScanner.find_device_by_address(h10.address, timeout=TIMEOUT_S, backend=SCANNER)
    assert device is not None
    async with BleakClient(device, backend=CLIENT):
        second = BleakClient(device, backend=CLIENT, timeout=0.2, bumble={"adapter": "hci1"})
        with pytest.raises(TimeoutError):
            await second.connect()
        assert not second.is_connected

    # Free again: the H10 advertises after the first central leaves.
    async with BleakClient(device, backend=CLIENT, bumble={"adapter": "hci1"}) as second_client:
        assert second_client.is_connected
