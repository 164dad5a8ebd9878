"""Faults of servers and processes: each test checks that nothing is lost and that the session says what happened.

The whole fault catalogue, with the tests elsewhere that cover the rest, is in ``test_faults.py``.
Everything here runs as processes: ``dosis serve``, hubs (``dosis replay --server``),
local recordings (``dosis replay`` into the SQLite store), and PostgreSQL from ``servers.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from hub_processes import (
    PSEUDONYM,
    SECOND_PSEUDONYM,
    SPEED,
    Clinic,
    assert_same_samples,
    finished,
    hub_env,
    replayed_at_the_server,
    spooled,
    stream_walk,
    wait_for,
)
from servers import DOSIS_COMMAND, DosisServer, InfluxDB1Server, PostgresServer
from sqlalchemy import select

from monitor.composites import WALKING_CAPTURE
from monitor.process_mark import ProcessMark, this_process
from monitor.settings import Settings
from monitor.sinks import CHUNK_SPAN_NS, SessionChunk, StoreSink, close_abandoned_sessions
from monitor.store import SIGNALS, Patient, SignalStoreUnavailable, Store, TrainingSession


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    clinic = Clinic(tmp_path / "server", Settings())
    clinic.server.start()
    yield clinic
    clinic.server.stop()
    clinic.store.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, TrainingSession]]:
    """The walking capture replayed straight into a store, in a hub's 1 s chunks."""
    store, session = replayed_at_the_server(tmp_path_factory.mktemp("streamed"), WALKING_CAPTURE)
    yield store, session
    store.close()


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, TrainingSession]]:
    """The walking capture replayed straight into a store, in a local recording's 5 s chunks."""
    store, session = replayed_at_the_server(tmp_path_factory.mktemp("local"), WALKING_CAPTURE, CHUNK_SPAN_NS)
    yield store, session
    store.close()


def test_postgres_stopped_during_ingest_loses_nothing_and_the_hub_backfills(
    postgres_server: PostgresServer,
    postgres_url: str,
    reference: tuple[Store, TrainingSession],
    tmp_path: Path,
) -> None:
    clinic = Clinic(tmp_path / "server", Settings(database_url=postgres_url))
    clinic.server.start()
    try:
        streaming = stream_walk(clinic, tmp_path / "hub")
        wait_for(lambda: clinic.samples() > 2_000, "the first seconds to reach PostgreSQL")
        postgres_server.stop()
        wait_for(lambda: spooled(tmp_path / "hub") >= 10, "the hub to spool while the server answers 503")
        postgres_server.start()
        finished(streaming, tmp_path / "hub")
        session = assert_same_samples(clinic, reference)
    finally:
        clinic.server.stop()
        clinic.store.close()
    expected = reference[1]
    assert session.status == "complete"
    # The summary, written at the end from what PostgreSQL holds, is the reference's.
    assert (session.beat_count, session.acc_sample_count, session.hr_mean_bpm) == (
        expected.beat_count,
        expected.acc_sample_count,
        expected.hr_mean_bpm,
    )
    (outage,) = [e for e in session.events if e.kind == "server_unreachable"]
    assert "HTTP 503: the relational database is unavailable; try again" in outage.message


def record_locally(folder: Path, pseudonym: str, speed: float) -> subprocess.Popen[bytes]:
    """``dosis replay --speed`` of the walking capture into the SQLite store in ``folder``: a local recording."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOSIS_SERVER_URL", "DOSIS_HUB_TOKEN")}
    command = [DOSIS_COMMAND, "replay", str(WALKING_CAPTURE), "--patient", pseudonym, "--speed", str(speed)]
    with (folder / f"{pseudonym}.log").open("ab") as log:
        return subprocess.Popen(command, env=env | {"DOSIS_DATA_DIR": str(folder)}, stdout=log, stderr=log)


class LocalStore:
    """The SQLite store of a Dosis data folder, with its patients, opened beside the processes that write it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}")
        with self.store.session() as db:
            db.add(Patient(pseudonym=PSEUDONYM, display_name="Ingrid Madsen"))
            db.add(Patient(pseudonym=SECOND_PSEUDONYM, display_name="Lars Holm"))
            db.commit()

    def session(self, pseudonym: str) -> TrainingSession | None:
        with self.store.session() as db:
            session = db.scalar(select(TrainingSession).join(Patient).where(Patient.pseudonym == pseudonym))
            if session is not None:
                session.events  # noqa: B018  # loaded while the ORM session is open
            return session

    def counts(self, pseudonym: str) -> dict[str, int]:
        session = self.session(pseudonym)
        if session is None:
            return {}
        return {signal: len(self.store.signals.read(session.id, signal)) for signal in SIGNALS}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalStore]:
    local = LocalStore(tmp_path / "dosis")
    yield local
    local.store.close()


