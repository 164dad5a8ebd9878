"""Storage: signal write throughput on every backend, and the patient-overview query on the relational ones.

Run with `.venv/bin/python bench/bench_storage.py` (part of `make bench`). The backends are
the embedded SQLite, PostgreSQL, InfluxDB 1.x (line protocol on ``/write``, ``api="v1"``) and
VictoriaMetrics (influxdb-client's batching writer on ``/api/v2/write``, ``api="v2"``), each a
real server started from its Debian package's binary on loopback, in a temporary directory,
by the classes the tests use (tests/servers.py). A backend whose server is not installed is
reported so, and the others are measured.

Writes are 1 s chunks of 200 Hz three-axis acceleration (600 samples each, the axes count
as three), the rate and shape a hub streams: ten minutes of a session appended through
``SignalStore.append_many`` one chunk a call as the server stores a live session, and 60
chunks a call as a backfill. The timed part ends with ``flush()``, so a batching writer is
timed until the server has every sample; what was written is read back and compared
afterwards, untimed. One server runs at a time; each figure is the fastest of five
rounds, live and backfill in turn (on a shared machine, noise only adds time).

The overview is the dashboard's ``list_patients`` with 200 patients × 12 weeks of three
sessions, in a database of its own, on SQLite and PostgreSQL.
Targets (issue 6), on SQLite: ≥ 5 million samples/s written; overview p95 ≤ 50 ms.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import pwd
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from timing import run_times_s

from dashboard.queries import list_patients
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.signals import Chunk

# The real servers, started as the tests start them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import (
    InfluxDB1Server,
    PostgresServer,
    VictoriaMetricsServer,
    _directory,
    _postgres_bindir,
    _serving,
)

CHUNK_S = 1
RATE_HZ = 200
CHUNKS = 600  # ten minutes of one session
BATCHES = {"live": 1, "backfill": 60}
"""Chunks per ``append_many`` call."""
ROUNDS = 5
PATIENTS = 200
WEEKS = 12
OVERVIEW_RUNS = 40


class Unavailable(Exception):
    """The backend cannot run on this machine (its server is not installed); the reason."""


@dataclass(frozen=True)
class Backend:
    """A store whose signals go to one backend."""

    store: Store
    version: str
    empty_database_url: Callable[[], str] | None = None
    """A new empty relational database on this backend, for the overview; None: not relational."""


@contextlib.contextmanager
def sqlite(folder: Path) -> Iterator[Backend]:
    folder.mkdir()
    databases = itertools.count(1)
    with contextlib.closing(Store(f"sqlite:///{folder / 'signals.sqlite3'}")) as store:
        yield Backend(
            store,
            f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)",
            empty_database_url=lambda: f"sqlite:///{folder / f'clinic{next(databases)}.sqlite3'}",
        )


@contextlib.contextmanager
def postgresql(_folder: Path) -> Iterator[Backend]:
    bindir = _postgres_bindir()
    if bindir is None:
        raise Unavailable("not installed (Debian package postgresql)")
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root; the Debian package creates this user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root with no 'postgres' user to run it as") from None
    version = _output([str(bindir / "postgres"), "--version"])
    with (
        _directory("postgres", user) as directory,
        _serving(PostgresServer(bindir, directory, user)) as server,
        contextlib.closing(Store(server.database_url(server.create_database()))) as store,
    ):
        yield Backend(
            store,
            f"{version}, fsync off",
            empty_database_url=lambda: server.database_url(server.create_database()),
        )


@contextlib.contextmanager
def influxdb1(folder: Path) -> Iterator[Backend]:
    binary = shutil.which("influxd")
    if binary is None:
        raise Unavailable("not installed (Debian package influxdb)")
    version = _output([binary, "version"])
    if not version.startswith("InfluxDB v1."):
        raise Unavailable(f"influxd is not InfluxDB 1.x but {version!r}")
    with _directory("influxdb") as directory, _serving(InfluxDB1Server(binary, directory)) as server:
        settings = Settings(
            data_dir=folder, influx_url=server.url, influx_api="v1", influx_database=server.create_database()
        )
        with contextlib.closing(Store.from_settings(settings)) as store:
            yield Backend(store, f"{version}, /write (v1)")


@contextlib.contextmanager
def victoriametrics(folder: Path) -> Iterator[Backend]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        raise Unavailable("not installed (Debian package victoria-metrics)")
    with (
        _directory("victoriametrics") as directory,
        _serving(VictoriaMetricsServer(binary, directory)) as server,
    ):
        settings = Settings(data_dir=folder, influx_url=server.url, influx_api="v2", influx_server="victoriametrics")
        with contextlib.closing(Store.from_settings(settings)) as store:
            yield Backend(
                store,
                f"VictoriaMetrics {_debian_version('victoria-metrics')} (Debian), /api/v2/write (batching)",
            )


BACKENDS = {"SQLite": sqlite, "PostgreSQL": postgresql, "InfluxDB 1.x": influxdb1, "VictoriaMetrics": victoriametrics}
RELATIONAL = ("SQLite", "PostgreSQL")
_writers = itertools.count()


def new_session(store: Store) -> int:
    with store.session() as db:
        patient = Patient(pseudonym=f"p-w{next(_writers):05d}", display_name="Bench")
        db.add(patient)
        db.flush()
        session = TrainingSession(patient_id=patient.id, kind="walking", started_at=datetime.now(UTC))
        db.add(session)
        db.commit()
        return session.id


def acc_chunks(session_id: int) -> list[Chunk]:
    """Ten minutes of 200 Hz ACC in mG, from a fixed seed; whole-second, whole-ms times (VictoriaMetrics keeps ms)."""
    rng = np.random.default_rng(0)
    step_ns = 1_000_000_000 // RATE_HZ
    start_ns = 1_780_000_000_000_000_000  # 2026: inside VictoriaMetrics's retention, not in its future
    return [
        Chunk(
            session_id,
            "acc_mg",
            "h10",
            start_ns + k * 1_000_000_000 + np.arange(RATE_HZ * CHUNK_S, dtype=np.int64) * step_ns,
            rng.integers(-4000, 4000, size=(RATE_HZ * CHUNK_S, 3)).astype(np.float64),
        )
        for k in range(CHUNKS)
    ]


@dataclass(frozen=True)
class Write:
    seconds: float
    """Appending and flushing."""
    flush_s: float
    """Of which ``flush()``: waiting for a batching writer."""
    client_cpu_s: float
    """CPU time of this process meanwhile, all its threads (the batching writer's too)."""


def write(backend: Backend, *, batch: int) -> Write:
    """Ten minutes of ACC appended ``batch`` chunks a call and flushed; checked against a read-back, untimed."""
    store = backend.store
    session_id = new_session(store)
    chunks = acc_chunks(session_id)
    cpu_start, start = time.process_time(), time.perf_counter()
    for first in range(0, CHUNKS, batch):
        store.signals.append_many(chunks[first : first + batch])
    appended = time.perf_counter()
    store.signals.flush()
    end, cpu_end = time.perf_counter(), time.process_time()
    # VictoriaMetrics makes new series searchable a second or so after it took them.
    deadline = time.monotonic() + 30
    while len(stored := store.signals.read(session_id, "acc_mg")) < CHUNKS * RATE_HZ and time.monotonic() < deadline:
        time.sleep(0.2)
    np.testing.assert_array_equal(stored.t_ns, np.concatenate([np.asarray(c.t_ns) for c in chunks]))
    np.testing.assert_array_equal(stored.values, np.concatenate([np.asarray(c.values) for c in chunks]))
    return Write(end - start, end - appended, cpu_end - cpu_start)


def seed_clinic(store: Store) -> int:
    """200 patients of one clinician with 12 weeks of sessions; returns the clinician's id."""
    first = datetime(2026, 8, 3, 9, tzinfo=UTC)
    with store.session() as db:
        clinician = Clinician(email="physio@bench.dosis.invalid", display_name="Bench Physiotherapist")
        db.add(clinician)
        db.flush()
        for p in range(PATIENTS):
            patient = Patient(pseudonym=f"p-{p:05d}", display_name=f"Patient {p}", clinician_id=clinician.id)
            db.add(patient)
            db.flush()
            for s in range(WEEKS * 3):
                started = first + timedelta(days=7 * (s // 3) + 2 * (s % 3), minutes=p)
                db.add(
                    TrainingSession(
                        patient_id=patient.id,
                        kind="walking",
                        status="complete",
                        started_at=started,
                        ended_at=started + timedelta(minutes=30),
                        duration_s=1800.0,
                        hr_mean_bpm=110.0,
                    )
                )
        db.commit()
        return clinician.id


def overview_ms(url: str) -> list[float]:
    with contextlib.closing(Store(url)) as store:
        clinician_id = seed_clinic(store)

        def run() -> None:
            with store.session() as db:
                overviews = list_patients(db, clinician_id=clinician_id)
            assert len(overviews) == PATIENTS
            assert all(o.session_count == WEEKS * 3 for o in overviews)

        run()  # warm the caches as a running server's would be
        return [t * 1000 for t in run_times_s(run, repeat=OVERVIEW_RUNS)]


SAMPLES_WRITTEN = CHUNKS * RATE_HZ * CHUNK_S * 3
"""Per run: a 200 Hz ACC sample is three (its axes)."""


@dataclass
class Measured:
    backend: Backend
    writes: dict[str, list[Write]]
    overview_ms: list[float] | None = None

    def fastest(self, pattern: str) -> Write:
        return min(self.writes[pattern], key=lambda w: w.seconds)

    def rate(self, pattern: str) -> float:
        """Samples per second of the fastest round."""
        return SAMPLES_WRITTEN / self.fastest(pattern).seconds


def main() -> None:
    load = os.getloadavg()[0]
    measured: dict[str, Measured] = {}
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, open_backend in BACKENDS.items():
            # One server at a time: another's background work (InfluxDB's compactions) would slow this one's.
            try:
                with open_backend(Path(folder) / open_backend.__name__) as backend:
                    result = Measured(backend, {pattern: [] for pattern in BATCHES})
                    for _ in range(ROUNDS):
                        for pattern, batch in BATCHES.items():
                            result.writes[pattern].append(write(backend, batch=batch))
                    if backend.empty_database_url is not None:
                        result.overview_ms = overview_ms(backend.empty_database_url())
            except Unavailable as reason:
                missing[name] = str(reason)
                continue
            measured[name] = result
    report(measured, missing, load)


def report(measured: dict[str, Measured], missing: dict[str, str], load: float) -> None:
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load:.2f} at the start (other work on the machine slows every figure); one client process."
    )
    for name, result in measured.items():
        print(f"- {name}: {result.backend.version}")
    baseline = measured.get("SQLite")
    print(
        f"\nSignal writes: {CHUNKS} chunks of 1 s of 200 Hz 3-axis ACC per round, fastest of {ROUNDS} rounds "
        "(median of the rounds in brackets); client CPU and flush wait of the fastest round.\n"
    )
    header = " | ".join(
        f"{p}, {b} chunk{'s' * (b > 1)} a write | vs SQLite | client CPU | flush" for p, b in BATCHES.items()
    )
    print(f"| backend | {header} |")
    print("|---" * (1 + 4 * len(BATCHES)) + "|")
    for name, result in measured.items():
        cells = []
        for pattern in BATCHES:
            fastest = result.fastest(pattern)
            median = SAMPLES_WRITTEN / statistics.median(w.seconds for w in result.writes[pattern])
            cells += [
                f"{result.rate(pattern) / 1e6:.2f} M samples/s ({median / 1e6:.2f})",
                f"{result.rate(pattern) / baseline.rate(pattern):.2f}×" if baseline else "",
                f"{fastest.client_cpu_s / fastest.seconds:.0%}",
                f"{fastest.flush_s * 1000:.0f} ms",
            ]
        print(f"| {name} | {' | '.join(cells)} |")
    for name, reason in missing.items():
        print(f"| {name} | {reason} |" + " |" * (4 * len(BATCHES) - 1))
    print(f"\nPatient overview (`list_patients`): {PATIENTS} patients, {PATIENTS * WEEKS * 3} sessions, ", end="")
    print(f"{OVERVIEW_RUNS} runs after one warm-up.\n")
    print("| backend | median | p95 | vs SQLite (p95) |\n|---|---|---|---|")
    sqlite_p95 = float(np.percentile(baseline.overview_ms, 95)) if baseline and baseline.overview_ms else None
    for name, result in measured.items():
        if result.overview_ms is None:
            continue
        p95 = float(np.percentile(result.overview_ms, 95))
        ratio = f"{p95 / sqlite_p95:.2f}×" if sqlite_p95 else ""
        print(f"| {name} | {statistics.median(result.overview_ms):.1f} ms | {p95:.1f} ms | {ratio} |")
    for name, reason in missing.items():
        if name in RELATIONAL:
            print(f"| {name} | {reason} | | |")


def _output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _debian_version(package: str) -> str:
    """The installed Debian package's version (VictoriaMetrics's Debian build reports none of its own)."""
    if shutil.which("dpkg-query") is None:
        return "(version unknown)"
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "(version unknown)"


if __name__ == "__main__":
    main()
