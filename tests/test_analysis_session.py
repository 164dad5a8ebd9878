"""The batch analysis that every stored session gets, on the bundled captures' real data."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from monitor.analysis import hrv
from monitor.analysis.session import analyse_activity, analyse_heart
from monitor.capture import CaptureReader
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.recordings import SPAR_RATE_HZ
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore
from monitor.store import Store, TrainingSession


def stored_analysis(store: Store, patient_id: int, capture: object) -> dict[str, object]:
    session = asyncio.run(replay_capture(capture, PatientInStore(store, patient_id))).session  # type: ignore[arg-type]
    with store.session() as db:
        analysis = db.get_one(TrainingSession, session.id).analysis
        assert analysis is not None
        return analysis.activity


def test_a_walking_session_counts_the_walk_s_steps(store: Store, patient_id: int) -> None:
    with CaptureReader(WALKING_CAPTURE) as reader:
        truth = reader.header.ground_truth["steps_foot_switch"]
    activity = stored_analysis(store, patient_id, WALKING_CAPTURE)
    assert isinstance(activity["steps"], int)
    # Through the H10 wire format, the store and resampling: still within 5 % of the foot switches.
    assert activity["steps"] == pytest.approx(truth, rel=0.05)
    assert isinstance(activity["walking_s"], float)
    assert 90 < activity["walking_s"] < 120
    assert activity["sets"] is None


def test_a_strength_session_finds_its_sets_repetitions_and_rests(store: Store, patient_id: int) -> None:
    with CaptureReader(STRENGTH_CAPTURE) as reader:
        segments = reader.header.ground_truth["acc"]["sets"]
    activity = stored_analysis(store, patient_id, STRENGTH_CAPTURE)
    sets = activity["sets"]
    assert isinstance(sets, list)
    assert len(sets) == len(segments) == 3
    for found, truth in zip(sets, segments, strict=True):
        assert abs(found["reps"] - truth["reps"]) <= 2
        assert found["start_s"] == pytest.approx(truth["start_sample"] / SPAR_RATE_HZ, abs=3)
    true_rests_s = [
        (later["start_sample"] - (earlier["start_sample"] + earlier["n_samples"])) / SPAR_RATE_HZ
        for earlier, later in itertools.pairwise(segments)
    ]
    assert [s["rest_before_s"] for s in sets[1:]] == pytest.approx(true_rests_s, abs=4)
    assert activity["steps"] is None


def test_too_little_data_gives_an_empty_analysis() -> None:
    empty = analyse_activity(kind="walking", t_s=np.array([0.0]), acc_mg=np.zeros((1, 3)))
    assert empty.duration_s == 0
    assert empty.steps is None
    assert empty.reps is None


def test_samples_that_do_not_move_time_forward_are_ignored() -> None:
    t_s = np.arange(0, 120, 0.02)
    acc_mg = np.column_stack([np.zeros_like(t_s), np.zeros_like(t_s), 1000 + 300 * np.sin(2 * np.pi * 1.8 * t_s)])
    stuttered_t = t_s.copy()
    stuttered_t[1000:1003] = stuttered_t[999]  # three samples stamped with the same time
    clean = analyse_activity(kind="walking", t_s=t_s, acc_mg=acc_mg)
    stuttered = analyse_activity(kind="walking", t_s=stuttered_t, acc_mg=acc_mg)
    assert clean.steps is not None
    assert abs(clean.steps - 1.8 * 120) <= 3
    assert stuttered.steps == pytest.approx(clean.steps, abs=1)


def test_every_session_gets_hrv_from_its_rr(store: Store, patient_id: int) -> None:
    session = asyncio.run(replay_capture(WALKING_CAPTURE, PatientInStore(store, patient_id))).session
    with store.session() as db:
        analysis = db.get_one(TrainingSession, session.id).analysis
        assert analysis is not None
        heart = analysis.heart
    assert heart is not None
    rr = store.signals.read(session.id, "rr_ms").values[:, 0]
    expected = hrv(rr)
    assert heart["beats"] == len(rr)
    assert heart["rmssd_ms"] == pytest.approx(expected.rmssd_ms)
    assert heart["artifact_fraction"] == pytest.approx(expected.artifact_fraction)
    assert 0.3 < heart["alpha1"] < 1.8


def test_too_few_beats_or_too_many_artifacts_withhold_hrv() -> None:
    assert analyse_heart(rr_ms=np.full(10, 800.0)).rmssd_ms is None
    rng = np.random.default_rng(2)
    missed = 800 + rng.normal(0, 15, 300)
    missed[::10] *= 2  # a beat missed every tenth: 10 % artifacts
    withheld = analyse_heart(rr_ms=missed)
    assert withheld.artifact_fraction is not None
    assert withheld.artifact_fraction > 0.05
    assert withheld.rmssd_ms is None