def test_a_recording_killed_mid_session_keeps_what_it_stored_and_is_ended_as_interrupted(
    local: LocalStore, local_reference: tuple[Store, TrainingSession]
) -> None:
    recording = record_locally(local.folder, PSEUDONYM, speed=10)
    wait_for(lambda: local.counts(PSEUDONYM).get("acc_mg", 0) >= 3_000, "a few chunks to be stored")
    before = local.counts(PSEUDONYM)
    recording.send_signal(signal.SIGKILL)
    recording.wait()
    counts = local.counts(PSEUDONYM)
    killed = local.session(PSEUDONYM)
    assert killed is not None
    assert killed.status == "live"  # nobody has ended it yet
    # Everything stored before the kill is there, and what is there is the capture's beginning.
    reference_store, reference_session = local_reference
    assert all(counts[s] >= before[s] for s in SIGNALS)
    assert 0 < counts["acc_mg"] < (reference_session.acc_sample_count or 0)
    last_ns = 0
    for name in SIGNALS:
        stored = local.store.signals.read(killed.id, name)
        expected = reference_store.signals.read(reference_session.id, name)
        np.testing.assert_array_equal(stored.t_ns, expected.t_ns[: len(stored)], err_msg=name)
        np.testing.assert_array_equal(stored.values, expected.values[: len(stored)], err_msg=name)
        last_ns = max([last_ns, *stored.t_ns[-1:].tolist()])

    # Dosis starts again.
    server = DosisServer(local.folder, {})
    server.start()
    server.stop()
    assert f"Session {killed.id} was left live by a recording that died" in " ".join(server.log.read_text().split())
    ended = local.session(PSEUDONYM)
    assert ended is not None
    assert ended.status == "interrupted"
    (stopped,) = [e for e in ended.events if e.kind == "recording_stopped"]
    assert stopped.t_ns == last_ns
    assert "the recording stopped unexpectedly after" in stopped.message
    assert "what it had stored by then is kept" in stopped.message
    assert ended.ended_at is not None
    assert abs(ended.ended_at.timestamp() * 1e9 - last_ns) < 1_000  # stored to the µs
    assert (ended.acc_sample_count, ended.beat_count) == (counts["acc_mg"], counts["rr_ms"])
    assert local.counts(PSEUDONYM) == counts


def test_only_sessions_of_a_dead_recording_process_are_ended(local: LocalStore) -> None:
    with local.store.session() as db:
        patient_id = db.scalar(select(Patient.id).where(Patient.pseudonym == PSEUDONYM))
    assert patient_id is not None
    ours = this_process()

    def live_session(recorder: ProcessMark | None) -> int:
        sink = StoreSink.create(
            local.store,
            patient_id=patient_id,
            kind="walking",
            started_at_ns=1_790_000_000_000_000_000,
            recorder=None if recorder is None else str(recorder),
        )
        return sink.session_id

    running = record_locally(local.folder, SECOND_PSEUDONYM, speed=20)
    try:
        wait_for(lambda: local.session(SECOND_PSEUDONYM) is not None, "the running recording's session")
        reused_pid = live_session(dataclasses.replace(ours, started="1"))  # a process long gone; its id is ours now
        other_host = live_session(dataclasses.replace(ours, host="0" * 12, pid=1))
        from_a_hub = live_session(None)

        assert close_abandoned_sessions(local.store) == [reused_pid]

        with local.store.session() as db:
            statuses = {s.id: s.status for s in db.scalars(select(TrainingSession))}
        recorded = local.session(SECOND_PSEUDONYM)
        assert recorded is not None
        assert statuses == {reused_pid: "interrupted", other_host: "live", from_a_hub: "live", recorded.id: "live"}
        assert running.wait(60) == 0
    finally:
        if running.poll() is None:  # a check failed: stop it
            running.kill()
            running.wait()
    recorded = local.session(SECOND_PSEUDONYM)
    assert recorded is not None
    assert recorded.status == "complete"
    assert [e.kind for e in recorded.events] == []


