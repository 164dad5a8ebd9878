"""The device drivers through bleak's public API, against virtual wearables on Bumble."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import h10_ecg_replay

from drivers.devices import (
    DeviceEvent,
    HeartRateStrap,
    LinkEvent,
    MalformedNotification,
    PolarH10,
    PolarVeritySense,
    ReconnectPolicy,
    Wearable,
    WearableError,
)
from drivers.devices.discovery import DiscoveredWearable, classify, driver_for, find, scan
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, HEART_RATE_SERVICE_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, PMD_SERVICE_UUID, decode_frame
from drivers.readings import AccelerationBatch, EcgBatch, HeartRateReading, PpiBatch
from drivers.virtual import (
    Replay,
    VirtualHeartRateStrap,
    VirtualPolarH10,
    VirtualVeritySense,
    backend_classes,
    verity_replay,
)
from monitor.composites import WALKING_CAPTURE

CLIENT, SCANNER = backend_classes()
REPLAY = Replay.from_capture(WALKING_CAPTURE)
CAPTURE_HR_BPM = [
    parse_heart_rate(i.payload).bpm for i in REPLAY.items if i.characteristic == HEART_RATE_MEASUREMENT_UUID
]
CAPTURE_ACC_MG = np.concatenate(
    [decode_frame(i.payload).samples for i in REPLAY.items if i.characteristic == PMD_DATA_UUID]
)
SPEED = 10.0  # the capture plays ten times faster than real time
FAST = ReconnectPolicy(
    initial_delay_s=0.05, max_delay_s=0.2, give_up_after_s=3.0, silence_timeout_s=1.0, connect_timeout_s=2.0
)
TIMEOUT_S = 10.0


async def collect(wearable: Wearable, until: Callable[[list[DeviceEvent]], bool]) -> list[DeviceEvent]:
    events: list[DeviceEvent] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for event in wearable:
            events.append(event)
            if until(events):
                break
    return events


def heart_rates(events: list[DeviceEvent]) -> list[int]:
    return [e.bpm for e in events if isinstance(e, HeartRateReading)]


def acc_mg(events: list[DeviceEvent]) -> np.ndarray:
    batches = [e.acc_mg for e in events if isinstance(e, AccelerationBatch)]
    return np.concatenate(batches) if batches else np.empty((0, 3))


def capture_offset(received_mg: np.ndarray) -> int:
    """Where in the capture's ACC the received samples begin."""
    frame = received_mg[:36]
    for start in range(0, len(CAPTURE_ACC_MG) - 36, 36):
        if np.array_equal(CAPTURE_ACC_MG[start : start + 36], frame):
            return start
    raise AssertionError("the first received frame is not in the capture")


def link_events(events: list[DeviceEvent]) -> list[str]:
    return [e.kind for e in events if isinstance(e, LinkEvent)]


@pytest.fixture
async def h10() -> AsyncIterator[VirtualPolarH10]:
    async with VirtualPolarH10(REPLAY, speed=SPEED, at_end="stop") as device:
        yield device


async def discover_one(kind: str) -> DiscoveredWearable:
    wearables = await scan(timeout_s=0.5, backend=SCANNER)
    matches = [w for w in wearables if w.kind == kind]
    assert len(matches) == 1, wearables
    return matches[0]


def test_classification_by_name_and_services() -> None:
    assert classify("Polar H10 0A1B2C3D", [HEART_RATE_SERVICE_UUID, PMD_SERVICE_UUID]) == "polar_h10"
    assert classify("Polar Sense B5C6D7E8", [PMD_SERVICE_UUID]) == "polar_verity_sense"
    assert classify("Garmin HRM-Dual", [HEART_RATE_SERVICE_UUID.upper()]) == "heart_rate_strap"
    assert classify("Stryd", ["00001814-0000-1000-8000-00805f9b34fb"]) == "footpod"
    assert classify("Kitchen scale", []) is None


async def test_scan_finds_and_classifies_both_kinds(h10: VirtualPolarH10) -> None:
    async with VirtualHeartRateStrap(REPLAY, speed=SPEED):
        wearables = await scan(timeout_s=0.5, backend=SCANNER)
    kinds = {w.kind: w for w in wearables}
    assert set(kinds) == {"polar_h10", "heart_rate_strap"}
    assert kinds["polar_h10"].name == "Polar H10 0A1B2C3D"
    assert HEART_RATE_SERVICE_UUID in kinds["heart_rate_strap"].services
    assert find(wearables, "0a1b2c3d") is kinds["polar_h10"]
    assert find(wearables, kinds["heart_rate_strap"].address.lower()) is kinds["heart_rate_strap"]
    assert find(wearables, "nobody") is None


