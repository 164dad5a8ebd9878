"""Throughput of the thin pipeline: parsing, replay into SQLite, chunk reads.

Run with `make bench` (or `.venv/bin/python bench/bench_pipeline.py`). Prints a Markdown
table for bench/RESULTS.md. Each figure is the median of several runs.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, decode_frame
from monitor.capture import CaptureReader, CaptureRecord
from monitor.composites import WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.store import Patient, Store


def median_s(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with CaptureReader(WALKING_CAPTURE) as reader:
        records = [r for r in reader.records() if isinstance(r, CaptureRecord)]
    hr_payloads = [r.payload for r in records if r.characteristic == HEART_RATE_MEASUREMENT_UUID] * 50
    acc_payloads = [r.payload for r in records if r.characteristic == PMD_DATA_UUID] * 10
    acc_samples = sum(len(decode_frame(p).samples) for p in acc_payloads)
    rows = []
    t = median_s(lambda: [parse_heart_rate(p) for p in hr_payloads])
    rows.append(("Heart Rate Measurement parsing", f"{len(hr_payloads) / t:,.0f} notifications/s"))
    t = median_s(lambda: [decode_frame(p) for p in acc_payloads])
    rows.append(("PMD ACC frame decoding (36 samples/frame)", f"{acc_samples / t:,.0f} samples/s"))

    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        with store.session() as db:
            patient = Patient(pseudonym="p-bench", display_name="Bench")
            db.add(patient)
            db.commit()
        sessions = []

        def replay() -> None:
            sessions.append(asyncio.run(replay_capture(WALKING_CAPTURE, store, patient_id=patient.id)).session)

        t = median_s(replay)
        duration_s = sessions[-1].duration_s or 0.0
        rows.append(
            (
                f"replay of the walking capture ({len(records)} notifications, {duration_s:.0f} s) into SQLite",
                f"{t * 1000:.0f} ms = {duration_s / t:,.0f}× real time",
            )
        )
        t = median_s(lambda: store.signals.read(sessions[-1].id, "acc_mg"))
        n = len(store.signals.read(sessions[-1].id, "acc_mg"))
        rows.append(("reading one session's ACC back", f"{n / t:,.0f} samples/s"))
        store.close()

    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, {platform.node()}")
    print("| operation | result |\n|---|---|")
    for name, result in rows:
        print(f"| {name} | {result} |")


if __name__ == "__main__":
    main()
