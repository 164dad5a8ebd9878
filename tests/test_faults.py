"""Faults on the Bluetooth side: each test checks that nothing is lost and that the session says what happened.

The fault catalogue of issue 8 (docs/RELIABILITY.md cites it), with the test that proves each:

Bluetooth (a virtual Polar H10 on Bumble, through bleak and the drivers):

- link lost once, reconnected, the gap recorded:
  ``test_devices.py::test_lost_link_is_reconnected_and_the_gap_recorded``, and in a stored session
  ``test_live.py::test_a_live_session_survives_a_dropout_and_records_it``;
- a reconnect storm, 20 drops, some in the middle of a reconnect: here,
  ``test_a_reconnect_storm_stores_every_sample_that_arrived_once_and_records_every_gap``;
- a device that never returns: ``test_devices.py::test_a_device_that_never_returns_is_given_up``, and the
  session it interrupts: ``test_live.py::test_ecg_is_stored_and_a_strap_that_never_returns_interrupts_the_session``;
- a sensor that stays connected but stops notifying (the watchdog):
  ``test_devices.py::test_a_silent_sensor_is_restarted_by_the_watchdog``; in the session's events and the
  live view: here, ``test_a_sensor_that_stops_notifying_is_shown_dropped_out_live_and_written_down``;
- a stream the device stops by itself: ``test_devices.py::test_a_stream_the_device_stops_is_started_again``;
- a few malformed payloads: ``test_devices.py::test_malformed_notifications_are_counted_and_skipped``; a storm
  of thousands among the good ones: here, ``test_a_storm_of_malformed_payloads_is_counted_exactly_and_skipped``;
  malformed capture lines: ``test_replay.py::test_bad_lines_and_payloads_are_reported_by_line_and_the_rest_is_stored``.

Servers and processes (``test_faults_processes.py`` unless named otherwise):

- the Dosis server killed mid-session and started again:
  ``test_hub_streaming.py::test_a_server_killed_mid_session_and_restarted_gets_every_sample_once``;
- the signal database (InfluxDB) stopped during ingest:
  ``test_hub_streaming.py::test_the_signal_database_stopped_during_ingest_loses_nothing``;
- the relational database (PostgreSQL) stopped during ingest:
  ``test_postgres_stopped_during_ingest_loses_nothing_and_the_hub_backfills``;
- a hub killed mid-session:
  ``test_hub_streaming.py::test_a_hub_killed_mid_session_sends_what_it_spooled_when_it_starts_again``;
- a local recording (no hub) killed with SIGKILL:
  ``test_a_recording_killed_mid_session_keeps_what_it_stored_and_is_ended_as_interrupted``, the checks
  that only a dead process's session is ended: ``test_only_sessions_of_a_dead_recording_process_are_ended``,
  and InfluxDB down when it is: ``test_a_dead_recording_s_session_waits_while_influxdb_is_down_and_is_ended_after``;
- the hub's disk full under its spool: ``test_a_full_disk_under_the_spool_is_reported_and_nothing_is_lost``;
- the server unreachable, answering 5xx, or refusing one message, at the uploader:
  ``test_uploader.py``; the spool's order, numbering and abandoned sessions: ``test_spool.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from bumble.device import Connection
from sqlalchemy import select

from drivers.devices import PolarH10, ReconnectPolicy
from drivers.devices.discovery import scan
from drivers.errors import MalformedPayload
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, Opcode, decode_frame
from drivers.virtual import Replay, VirtualPolarH10, backend_classes
from monitor.composites import WALKING_CAPTURE
from monitor.live import record_session
from monitor.livefeed import LiveFeed, SessionChanged
from monitor.session import MAX_STORED_PROBLEMS
from monitor.sinks import PatientInStore
from monitor.store import SignalChunk, Store, TrainingSession

CLIENT, SCANNER = backend_classes()
REPLAY = Replay.from_capture(WALKING_CAPTURE)
CAPTURE_ACC_MG = np.concatenate(
    [decode_frame(i.payload).samples for i in REPLAY.items if i.characteristic == PMD_DATA_UUID]
)
CAPTURE_HR_BPM = [
    parse_heart_rate(i.payload).bpm for i in REPLAY.items if i.characteristic == HEART_RATE_MEASUREMENT_UUID
]
SPEED = 10.0
POLICY = ReconnectPolicy(
    initial_delay_s=0.02, max_delay_s=0.1, give_up_after_s=10.0, silence_timeout_s=1.0, connect_timeout_s=2.0
)
WAIT_S = 10.0


@dataclass
class Received:
    """Every notification the driver received (its tap), and what the session should store of it."""

    payloads: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, _t_ns: int, _device: str, uuid: str, payload: bytes) -> None:
        self.payloads.append((uuid, payload))

    def parsed(self, uuid: str) -> list[Any]:
        """Each notification of ``uuid`` parsed; None for one that does not parse."""
        parse: Callable[[bytes], Any] = parse_heart_rate if uuid == HEART_RATE_MEASUREMENT_UUID else decode_frame
        parsed = []
        for received_uuid, payload in self.payloads:
            if received_uuid == uuid:
                try:
                    parsed.append(parse(payload))
                except MalformedPayload:
                    parsed.append(None)
        return parsed

    def good(self, uuid: str) -> list[Any]:
        return [p for p in self.parsed(uuid) if p is not None]

    def malformed(self) -> int:
        return sum(p is None for uuid in (HEART_RATE_MEASUREMENT_UUID, PMD_DATA_UUID) for p in self.parsed(uuid))

    def acc_frames(self) -> int:
        return sum(1 for uuid, _ in self.payloads if uuid == PMD_DATA_UUID)

    def acc_mg(self) -> npt.NDArray[np.float64]:
        return np.concatenate([frame.samples for frame in self.good(PMD_DATA_UUID)])


def assert_stored_as_received(store: Store, session: TrainingSession, received: Received) -> None:
    """Every good sample that arrived is stored once, in order, and no two chunks of a signal overlap.

    Every one: also what was on its way when the session ended, and what came while the
    driver stopped the streams.
    """
    heart_rates = received.good(HEART_RATE_MEASUREMENT_UUID)
    hr = store.signals.read(session.id, "hr_bpm")
    assert hr.values[:, 0].tolist() == [h.bpm for h in heart_rates]
    rr = store.signals.read(session.id, "rr_ms")
    assert rr.values[:, 0].tolist() == [r for h in heart_rates for r in h.rr_ms]
    acc = store.signals.read(session.id, "acc_mg")
    np.testing.assert_array_equal(acc.values, received.acc_mg())
    with store.session() as db:
        chunks = db.scalars(
            select(SignalChunk).where(SignalChunk.session_id == session.id).order_by(SignalChunk.t_start_ns)
        ).all()
    for signal in ("hr_bpm", "rr_ms", "acc_mg"):
        spans = [(c.t_start_ns, c.t_end_ns) for c in chunks if c.signal == signal]
        assert all(end < next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), signal


def session_events(store: Store, session: TrainingSession) -> list[tuple[str, str]]:
    with store.session() as db:
        return [(e.kind, e.message) for e in db.get_one(TrainingSession, session.id).events]


class StormyH10(VirtualPolarH10):
    """A virtual H10 that can also lose the link while a central reconnects.

    ``drop_on_connect``: the next that many connections are lost as soon as they are made
    (while the central discovers the services); ``drop_on_start``: the next that many PMD
    start requests are answered by a lost link.
    """

    def __init__(self, replay: Replay, **kwargs: Any) -> None:
        super().__init__(replay, **kwargs)
        self.drop_on_connect = 0
        self.drop_on_start = 0

    def _on_connection(self, connection: Connection) -> None:
        super()._on_connection(connection)
        if self.drop_on_connect > 0:
            self.drop_on_connect -= 1
            self._spawn(self.drop_link())

    def _on_control_point_write(self, connection: Connection, value: bytes) -> None:
        if value[0] == Opcode.REQUEST_MEASUREMENT_START and self.drop_on_start > 0:
            self.drop_on_start -= 1
            self._spawn(self.drop_link())
        super()._on_control_point_write(connection, value)


async def streaming(h10: VirtualPolarH10, received: Received) -> None:
    """Return once the H10 streams ACC and a new frame of it has arrived."""
    frames = received.acc_frames()
    async with asyncio.timeout(WAIT_S):
        while h10.running != {"acc"} or received.acc_frames() == frames:
            await asyncio.sleep(0.01)


DROPS = 20
RECONNECTED = re.compile(r"Polar H10 0A1B2C3D reconnected: gap of \d+\.\d s after (\d+) attempt\(s\)")
STORM_SESSION_S = 10.0
"""Long enough for the storm (about 4 s here) to be over well before the session ends."""


async def test_a_reconnect_storm_stores_every_sample_that_arrived_once_and_records_every_gap(
    store: Store, patient_id: int
) -> None:
    received = Received()
    # Every third drop is followed by another while the central reconnects: on connecting,
    # or at the PMD start request; each of those costs the reconnect one more attempt.
    again = ["", "on connect", "on start"]
    async with StormyH10(REPLAY, speed=SPEED) as h10:
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarH10(found.device, backend=CLIENT, policy=POLICY, tap=received)
        started = asyncio.Event()
        recording = asyncio.create_task(
            record_session(
                PatientInStore(store, patient_id), [driver], kind="walking", duration_s=STORM_SESSION_S, started=started
            )
        )
        await started.wait()
        for drop in range(DROPS):
            await streaming(h10, received)
            h10.drop_on_connect = int(again[drop % 3] == "on connect")
            h10.drop_on_start = int(again[drop % 3] == "on start")
            await h10.drop_link()
        await streaming(h10, received)
        assert not recording.done(), "the storm outlasted the session: make STORM_SESSION_S longer"
        session = await recording
    assert session.status == "complete"
    events = session_events(store, session)
    kinds = [kind for kind, _ in events]
    assert kinds == ["connected"] + ["disconnected", "reconnected"] * DROPS
    gaps = [RECONNECTED.fullmatch(message) for kind, message in events if kind == "reconnected"]
    attempts = [int(gap[1]) if gap else 0 for gap in gaps]
    assert attempts == [1 if again[drop % 3] == "" else 2 for drop in range(DROPS)]
    assert_stored_as_received(store, session, received)
    assert session.acc_sample_count == len(store.signals.read(session.id, "acc_mg"))
    # The storm cut the stream: what arrived is not one run of the capture, so gaps were real.
    acc = received.acc_mg()
    assert len(acc) < len(CAPTURE_ACC_MG)
    assert not any(
        np.array_equal(CAPTURE_ACC_MG[start : start + len(acc)], acc)
        for start in range(0, len(CAPTURE_ACC_MG) - len(acc) + 1, 36)
    )


MALFORMED = 3000
BURST = 50


def cut_short(uuid: str) -> list[bytes]:
    """The capture's notifications of ``uuid`` without their last byte: malformed for the parsers, always."""
    return [i.payload[:-1] for i in REPLAY.items if i.characteristic == uuid]


