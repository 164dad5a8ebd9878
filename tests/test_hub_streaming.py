"""A hub streaming to a server, as processes: every sample arrives exactly once through every outage.

A real ``dosis serve`` and a real hub (``dosis replay --server``, the recording path of
``dosis record`` fed from a capture) run as subprocesses. The reference is the same capture
replayed straight into a store with the hub's 1 s chunks: what reaches the server must
equal it sample for sample, or, when the hub is killed, equal its beginning up to what
the hub had spooled.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hub_processes import (
    PSEUDONYM,
    SECOND_PSEUDONYM,
    SPEED,
    Clinic,
    assert_same_samples,
    finished,
    hub,
    replayed_at_the_server,
    spooled,
    stream_walk,
    wait_for,
)
from servers import InfluxDB1Server

from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.settings import Settings
from monitor.store import Store, TrainingSession
from monitor.store.signals import UNIFORM_TOLERANCE_NS


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    clinic = Clinic(tmp_path / "server", Settings())
    clinic.server.start()
    yield clinic
    clinic.server.stop()
    clinic.store.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, TrainingSession]]:
    store, session = replayed_at_the_server(tmp_path_factory.mktemp("walking"), WALKING_CAPTURE)
    yield store, session
    store.close()


@pytest.fixture(scope="module")
def strength_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, TrainingSession]]:
    store, session = replayed_at_the_server(tmp_path_factory.mktemp("strength"), STRENGTH_CAPTURE)
    yield store, session
    store.close()


def test_a_streamed_session_equals_one_recorded_at_the_server(
    clinic: Clinic, reference: tuple[Store, TrainingSession], tmp_path: Path
) -> None:
    folder = tmp_path / "hub"
    log = finished(hub(clinic, folder, "replay", str(WALKING_CAPTURE), "--patient", PSEUDONYM), folder)
    assert "spooled has reached" in log
    session = assert_same_samples(clinic, reference)
    expected = reference[1]
    assert session.status == "complete"
    assert session.uid is not None
    assert (session.hr_mean_bpm, session.hr_coverage, session.beat_count, session.acc_sample_count) == (
        expected.hr_mean_bpm,
        expected.hr_coverage,
        expected.beat_count,
        expected.acc_sample_count,
    )
    assert session.duration_s == pytest.approx(expected.duration_s, abs=1e-6)
    assert session.events == []


def test_two_hubs_streaming_at_once_each_arrive_whole(
    clinic: Clinic,
    reference: tuple[Store, TrainingSession],
    strength_reference: tuple[Store, TrainingSession],
    tmp_path: Path,
) -> None:
    north = stream_walk(clinic, tmp_path / "north")
    south = hub(
        clinic,
        tmp_path / "south",
        *("replay", str(STRENGTH_CAPTURE), "--patient", SECOND_PSEUDONYM, "--speed", str(SPEED)),
        token=clinic.second_token,
    )
    finished(north, tmp_path / "north")
    finished(south, tmp_path / "south")
    walk = assert_same_samples(clinic, reference)
    lift = assert_same_samples(clinic, strength_reference, pseudonym=SECOND_PSEUDONYM)
    assert (walk.kind, lift.kind) == ("walking", "strength")
    assert walk.hub_id != lift.hub_id


def test_a_server_killed_mid_session_and_restarted_gets_every_sample_once(
    clinic: Clinic, reference: tuple[Store, TrainingSession], tmp_path: Path
) -> None:
    streaming = stream_walk(clinic, tmp_path / "hub")
    wait_for(lambda: clinic.samples() > 2_000, "the first seconds to reach the server")
    clinic.server.kill()
    wait_for(lambda: spooled(tmp_path / "hub") >= 10, "the hub to record on into its spool")
    clinic.server.start()
    finished(streaming, tmp_path / "hub")
    session = assert_same_samples(clinic, reference)
    assert session.status == "complete"
    (outage,) = [e for e in session.events if e.kind == "server_unreachable"]
    assert "could not deliver to the server" in outage.message
    # The kill may find a request on its way (RemoteProtocolError, ReadError) or none (ConnectError).
    assert re.search(r"\((ConnectError|RemoteProtocolError|ReadError)\b", outage.message), outage.message


def test_the_signal_database_stopped_during_ingest_loses_nothing(
    influxdb1_server: InfluxDB1Server,
    influxdb1_database: str,
    reference: tuple[Store, TrainingSession],
    tmp_path: Path,
) -> None:
    settings = Settings(influx_url=influxdb1_server.url, influx_api="v1", influx_database=influxdb1_database)
    clinic = Clinic(tmp_path / "server", settings)
    clinic.server.start()
    try:
        streaming = stream_walk(clinic, tmp_path / "hub")
        wait_for(lambda: clinic.samples() > 2_000, "the first seconds to reach InfluxDB")
        influxdb1_server.stop()
        wait_for(lambda: spooled(tmp_path / "hub") >= 10, "the hub to spool while the server answers 503")
        influxdb1_server.start()
        finished(streaming, tmp_path / "hub")
        session = assert_same_samples(clinic, reference, t_tolerance_ns=UNIFORM_TOLERANCE_NS)
    finally:
        clinic.server.stop()
        clinic.store.close()
    assert session.status == "complete"
    (outage,) = [e for e in session.events if e.kind == "server_unreachable"]
    assert "HTTP 503: the time-series database is unavailable" in outage.message


def test_a_hub_killed_mid_session_sends_what_it_spooled_when_it_starts_again(
    clinic: Clinic, reference: tuple[Store, TrainingSession], tmp_path: Path
) -> None:
    folder = tmp_path / "hub"
    streaming = stream_walk(clinic, folder)
    wait_for(lambda: clinic.samples() > 2_000, "the first seconds to reach the server")
    streaming.kill()
    streaming.wait()
    with closing(sqlite3.connect(folder / "spool" / "spool.sqlite3")) as spool:
        ((spooled,),) = spool.execute("SELECT samples FROM session").fetchall()
    counts = {signal: int(n) for signal, n in json.loads(spooled).items()}
    assert 0 < counts["acc_mg"] < (reference[1].acc_sample_count or 0)
    log = finished(hub(clinic, folder, "hub", "sync"), folder)
    assert "left open by a recording that stopped" in log
    session = assert_same_samples(clinic, reference, counts=counts)
    assert session.status == "interrupted"
    (stopped,) = [e for e in session.events if e.kind == "hub_stopped"]
    assert "stopped recording unexpectedly" in stopped.message
    assert session.acc_sample_count == counts["acc_mg"]


def test_a_hub_refuses_to_record_for_a_patient_the_server_does_not_know(clinic: Clinic, tmp_path: Path) -> None:
    process = hub(clinic, tmp_path / "hub", "replay", str(WALKING_CAPTURE), "--patient", "p-000000")
    assert process.wait(60) == 2
    assert "has no patient 'p-000000'" in " ".join((tmp_path / "hub" / "hub.log").read_text().split())
    assert clinic.session() is None


def test_a_live_recording_streams_to_the_server(clinic: Clinic, tmp_path: Path) -> None:
    """``dosis record --server`` from a virtual Polar H10, through bleak, the driver and the spool."""
    folder = tmp_path / "hub"
    args = ["record", "--device", "0A1B2C3D", "--patient", PSEUDONYM, "--kind", "walking", "--duration", "3"]
    recording = hub(clinic, folder, *args, env={"DOSIS_BLE": "virtual"})
    assert "spooled has reached" in finished(recording, folder)
    session = clinic.session()
    assert session is not None
    assert (session.status, session.devices, session.hub_id is not None) == ("complete", "Polar H10 0A1B2C3D", True)
    assert session.acc_sample_count is not None
    assert session.acc_sample_count > 300  # 3 s at 200 Hz, less the connection's start
    assert session.beat_count == len(clinic.store.signals.read(session.id, "rr_ms")) > 0