async def test_h10_streams_every_sample_of_the_capture(h10: VirtualPolarH10) -> None:
    discovered = await discover_one("polar_h10")
    driver = driver_for(discovered, backend=CLIENT, policy=FAST)
    assert isinstance(driver, PolarH10)
    async with driver:
        events = await collect(driver, lambda ev: len(acc_mg(ev)) >= 3600 and len(heart_rates(ev)) >= 15)
        assert h10.running == {"acc"}
    # Stopped on exit: an H10 left streaming drains its battery.
    assert h10.running == frozenset()
    assert link_events(events)[0] == "connected"
    hr = heart_rates(events)
    assert hr == CAPTURE_HR_BPM[: len(hr)]
    # ACC starts a moment after heart rate (the start request), then every sample follows.
    received = acc_mg(events)
    start = capture_offset(received)
    np.testing.assert_array_equal(received, CAPTURE_ACC_MG[start : start + len(received)])
    batches = [e for e in events if isinstance(e, AccelerationBatch)]
    assert np.all(np.diff(np.concatenate([b.t_sensor_ns for b in batches])) > 0)


async def test_two_devices_at_once(h10: VirtualPolarH10) -> None:
    async with VirtualHeartRateStrap(REPLAY, speed=SPEED, address="C0:DE:00:00:00:07", name="Garmin HRM-Pro"):
        strap_found = await discover_one("heart_rate_strap")
        h10_found = await discover_one("polar_h10")
        async with (
            HeartRateStrap(strap_found.device, backend=CLIENT) as strap,
            PolarH10(h10_found.device, backend=CLIENT) as polar,
        ):
            strap_events, h10_events = await asyncio.gather(
                collect(strap, lambda ev: len(heart_rates(ev)) >= 5),
                collect(polar, lambda ev: len(heart_rates(ev)) >= 5 and len(acc_mg(ev)) > 0),
            )
    assert heart_rates(strap_events) == CAPTURE_HR_BPM[:5]
    assert heart_rates(h10_events) == CAPTURE_HR_BPM[:5]


async def test_lost_link_is_reconnected_and_the_gap_recorded(h10: VirtualPolarH10) -> None:
    found = await discover_one("polar_h10")
    async with PolarH10(found.device, backend=CLIENT, policy=FAST) as driver:
        before = await collect(driver, lambda ev: len(heart_rates(ev)) >= 3)
        await h10.drop_link()
        after = await collect(driver, lambda ev: "reconnected" in link_events(ev) and len(heart_rates(ev)) >= 3)
        assert h10.running == {"acc"}  # the ACC stream was started again
    assert link_events(after)[:2] == ["disconnected", "reconnected"]
    gap = next(e for e in after if isinstance(e, LinkEvent) and e.kind == "reconnected")
    assert gap.detail.startswith("gap of ")
    # Nothing that arrived is lost or reordered: before and after are runs of the capture.
    hr_before, hr_after = heart_rates(before), heart_rates(after)
    assert hr_before == CAPTURE_HR_BPM[: len(hr_before)]
    start = next(
        i for i in range(len(hr_before), len(CAPTURE_HR_BPM)) if CAPTURE_HR_BPM[i : i + len(hr_after)] == hr_after
    )
    assert start >= len(hr_before)


async def test_malformed_notifications_are_counted_and_skipped(h10: VirtualPolarH10) -> None:
    found = await discover_one("polar_h10")
    async with PolarH10(found.device, backend=CLIENT, policy=FAST) as driver:
        await collect(driver, lambda ev: len(heart_rates(ev)) >= 1)
        await h10.inject_malformed(
            [b"\x10", b"\x11\x50\x00\x01"], corrupt_next=2, characteristic=HEART_RATE_MEASUREMENT_UUID
        )
        await h10.inject_malformed([b"\x02\x00"], characteristic=PMD_DATA_UUID)
        events = await collect(
            driver,
            lambda ev: len([e for e in ev if isinstance(e, MalformedNotification)]) >= 5 and len(heart_rates(ev)) >= 3,
        )
    malformed = [e for e in events if isinstance(e, MalformedNotification)]
    assert len(malformed) == 5
    assert {m.characteristic for m in malformed} == {HEART_RATE_MEASUREMENT_UUID, PMD_DATA_UUID}
    assert all(m.message for m in malformed)
    assert len(heart_rates(events)) >= 3  # the session carried on


async def test_pmd_refusals_are_clear_errors(h10: VirtualPolarH10) -> None:
    found = await discover_one("polar_h10")
    with pytest.raises(WearableError, match=r"INVALID_SAMPLE_RATE \(8\)"):
        async with PolarH10(found.device, backend=CLIENT, acc_rate_hz=100):
            pass
    with pytest.raises(WearableError, match=r"INVALID_MTU \(10\)"):
        async with PolarH10(found.device, backend=CLIENT, client_kwargs={"bumble": {"mtu": 23}}):
            pass
    assert h10.running == frozenset()


