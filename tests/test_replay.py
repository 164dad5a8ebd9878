"""Replaying the bundled captures stores what the source recordings contain."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_DATA_UUID
from monitor.capture import CaptureReader
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore
from monitor.store import SessionEvent, Store, TrainingSession

G_MS2 = 9.80665
RR_RESOLUTION_MS = 1000 / 1024
ACC_RESOLUTION_MG = 1.0
SAMPLES_PER_FRAME = 36


def ground_truth(path: Path) -> dict[str, object]:
    with CaptureReader(path) as reader:
        return reader.header.ground_truth


def source_rr_ms(recordings: Path, subject: str, task: str) -> np.ndarray:
    peaks = np.loadtxt(recordings / "gudb_rr" / subject / task / "annotation_cs.tsv", dtype=np.int64)
    return np.diff(peaks) * 4.0  # 250 Hz


def replay(path: Path, store: Store, patient_id: int) -> TrainingSession:
    return asyncio.run(replay_capture(path, PatientInStore(store, patient_id))).session


def test_walking_session_matches_its_sources_sample_by_sample(recordings: Path, store: Store, patient_id: int) -> None:
    truth = ground_truth(WALKING_CAPTURE)
    session = replay(WALKING_CAPTURE, store, patient_id)
    start_ns = truth["session_start_unix_ns"]
    assert isinstance(start_ns, int)

    # RR: every beat of the GUDB series that ended within the session, in order.
    rr = store.signals.read(session.id, "rr_ms")
    source = source_rr_ms(recordings, "subject_01", "walking")
    assert len(source) - 2 <= len(rr) <= len(source)
    np.testing.assert_allclose(rr.values[:, 0], source[: len(rr)], atol=RR_RESOLUTION_MS / 2 + 1e-9)
    assert session.beat_count == len(rr)
    beat_error_s = (rr.t_ns - start_ns) / 1e9 - np.cumsum(source)[: len(rr)] / 1000
    assert beat_error_s.min() >= 0
    assert np.median(beat_error_s) < 0.05

    # Acceleration: the Oxford walk, resampled to 200 Hz, in mG, to the wire's 1 mG.
    acc = store.signals.read(session.id, "acc_mg")
    acc_truth = truth["acc"]
    assert isinstance(acc_truth, dict)
    rate_hz = acc_truth["rate_hz"]
    with gzip.open(recordings / acc_truth["recording"] / "accelerometer.csv.gz", "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    raw = raw[np.argsort(raw[:, 0], kind="stable")]
    raw = raw[np.concatenate([[True], np.diff(raw[:, 0]) > 0])]
    raw_t_s = (raw[:, 0] - raw[0, 0]) / 1e9
    grid_s = np.arange(len(acc)) / rate_hz
    expected_mg = np.column_stack([np.interp(grid_s, raw_t_s, raw[:, 2 + i]) for i in range(3)]) * 1000 / G_MS2
    assert len(acc) == session.acc_sample_count
    assert session.duration_s is not None
    assert len(acc) >= (session.duration_s - 1) * rate_hz
    np.testing.assert_allclose(acc.values, expected_mg, atol=ACC_RESOLUTION_MG / 2 + 1e-6)
    # Sensor clock (an unset H10: 2019) mapped onto the wall clock: late by the
    # radio latency floor only, the same for every sample.
    time_error_ms = ((acc.t_ns - start_ns) - grid_s * 1e9) / 1e6
    assert time_error_ms.min() >= 0
    assert time_error_ms.max() < 25
    assert np.ptp(time_error_ms[SAMPLES_PER_FRAME:]) < 1

    # The summary is the heart rate the RR intervals imply.
    assert session.status == "complete"
    assert session.hr_mean_bpm == pytest.approx(60000 / source[: len(rr)].mean(), abs=3)
    assert session.duration_s == pytest.approx(source.sum() / 1000, abs=1.5)
    assert session.malformed_count == 0


def test_strength_session_carries_the_spar_sets_unchanged(recordings: Path, store: Store, patient_id: int) -> None:
    truth = ground_truth(STRENGTH_CAPTURE)
    session = replay(STRENGTH_CAPTURE, store, patient_id)
    acc = store.signals.read(session.id, "acc_mg")
    acc_truth = truth["acc"]
    assert isinstance(acc_truth, dict)
    sets = acc_truth["sets"]
    assert len(sets) == 3
    with np.load(recordings / "spar_shoulder_reps" / "spar_watch_sets.npz") as arrays:
        for segment in sets:
            start, n = segment["start_sample"], segment["n_samples"]
            expected_mg = arrays[segment["set_id"]][:, :3] * 1000.0
            np.testing.assert_allclose(acc.values[start : start + n], expected_mg, atol=ACC_RESOLUTION_MG / 2 + 1e-4)
    rr = store.signals.read(session.id, "rr_ms")
    source = source_rr_ms(recordings, "subject_01", "hand_bike")
    np.testing.assert_allclose(rr.values[:, 0], source[: len(rr)], atol=RR_RESOLUTION_MS / 2 + 1e-9)
    assert session.kind == "strength"
    assert np.all(np.diff(acc.t_ns) > 0)


def corrupt(source: Path, target: Path) -> dict[int, str]:
    """Copy a capture, breaking four lines of different kinds; returns line -> what broke."""
    with gzip.open(source, "rt") as f:
        lines = f.read().splitlines()
    records = [json.loads(line) for line in lines[1:]]
    hr_lines = [i + 2 for i, r in enumerate(records) if r["char"] == HEART_RATE_MEASUREMENT_UUID and len(r["hex"]) > 8]
    pmd_lines = [i + 2 for i, r in enumerate(records) if r["char"] == PMD_DATA_UUID]
    broken = {pmd_lines[10]: "not JSON", hr_lines[20]: "malformed payload", pmd_lines[40]: "malformed payload"}
    broken[pmd_lines[60]] = "not declared"
    lines[pmd_lines[10] - 1] = '{"t_ns": 12, "device": '
    hr = json.loads(lines[hr_lines[20] - 1])
    lines[hr_lines[20] - 1] = json.dumps(hr | {"hex": hr["hex"] + "ff"})  # odd trailing byte
    pmd = json.loads(lines[pmd_lines[40] - 1])
    lines[pmd_lines[40] - 1] = json.dumps(pmd | {"hex": pmd["hex"][:-2]})  # frame cut short
    lines[pmd_lines[60] - 1] = json.dumps(json.loads(lines[pmd_lines[60] - 1]) | {"device": "verity"})
    target.write_text("\n".join(lines) + "\n")
    return broken


def test_bad_lines_and_payloads_are_reported_by_line_and_the_rest_is_stored(
    tmp_path: Path, store: Store, patient_id: int
) -> None:
    clean = replay(WALKING_CAPTURE, store, patient_id)
    damaged_path = tmp_path / "damaged.jsonl"
    broken = corrupt(WALKING_CAPTURE, damaged_path)
    result = asyncio.run(replay_capture(damaged_path, PatientInStore(store, patient_id)))
    assert {p.line_no: p.message for p in result.problems}.keys() == broken.keys()
    for problem in result.problems:
        assert broken[problem.line_no] in problem.message
    damaged = result.session
    assert damaged.status == "complete"
    assert damaged.malformed_count == 4
    assert clean.acc_sample_count is not None
    assert damaged.acc_sample_count == clean.acc_sample_count - 3 * SAMPLES_PER_FRAME
    assert clean.beat_count is not None
    assert damaged.beat_count is not None
    assert clean.beat_count - 3 <= damaged.beat_count < clean.beat_count
    with store.session() as db:
        events = db.get_one(TrainingSession, damaged.id).events
        assert sorted(e.message.split(":")[0] for e in events) == sorted(f"line {n}" for n in broken)
        assert all(isinstance(e, SessionEvent) and e.kind == "malformed" for e in events)


def test_a_cancelled_live_replay_keeps_its_data_as_interrupted(store: Store, patient_id: int) -> None:
    async def run_briefly() -> None:
        task = asyncio.create_task(replay_capture(WALKING_CAPTURE, PatientInStore(store, patient_id), speed=20.0))
        await asyncio.sleep(0.6)  # about 12 s of the capture at 20x
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_briefly())
    with store.session() as db:
        session = db.query(TrainingSession).one()
    assert session.status == "interrupted"
    assert session.duration_s is not None
    assert 3 < session.duration_s < 60
    assert session.acc_sample_count
    assert len(store.signals.read(session.id, "acc_mg")) == session.acc_sample_count