def test_a_dead_recording_s_session_waits_while_influxdb_is_down_and_is_ended_after(
    influxdb1_server: InfluxDB1Server, influxdb1_database: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, influx_url=influxdb1_server.url, influx_api="v1", influx_database=influxdb1_database
    )
    store = Store.from_settings(settings)
    try:
        with store.session() as db:
            patient = Patient(pseudonym=PSEUDONYM, display_name="Ingrid Madsen")
            db.add(patient)
            db.commit()
        started_ns = 1_790_000_000_000_000_000
        dead = dataclasses.replace(this_process(), started="1")
        sink = StoreSink.create(
            store, patient_id=patient.id, kind="walking", started_at_ns=started_ns, recorder=str(dead)
        )
        last_ns = started_ns + 2_000_000_000
        sink.append([SessionChunk("hr_bpm", "h10", np.array([last_ns]), np.array([[92.0, 1.0]]))])
        store.signals.flush()
        influxdb1_server.stop()
        with pytest.raises(SignalStoreUnavailable):
            close_abandoned_sessions(store)
        with store.session() as db:
            waiting = db.get_one(TrainingSession, sink.session_id)
            assert (waiting.status, waiting.events) == ("live", [])  # ended when its signals can be read
        influxdb1_server.start()
        assert close_abandoned_sessions(store) == [sink.session_id]
        with store.session() as db:
            ended = db.get_one(TrainingSession, sink.session_id)
            assert [e.kind for e in ended.events] == ["recording_stopped"]
            assert (ended.status, ended.duration_s, ended.hr_mean_bpm) == ("interrupted", 2.0, 92.0)
    finally:
        influxdb1_server.start()
        store.close()


class Output:
    """A process's output as it comes, through a pipe: unlike a log file, a full disk does not stop it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._stream = process.stdout
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Once the process has ended: the rest of its output, and the pipe closed."""
        self._reader.join(10)
        self._stream.close()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._chunks.append(line)

    def text(self) -> str:
        """All of it so far, with rich's line wrapping undone."""
        return " ".join(b"".join(self._chunks).decode(errors="replace").split())


def integrity(spool_folder: Path) -> str:
    """SQLite's check of the spool file, read-only."""
    with closing(sqlite3.connect(f"file:{spool_folder / 'spool.sqlite3'}?mode=ro", uri=True)) as spool:
        ((result,),) = spool.execute("PRAGMA integrity_check").fetchall()
    return str(result)


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="setting another process's limits needs Linux")
def test_a_full_disk_under_the_spool_is_reported_and_nothing_is_lost(
    clinic: Clinic, reference: tuple[Store, TrainingSession], tmp_path: Path
) -> None:
    folder = tmp_path / "hub"
    command = [DOSIS_COMMAND, "replay", str(WALKING_CAPTURE), "--patient", PSEUDONYM, "--speed", str(SPEED)]
    hub = subprocess.Popen(command, env=hub_env(clinic, folder), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = Output(hub)
    try:
        wait_for(lambda: clinic.samples() > 2_000, "the first seconds to reach the server")
        limits = resource.prlimit(hub.pid, resource.RLIMIT_FSIZE)
        # The hub's disk is full: no file of its may take another byte (a write fails with EFBIG;
        # Python ignores SIGXFSZ). Its output goes through a pipe, which no disk holds.
        resource.prlimit(hub.pid, resource.RLIMIT_FSIZE, (0, limits[1]))
        wait_for(lambda: "the session goes on, kept in memory" in output.text(), "the hub to say it cannot spool")
        assert re.search(r"cannot write the hub's spool \S+spool\.sqlite3: .+; is the disk full\?", output.text())
        assert integrity(folder / "spool") == "ok"  # what was spooled reads back whole meanwhile
        time.sleep(1.0)  # the recording goes on in memory, ten seconds of the capture
        resource.prlimit(hub.pid, resource.RLIMIT_FSIZE, limits)
        assert hub.wait(120) == 0, output.text()
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
        output.close()
    assert "spooled has reached" in output.text()
    assert integrity(folder / "spool") == "ok"
    assert spooled(folder) == 0
    session = assert_same_samples(clinic, reference)
    assert session.status == "complete"
    (full,) = [e for e in session.events if e.kind == "spool_unwritable"]
    assert re.fullmatch(
        r"the hub could not write its spool for \d+\.\d s \(cannot write the hub's spool .+; is the disk full\?\); "
        r"the data waited in the hub's memory and was spooled afterwards",
        full.message,
    ), full.message