async def test_a_silent_sensor_is_restarted_by_the_watchdog(h10: VirtualPolarH10) -> None:
    found = await discover_one("polar_h10")
    async with PolarH10(found.device, backend=CLIENT, policy=FAST) as driver:
        await collect(driver, lambda ev: len(heart_rates(ev)) >= 2)
        h10.go_silent()
        silent = await collect(driver, lambda ev: "silent" in link_events(ev))
        h10.resume()
        after = await collect(driver, lambda ev: "reconnected" in link_events(ev) and len(heart_rates(ev)) >= 2)
    assert "silent" in link_events(silent)
    assert len(heart_rates(after)) >= 2


async def test_a_device_that_never_returns_is_given_up() -> None:
    async with VirtualPolarH10(REPLAY, speed=SPEED) as h10:
        found = await discover_one("polar_h10")
        policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.1, give_up_after_s=0.8, connect_timeout_s=0.3)
        async with PolarH10(found.device, backend=CLIENT, policy=policy) as driver:
            await collect(driver, lambda ev: len(heart_rates(ev)) >= 1)
            await h10.stop()
            events = [event async for event in driver]  # ends by itself
    assert link_events(events)[0] == "disconnected"
    assert link_events(events)[-1] == "gave_up"


async def test_a_stream_the_device_stops_is_started_again(h10: VirtualPolarH10) -> None:
    found = await discover_one("polar_h10")
    async with PolarH10(found.device, backend=CLIENT, policy=FAST) as driver:
        await collect(driver, lambda ev: len(acc_mg(ev)) > 0)
        await h10.stop_measurement_unsolicited(["acc"])
        events = await collect(driver, lambda ev: "stream_stopped" in link_events(ev) and len(acc_mg(ev)) > 0)
        assert h10.running == {"acc"}
    stopped = next(e for e in events if isinstance(e, LinkEvent) and e.kind == "stream_stopped")
    assert stopped.detail == "acc"


async def test_verity_sense_streams_compressed_acc_and_ppi() -> None:
    replay = verity_replay(REPLAY)
    source_mg = np.concatenate([decode_frame(i.payload).samples for i in replay.items if i.payload[0] & 0x3F == 2])
    source_pp_ms = [
        float(pp)
        for i in replay.items
        if i.characteristic == PMD_DATA_UUID and i.payload[0] & 0x3F == 3
        for pp in decode_frame(i.payload).samples["pp_ms"]
    ]
    async with VirtualVeritySense(replay, speed=SPEED) as verity:
        found = await discover_one("polar_verity_sense")
        driver = driver_for(found, backend=CLIENT, policy=FAST)
        assert isinstance(driver, PolarVeritySense)
        async with driver:
            events = await collect(
                driver, lambda ev: len(acc_mg(ev)) >= 200 and sum(isinstance(e, PpiBatch) for e in ev) >= 5
            )
            assert verity.running == {"acc", "ppi"}
        assert verity.running == frozenset()
    received = acc_mg(events)
    start = next(i for i in range(len(source_mg)) if np.array_equal(source_mg[i : i + 36], received[:36]))
    np.testing.assert_array_equal(received, source_mg[start : start + len(received)])
    pp_ms = [float(pp) for e in events if isinstance(e, PpiBatch) for pp in e.pp_ms]
    assert any(source_pp_ms[i : i + len(pp_ms)] == pp_ms for i in range(len(source_pp_ms)))
    assert all(e.t_sensor_ns is None for e in events if isinstance(e, PpiBatch))  # the Verity sends timestamp 0


async def test_h10_ecg_arrives_sample_for_sample(recordings: Path) -> None:
    replay, source_uv = h10_ecg_replay(recordings, seconds=30, heart_rate=REPLAY)
    async with VirtualPolarH10(replay, speed=SPEED, at_end="stop") as h10:
        found = await discover_one("polar_h10")
        async with PolarH10(found.device, backend=CLIENT, acc_rate_hz=None, ecg=True) as driver:
            events = await collect(driver, lambda ev: sum(len(e.ecg_uv) for e in ev if isinstance(e, EcgBatch)) >= 730)
            assert h10.running == {"ecg"}
    received = np.concatenate([e.ecg_uv for e in events if isinstance(e, EcgBatch)])
    start = next(i for i in range(0, len(source_uv), 73) if np.array_equal(source_uv[i : i + 73], received[:73]))
    np.testing.assert_array_equal(received, source_uv[start : start + len(received)])
