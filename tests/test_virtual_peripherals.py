"""Virtual wearables behave as the real ones on the wire, seen through bleak's public API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError, BleakGATTProtocolErrorCode
from bumble.att import Opcode
from bumble.hci import HCI_ACL_DATA_PACKET
from bumble.snoop import Snooper
from helpers import Inbox

from drivers.errors import MalformedPayload
from drivers.gatt import BODY_SENSOR_LOCATION_UUID, HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import (
    H10_UNSET_CLOCK_NS,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PmdDataFrame,
    decode_frame,
    encode_settings,
    settings_request,
    start_request,
    stop_request,
)
from drivers.virtual import (
    Replay,
    VirtualHeartRateStrap,
    VirtualPolarH10,
    VirtualVeritySense,
    backend_classes,
    verity_replay,
)
from drivers.virtual.pmd_server import PolarPeripheral
from drivers.virtual.radio import BumbleAdapter, BumbleArgs
from drivers.virtual.replay import pmd_timestamp_ns
from drivers.virtual.verity import VERITY_UNSET_CLOCK_NS
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE

CLIENT, _ = backend_classes()
WALKING = Replay.from_capture(WALKING_CAPTURE)  # ACC at 200 Hz
STRENGTH = Replay.from_capture(STRENGTH_CAPTURE)  # ACC at 50 Hz
CAPTURE_HR = [item.payload for item in WALKING.items if item.characteristic == HEART_RATE_MEASUREMENT_UUID]
CAPTURE_ACC = [item.payload for item in WALKING.items if item.characteristic == PMD_DATA_UUID]
START_ACC_200 = start_request("acc", sample_rate=200, resolution=16, range=8)
_ATT_CID = 0x0004


class PmdSession:
    """A connected client with the control point's indications and the data notifications on."""

    def __init__(self, client: BleakClient) -> None:
        self.client = client
        self.responses = Inbox()
        self.frames = Inbox()

    async def request(self, payload: bytes) -> bytes:
        await self.client.write_gatt_char(PMD_CONTROL_POINT_UUID, payload, response=True)
        return await self.responses.next()


@asynccontextmanager
async def pmd_session(device: PolarPeripheral, bumble: BumbleArgs | None = None) -> AsyncIterator[PmdSession]:
    async with BleakClient(device.address, backend=CLIENT, bumble=bumble or {}) as client:
        session = PmdSession(client)
        await client.start_notify(PMD_CONTROL_POINT_UUID, session.responses)
        await client.start_notify(PMD_DATA_UUID, session.frames)
        yield session


@pytest.fixture
async def h10() -> AsyncIterator[VirtualPolarH10]:
    async with VirtualPolarH10(WALKING, speed=50) as device:
        yield device


async def test_control_point_answers_exactly_as_an_h10(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10) as pmd:
        assert await pmd.client.read_gatt_char(PMD_CONTROL_POINT_UUID) == bytes.fromhex("0F 05 00")
        assert await pmd.request(settings_request("acc")) == bytes.fromhex(
            "F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00"
        )
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 00 00 01")
        assert len(await pmd.frames.next()) == len(CAPTURE_ACC[0])
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 06")
        assert await pmd.request(stop_request("acc")) == bytes.fromhex("F0 03 02 00 00")
        assert h10.running == frozenset()


class AttSnooper(Snooper):
    """ATT opcodes of the PDUs a central's host receives, in wire order."""

    def __init__(self) -> None:
        self.opcodes: list[int] = []

    def snoop(self, hci_packet: bytes, direction: Snooper.Direction) -> None:
        # H4 ACL packet: type, handle, length, then L2CAP length and channel (4 = ATT).
        if (
            direction == Snooper.Direction.CONTROLLER_TO_HOST
            and hci_packet[0] == HCI_ACL_DATA_PACKET
            and int.from_bytes(hci_packet[7:9], "little") == _ATT_CID
        ):
            self.opcodes.append(hci_packet[9])


