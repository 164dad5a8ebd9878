"""Live sessions: a virtual H10 through bleak and the drivers into the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from helpers import h10_ecg_replay

from drivers.devices import PolarH10, PolarVeritySense, ReconnectPolicy
from drivers.devices.discovery import scan
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.virtual import Replay, VirtualPolarH10, VirtualVeritySense, backend_classes, verity_replay
from monitor.composites import WALKING_CAPTURE
from monitor.live import record_session
from monitor.sinks import PatientInStore
from monitor.store import Store, TrainingSession

CLIENT, SCANNER = backend_classes()
REPLAY = Replay.from_capture(WALKING_CAPTURE)
CAPTURE_RR_MS = [
    rr
    for i in REPLAY.items
    if i.characteristic == HEART_RATE_MEASUREMENT_UUID
    for rr in parse_heart_rate(i.payload).rr_ms
]
SPEED = 10.0
FAST = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.2, give_up_after_s=3.0, silence_timeout_s=1.0)


async def test_a_live_session_survives_a_dropout_and_records_it(store: Store, patient_id: int) -> None:
    async with VirtualPolarH10(REPLAY, speed=10.0) as h10:
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarH10(found.device, backend=CLIENT, policy=FAST)

        async def faults() -> None:
            await asyncio.sleep(1.0)
            await h10.inject_malformed([b"\x10"])
            await h10.drop_link()

        fault_task = asyncio.create_task(faults())
        session = await record_session(PatientInStore(store, patient_id), [driver], kind="walking", duration_s=3.0)
        await fault_task
    assert session.status == "complete"
    assert session.duration_s is not None
    assert 2.5 < session.duration_s < 4.0
    assert session.malformed_count == 1
    rr = store.signals.read(session.id, "rr_ms").values[:, 0]
    # Beats from before and after the drop-out, each a run of the capture's RR series.
    assert 20 < len(rr) < len(CAPTURE_RR_MS)
    assert list(rr[:10]) == CAPTURE_RR_MS[:10]
    acc = store.signals.read(session.id, "acc_mg")
    assert session.acc_sample_count == len(acc) > 1000
    assert np.all(np.diff(acc.t_ns) > 0)
    with store.session() as db:
        kinds = [e.kind for e in db.get_one(TrainingSession, session.id).events]
    assert kinds[:1] == ["connected"]
    assert "disconnected" in kinds
    assert "reconnected" in kinds
    assert "malformed" in kinds


async def test_a_verity_session_stores_its_pulse_intervals(store: Store, patient_id: int) -> None:
    replay = verity_replay(REPLAY)
    async with VirtualVeritySense(replay, speed=10.0):
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarVeritySense(found.device, backend=CLIENT, policy=FAST)
        session = await record_session(PatientInStore(store, patient_id), [driver], kind="walking", duration_s=2.0)
    ppi = store.signals.read(session.id, "ppi_ms")
    assert len(ppi) >= 10
    # PPI frames are built from the capture's RR, rounded to whole ms.
    assert ppi.values[:10, 0].tolist() == [round(rr) for rr in CAPTURE_RR_MS[:10]]
    assert np.all(np.diff(ppi.t_ns) > 0)
    assert session.acc_sample_count is not None
    assert session.acc_sample_count > 0


async def test_ecg_is_stored_and_a_strap_that_never_returns_interrupts_the_session(
    store: Store, patient_id: int, recordings: Path
) -> None:
    replay, source_uv = h10_ecg_replay(recordings, seconds=60, heart_rate=REPLAY)
    policy = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.1, give_up_after_s=0.8, connect_timeout_s=0.3)
    async with VirtualPolarH10(replay, speed=SPEED) as h10:
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarH10(found.device, backend=CLIENT, acc_rate_hz=None, ecg=True, policy=policy)

        async def strap_taken_off() -> None:
            await asyncio.sleep(1.5)
            await h10.stop()

        stopper = asyncio.create_task(strap_taken_off())
        session = await record_session(PatientInStore(store, patient_id), [driver], kind="strength", duration_s=30)
        await stopper
    assert session.status == "interrupted"
    assert session.duration_s is not None
    assert session.duration_s < 10
    ecg = store.signals.read(session.id, "ecg_uv").values[:, 0]
    assert len(ecg) >= 730
    start = next(i for i in range(0, len(source_uv), 73) if np.array_equal(source_uv[i : i + 73], ecg[:73]))
    np.testing.assert_array_equal(ecg, source_uv[start : start + len(ecg)])
    with store.session() as db:
        kinds = [e.kind for e in db.get_one(TrainingSession, session.id).events]
    assert kinds[-1] == "gave_up"
