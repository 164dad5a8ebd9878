"""Storage: signal write throughput and the patient-overview query, on the embedded SQLite store.

Run with `.venv/bin/python bench/bench_storage.py` (part of `make bench`). Writes are
1 s chunks of 200 Hz three-axis acceleration (600 samples each), the rate and shape a hub
streams, appended through ``SignalStore.append`` one chunk per transaction as a live
session does, and in a burst of backfilled chunks. The overview is the dashboard's
``list_patients`` query with 200 patients × 12 weeks of three sessions.
Targets (issue 6): ≥ 5 million samples/s written; overview p95 ≤ 50 ms.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from timing import run_times_s

from dashboard.queries import list_patients
from monitor.store import Patient, Store, TrainingSession
from monitor.store.signals import Chunk

CHUNK_S = 1
RATE_HZ = 200
CHUNKS = 600  # ten minutes of one session


def signal_writes(store: Store, *, batch: int) -> float:
    """Samples per second (the 3 axes count as 3) for ten minutes of 200 Hz ACC, ``batch`` chunks a write."""
    with store.session() as db:
        patient = Patient(pseudonym=f"p-bench{batch}", display_name="Bench")
        db.add(patient)
        db.flush()
        session = TrainingSession(patient_id=patient.id, kind="walking", started_at=datetime.now(UTC))
        db.add(session)
        db.commit()
        session_id = session.id
    rng = np.random.default_rng(0)
    values = rng.integers(-4000, 4000, size=(RATE_HZ * CHUNK_S, 3)).astype(np.float64)
    step_ns = 1_000_000_000 // RATE_HZ
    chunks = [
        Chunk(
            session_id,
            "acc_mg",
            "h10",
            1_700_000_000_000_000_000 + k * 1_000_000_000 + np.arange(RATE_HZ * CHUNK_S) * step_ns,
            values,
        )
        for k in range(CHUNKS)
    ]
    start = time.perf_counter()
    for first in range(0, CHUNKS, batch):
        store.signals.append_many(chunks[first : first + batch])
    seconds = time.perf_counter() - start
    assert len(store.signals.read(session_id, "acc_mg")) == CHUNKS * RATE_HZ * CHUNK_S
    return CHUNKS * RATE_HZ * CHUNK_S * 3 / seconds


def seed_clinic(store: Store, *, patients: int = 200, weeks: int = 12) -> int:
    first = datetime(2026, 8, 3, 9, tzinfo=UTC)
    with store.session() as db:
        for p in range(patients):
            patient = Patient(pseudonym=f"p-{p:05d}", display_name=f"Patient {p}")
            db.add(patient)
            db.flush()
            for s in range(weeks * 3):
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
    return patients * weeks * 3


def overview_ms(store: Store) -> list[float]:
    def run() -> None:
        with store.session() as db:
            assert len(list_patients(db)) == 202  # and the two the write benchmarks used

    run()  # warm the page cache as a running server would be
    return [t * 1000 for t in run_times_s(run, repeat=40)]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        rates = {batch: signal_writes(store, batch=batch) for batch in (1, 60)}
        sessions = seed_clinic(store)
        times = overview_ms(store)
        store.close()
    p95 = float(np.percentile(times, 95))
    print(f"Python {platform.python_version()}, SQLAlchemy on SQLite (WAL), {platform.machine()}, one process.")
    print("\n| measurement | result | target |\n|---|---|---|")
    print(f"| signal writes, 1 s chunks of 200 Hz ACC, one a transaction (live) | {rates[1] / 1e6:.2f} M samples/s | |")
    print(
        f"| signal writes, 1 s chunks of 200 Hz ACC, 60 a transaction (backfill) | {rates[60] / 1e6:.2f} M samples/s "
        "| ≥ 5 M |"
    )
    print(
        f"| patient overview, 200 patients, {sessions} sessions | median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms | p95 ≤ 50 ms |"
    )


if __name__ == "__main__":
    main()