async def test_a_storm_of_malformed_payloads_is_counted_exactly_and_skipped(store: Store, patient_id: int) -> None:
    cut = {uuid: cut_short(uuid) for uuid in (HEART_RATE_MEASUREMENT_UUID, PMD_DATA_UUID)}
    bursts = []
    for burst in range(MALFORMED // BURST):
        uuid = list(cut)[burst % 2]
        bursts.append((uuid, [cut[uuid][(burst * BURST + i) % len(cut[uuid])] for i in range(BURST)]))
    received = Received()
    async with VirtualPolarH10(REPLAY, speed=SPEED) as h10:
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarH10(found.device, backend=CLIENT, policy=POLICY, tap=received)
        started = asyncio.Event()
        recording = asyncio.create_task(
            record_session(PatientInStore(store, patient_id), [driver], kind="walking", duration_s=4, started=started)
        )
        await started.wait()
        for uuid, payloads in bursts:
            await streaming(h10, received)  # good data between every two bursts
            await h10.inject_malformed(payloads, characteristic=uuid)
        await streaming(h10, received)
        assert not recording.done(), "the storm outlasted the session"
        session = await recording
    assert received.malformed() == MALFORMED  # every bad payload arrived
    assert session.malformed_count == MALFORMED
    events = session_events(store, session)
    problems = [message for kind, message in events if kind == "malformed"]
    assert len(problems) == MAX_STORED_PROBLEMS  # the rest are counted, not each written down
    assert all(m.startswith(("Polar H10 0A1B2C3D 00002a37", "Polar H10 0A1B2C3D fb005c82")) for m in problems)
    assert [kind for kind, _ in events if kind != "malformed"] == ["connected"]
    assert session.status == "complete"
    assert_stored_as_received(store, session, received)
    # Nothing good was lost among the bad: heart rate and ACC are unbroken runs of the capture.
    hr = store.signals.read(session.id, "hr_bpm").values[:, 0].tolist()
    assert hr == CAPTURE_HR_BPM[: len(hr)]
    acc = store.signals.read(session.id, "acc_mg").values
    start = next(s for s in range(0, len(CAPTURE_ACC_MG), 36) if np.array_equal(CAPTURE_ACC_MG[s : s + 36], acc[:36]))
    np.testing.assert_array_equal(acc, CAPTURE_ACC_MG[start : start + len(acc)])


async def test_a_sensor_that_stops_notifying_is_shown_dropped_out_live_and_written_down(
    store: Store, patient_id: int
) -> None:
    feed = LiveFeed()
    received = Received()
    async with VirtualPolarH10(REPLAY, speed=SPEED) as h10:
        (found,) = await scan(timeout_s=0.5, backend=SCANNER)
        driver = PolarH10(found.device, backend=CLIENT, policy=POLICY, tap=received)
        with feed.subscribe() as viewer:
            started = asyncio.Event()
            target = PatientInStore(store, patient_id, live=feed)
            recording = asyncio.create_task(
                record_session(target, [driver], kind="walking", duration_s=5, started=started)
            )
            await started.wait()
            await streaming(h10, received)
            h10.go_silent()

            async def sensor_becomes(state: str) -> SessionChanged:
                async with asyncio.timeout(WAIT_S):
                    while True:
                        update = await viewer.next(WAIT_S)
                        if isinstance(update, SessionChanged) and update.status.sensor == state:
                            return update

            dropped = await sensor_becomes("dropped_out")
            assert dropped.status.alerts == ("sensor_dropped_out",)
            h10.resume()
            back = await sensor_becomes("connected")
            assert back.status.alerts == ()
            await streaming(h10, received)
            session = await recording
    kinds = [kind for kind, _ in session_events(store, session)]
    assert kinds[:3] == ["connected", "silent", "reconnected"]
    (silent,) = [message for kind, message in session_events(store, session) if kind == "silent"]
    assert silent == "Polar H10 0A1B2C3D silent: connected but no notification for 1 s"
    assert_stored_as_received(store, session, received)