async def test_response_indication_follows_the_write_response_on_the_wire(h10: VirtualPolarH10) -> None:
    snooper = AttSnooper()
    (await BumbleAdapter.get({})).device.host.snooper = snooper
    async with pmd_session(h10) as pmd:
        snooper.opcodes.clear()
        await pmd.request(settings_request("acc"))

    assert snooper.opcodes[:2] == [Opcode.ATT_WRITE_RESPONSE, Opcode.ATT_HANDLE_VALUE_INDICATION]


@pytest.mark.parametrize(
    ("request_bytes", "response_hex"),
    [
        pytest.param(start_request("acc", sample_rate=52, resolution=16, range=8), "F0 02 02 08", id="rate-52"),
        # 100 Hz is an H10 rate, but this replay was recorded at 200 Hz: a virtual limitation.
        pytest.param(start_request("acc", sample_rate=100, resolution=16, range=8), "F0 02 02 08", id="rate-100"),
        pytest.param(start_request("acc", sample_rate=200, resolution=12, range=8), "F0 02 02 07", id="resolution"),
        pytest.param(start_request("acc", sample_rate=200, resolution=16, range=16), "F0 02 02 09", id="range"),
        pytest.param(start_request("acc", sample_rate=200, resolution=16), "F0 02 02 09", id="no-range"),
        pytest.param(start_request("ecg", sample_rate=130, resolution=14), "F0 02 00 03", id="ecg-not-in-replay"),
        pytest.param(start_request("ppg"), "F0 02 01 03", id="ppg-not-offered"),
        pytest.param(bytes.fromhex("02 82 00 01 C8 00"), "F0 02 82 03", id="offline"),
        pytest.param(bytes.fromhex("0A 02"), "F0 0A 02 01", id="opcode"),
        pytest.param(bytes.fromhex("02 3F"), "F0 02 3F 02", id="measurement-type"),
        pytest.param(bytes.fromhex("01 02 00"), "F0 01 02 05", id="settings-with-extra-byte"),
    ],
)
async def test_bad_requests_get_the_h10_status(h10: VirtualPolarH10, request_bytes: bytes, response_hex: str) -> None:
    async with pmd_session(h10) as pmd:
        assert await pmd.request(request_bytes) == bytes.fromhex(response_hex)
    assert h10.running == frozenset()


async def test_replay_rate_is_the_one_that_starts() -> None:
    async with VirtualPolarH10(STRENGTH, speed=50) as h10, pmd_session(h10) as pmd:
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 08")
        start_50 = start_request("acc", sample_rate=50, resolution=16, range=8)
        assert await pmd.request(start_50) == bytes.fromhex("F0 02 02 00 00 01")


async def test_small_mtu_is_refused_with_invalid_mtu(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10, {"mtu": 23}) as pmd:
        assert pmd.client.mtu_size == 23
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 0A")


async def test_short_write_is_an_att_error(h10: VirtualPolarH10) -> None:
    async with BleakClient(h10.address, backend=CLIENT) as client:
        with pytest.raises(BleakGATTProtocolError) as error:
            await client.write_gatt_char(PMD_CONTROL_POINT_UUID, b"\x01", response=True)
    assert error.value.code == BleakGATTProtocolErrorCode.INVALID_ATTRIBUTE_VALUE_LENGTH


def _spacing_ns(frames: list[bytes]) -> list[int]:
    stamps = [pmd_timestamp_ns(frame) or 0 for frame in frames]
    return [later - earlier for earlier, later in itertools.pairwise(stamps)]


