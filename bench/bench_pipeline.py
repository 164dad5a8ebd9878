"""Throughput of the thin pipeline, side by side with bleakheart where it does the same work.

Run with `make bench` (or `.venv/bin/python bench/bench_pipeline.py`). Prints a Markdown
table for bench/RESULTS.md, on the notifications of the bundled walking capture. Peer
comparisons take the fastest of nine interleaved runs of each; the rest, medians.
"""

from __future__ import annotations

import asyncio
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bleakheart
import numpy as np
from bleakheart import HeartRate, PolarMeasurementData
from timing import fastest_s, median_s

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, decode_frame
from monitor.capture import CaptureReader, CaptureRecord
from monitor.composites import WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore
from monitor.store import Patient, Store


def side_by_side(name: str, unit: str, count: int, ours: Callable[[], Any], peer: Callable[[], Any]) -> str:
    """Rates from the fastest of interleaved runs: noise on a shared machine only ever adds time."""
    ours_s, peer_s = [], []
    for _ in range(9):
        ours_s.append(fastest_s(ours, repeat=1))
        peer_s.append(fastest_s(peer, repeat=1))
    ours_rate, peer_rate = count / min(ours_s), count / min(peer_s)
    return f"| {name} | {ours_rate:,.0f} {unit} | {peer_rate:,.0f} {unit} | {ours_rate / peer_rate:.1f}× |"


def main() -> None:
    with CaptureReader(WALKING_CAPTURE) as reader:
        records = [r for r in reader.records() if isinstance(r, CaptureRecord)]
    hr_payloads = [r.payload for r in records if r.characteristic == HEART_RATE_MEASUREMENT_UUID] * 50
    acc_payloads = [r.payload for r in records if r.characteristic == PMD_DATA_UUID] * 10
    acc_samples = sum(len(decode_frame(p).samples) for p in acc_payloads)

    # bleakheart's decoders are methods of its BLE classes; they use no client state.
    peer_hr = SimpleNamespace(contact_detection=False)
    for payload in hr_payloads[:20]:
        assert HeartRate._decode(peer_hr, payload)["hr"] == parse_heart_rate(payload).bpm
    for payload in acc_payloads[:20]:
        peer_mg = PolarMeasurementData._decode_acc_data(None, payload)
        np.testing.assert_array_equal(np.array(peer_mg), decode_frame(payload).samples)

    rows = [
        side_by_side(
            "Heart Rate Measurement parsing",
            "notifications/s",
            len(hr_payloads),
            lambda: [parse_heart_rate(p) for p in hr_payloads],
            lambda: [HeartRate._decode(peer_hr, p) for p in hr_payloads],
        ),
        side_by_side(
            "PMD ACC frame decoding, type 1, 36 samples a frame",
            "samples/s",
            acc_samples,
            lambda: [decode_frame(p) for p in acc_payloads],
            lambda: [PolarMeasurementData._decode_acc_data(None, p) for p in acc_payloads],
        ),
    ]

    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        with store.session() as db:
            patient = Patient(pseudonym="p-bench", display_name="Bench")
            db.add(patient)
            db.commit()
        sessions = []

        def replay() -> None:
            sessions.append(asyncio.run(replay_capture(WALKING_CAPTURE, PatientInStore(store, patient.id))).session)

        t = median_s(replay)
        duration_s = sessions[-1].duration_s or 0.0
        rows.append(
            f"| replay of the walking capture ({len(records)} notifications, {duration_s:.0f} s) into SQLite "
            f"| {t * 1000:.0f} ms, {duration_s / t:,.0f}× real time | | |"
        )
        n = len(store.signals.read(sessions[-1].id, "acc_mg"))
        t = median_s(lambda: store.signals.read(sessions[-1].id, "acc_mg"))
        rows.append(f"| reading one session's ACC back from SQLite | {n / t:,.0f} samples/s | | |")
        store.close()

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, bleakheart {bleakheart.__version__}, "
        f"{platform.machine()}"
    )
    print("| operation | Dosis | bleakheart | ratio |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