async def test_acc_frames_carry_the_capture_on_the_h10_clock(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10) as pmd:
        await pmd.request(START_ACC_200)
        frames = await pmd.frames.take(10)
        sensor_now_ns = h10.sensor_time_ns()

    # Content (frame type and samples) is a run of the capture's frames, in order.
    first = [frame[9:] for frame in CAPTURE_ACC].index(frames[0][9:])
    run = CAPTURE_ACC[first : first + len(frames)]
    assert [frame[:1] + frame[9:] for frame in frames] == [frame[:1] + frame[9:] for frame in run]
    # Timestamps keep the capture's spacing (the sensor's real rate) on an unset H10 clock.
    assert _spacing_ns(frames) == _spacing_ns(run)
    assert H10_UNSET_CLOCK_NS < (pmd_timestamp_ns(frames[-1]) or 0) <= sensor_now_ns


async def test_clock_drift_stretches_frame_spacing() -> None:
    async with VirtualPolarH10(WALKING, speed=50, clock_drift_ppm=1000) as h10, pmd_session(h10) as pmd:
        await pmd.request(START_ACC_200)
        frames = await pmd.frames.take(5)

    first = [frame[9:] for frame in CAPTURE_ACC].index(frames[0][9:])
    expected = [spacing * 1.001 for spacing in _spacing_ns(CAPTURE_ACC[first : first + 5])]
    assert _spacing_ns(frames) == pytest.approx(expected, abs=2)


async def test_no_frames_before_start_or_after_stop(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10) as pmd:
        heart_rate = Inbox()
        await pmd.client.start_notify(HEART_RATE_MEASUREMENT_UUID, heart_rate)
        # Two heart beats span about eleven 200 Hz ACC frames.
        await heart_rate.take(2)
        assert pmd.frames.drain() == []

        await pmd.request(START_ACC_200)
        await pmd.frames.take(2)
        await pmd.request(stop_request("acc"))
        pmd.frames.drain()
        await heart_rate.take(2)
        assert pmd.frames.drain() == []


async def test_unsolicited_stop_is_announced_and_ends_the_stream(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10) as pmd:
        await pmd.request(START_ACC_200)
        await pmd.frames.take(1)

        await h10.stop_measurement_unsolicited()

        assert await pmd.responses.next() == bytes.fromhex("01 02")
        assert h10.running == frozenset()
        # Stopped by the device, it can be started again.
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 00 00 01")


async def test_disconnect_stops_the_streams(h10: VirtualPolarH10) -> None:
    async with pmd_session(h10) as pmd:
        await pmd.request(START_ACC_200)
        await pmd.frames.take(1)
        await h10.drop_link()
    assert h10.running == frozenset()

    async with pmd_session(h10) as pmd:
        assert await pmd.request(START_ACC_200) == bytes.fromhex("F0 02 02 00 00 01")


async def test_next_notifications_corrupted_on_demand(h10: VirtualPolarH10) -> None:
    async with BleakClient(h10.address, backend=CLIENT) as client:
        inbox = Inbox()
        await h10.inject_malformed(corrupt_next=2)
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
        received = await inbox.take(3)

    assert received == [CAPTURE_HR[0][:-1], CAPTURE_HR[1][:-1], CAPTURE_HR[2]]
    for payload in received[:2]:
        with pytest.raises(MalformedPayload):
            parse_heart_rate(payload)


async def test_malformed_payloads_sent_on_demand_even_when_silent(h10: VirtualPolarH10) -> None:
    async with BleakClient(h10.address, backend=CLIENT) as client:
        inbox = Inbox()
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
        await inbox.next()
        h10.go_silent()
        # A read's response follows every notification sent before it: nothing is in flight after.
        await client.read_gatt_char(BODY_SENSOR_LOCATION_UUID)
        inbox.drain()

        await h10.inject_malformed([b"\x10", b"\x00"])

        assert await inbox.take(2) == [b"\x10", b"\x00"]


async def test_replay_loops_at_the_end() -> None:
    beats = [bytes([0x00, bpm]) for bpm in (60, 61, 62)]
    replay = Replay.heart_rate((i * 0.01, payload) for i, payload in enumerate(beats))
    async with VirtualHeartRateStrap(replay, speed=20) as strap, BleakClient(strap.address, backend=CLIENT) as client:
        inbox = Inbox()
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, inbox)
        assert await inbox.take(7) == beats * 2 + beats[:1]


async def test_plain_strap_has_no_pmd() -> None:
    async with VirtualHeartRateStrap(WALKING) as strap, BleakClient(strap.address, backend=CLIENT) as client:
        assert client.services.get_service(PMD_SERVICE_UUID) is None


VERITY = verity_replay(WALKING)
START_VERITY_ACC = start_request("acc", sample_rate=52, resolution=16, range=8, channels=3)


@pytest.fixture
async def verity() -> AsyncIterator[VirtualVeritySense]:
    async with VirtualVeritySense(VERITY, speed=50) as device:
        yield device


async def test_verity_streams_compressed_acc_at_52_hz(verity: VirtualVeritySense) -> None:
    async with pmd_session(verity) as pmd:
        assert await pmd.client.read_gatt_char(PMD_CONTROL_POINT_UUID) == bytes.fromhex("0F 6E 00")
        assert await pmd.request(settings_request("acc")) == bytes.fromhex("F0 01 02 00 00") + encode_settings(
            {"sample_rate": [52], "resolution": [16], "range": [8], "channels": [3]}
        )
        assert await pmd.request(START_VERITY_ACC) == bytes.fromhex("F0 02 02 00 00 05 01 00 00 80 3F")
        frames = [decode_frame(frame, resolution=16, factor=1.0) for frame in await pmd.frames.take(3)]

    assert all(frame.measurement == "acc" and frame.compressed and frame.frame_type == 1 for frame in frames)
    assert all(frame.samples.shape == (36, 3) for frame in frames)
    # 36 samples at 52 Hz apart, on the Verity's unset clock.
    assert [b.timestamp_ns - a.timestamp_ns for a, b in itertools.pairwise(frames)] == pytest.approx(
        [36 / 52 * 1e9] * 2, abs=1e3
    )
    assert all(VERITY_UNSET_CLOCK_NS < frame.timestamp_ns < H10_UNSET_CLOCK_NS for frame in frames)


async def test_verity_ppi_follows_the_rr_intervals(verity: VirtualVeritySense) -> None:
    rr_ms = [
        round(rr)
        for item in WALKING.items
        if item.characteristic == HEART_RATE_MEASUREMENT_UUID
        for rr in parse_heart_rate(item.payload).rr_ms
    ]
    async with pmd_session(verity) as pmd:
        assert await pmd.request(start_request("ppi")) == bytes.fromhex("F0 02 03 00 00")
        frames: list[PmdDataFrame] = [decode_frame(frame) for frame in await pmd.frames.take(3)]

    assert all(frame.measurement == "ppi" and frame.timestamp_ns == 0 for frame in frames)
    received = [int(pp) for frame in frames for pp in frame.samples["pp_ms"]]
    assert any(rr_ms[start : start + len(received)] == received for start in range(len(rr_ms)))


@pytest.mark.parametrize(
    ("request_bytes", "response_hex"),
    [
        pytest.param(
            start_request("acc", sample_rate=26, resolution=16, range=8, channels=3), "F0 02 02 08", id="rate"
        ),
        pytest.param(start_request("acc", sample_rate=52, resolution=16, range=8), "F0 02 02 0B", id="channels"),
        pytest.param(start_request("ppg"), "F0 02 01 03", id="ppg-not-served"),
        pytest.param(start_request("ecg"), "F0 02 00 03", id="ecg-not-offered"),
    ],
)
async def test_verity_refuses_what_it_does_not_serve(
    verity: VirtualVeritySense, request_bytes: bytes, response_hex: str
) -> None:
    async with pmd_session(verity) as pmd:
        assert await pmd.request(request_bytes) == bytes.fromhex(response_hex)
