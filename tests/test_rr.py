"""RR artifact correction and time-domain HRV against NeuroKit2 and real recordings."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from monitor.analysis.rr import correct_rr, hrv, time_domain
from monitor.recordings import load_gudb_beats, load_polar_h10_rest
from monitor.validation import GUDB_NOT_CLEAN, ectopic_by_qrs_shape, inject_rr_artifacts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import neurokit2 as nk

SUBJECTS = [f"subject_{i:02d}" for i in range(13)]


def nk_kubios(rr_ms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    peaks = np.concatenate([[0], np.cumsum(rr_ms)]).round().astype(int)
    _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios", iterative=True)
    return np.asarray(np.diff(fixed), dtype=np.float64)


def test_reference_series_match_neurokit2_and_pyhrv(recordings: Path) -> None:
    folder = recordings / "hrv_reference"
    with (folder / "expected_hrv_neurokit2.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[:2]
    for text in rows:
        row = {k: float(v) for k, v in text.items() if k not in ("series", "source")}
        rr = np.loadtxt(folder / f"{text['series']}_ms.txt")
        result = hrv(rr, correct_artifacts=False)
        assert result.rmssd_ms == pytest.approx(row["nk_RMSSD"], rel=1e-3)
        assert result.sdnn_ms == pytest.approx(row["nk_SDNN"], rel=1e-3)
        # NeuroKit2 divides NN50 by the number of intervals, we by the number of differences.
        assert result.pnn50 == pytest.approx(row["nk_pNN50"] * len(rr) / (len(rr) - 1), rel=1e-3)
        assert result.mean_hr_bpm == pytest.approx(60000 / row["nk_MeanNN"], rel=1e-6)
    # pyHRV's own report on the long series (pNN50 over the differences, as here).
    long = hrv(np.loadtxt(folder / "pyhrv_SampleNNISeriesLong_ms.txt"), correct_artifacts=False)
    assert (long.rmssd_ms, long.sdnn_ms, long.pnn50) == pytest.approx((60.523, 85.357, 28.571), rel=1e-3)


def test_clean_gudb_rest_is_left_alone(recordings: Path) -> None:
    for subject in SUBJECTS:
        result = correct_rr(load_gudb_beats(recordings, subject, "sitting").rr_ms)
        assert result.artifact_fraction <= 0.02, subject


def test_hrv_is_withheld_above_five_percent() -> None:
    rr = 800 + 20 * np.sin(np.arange(200))
    rr[10:200:10] = 400  # 19 premature beats without compensation: about 10 %
    result = hrv(rr)
    assert result.artifact_fraction > 0.05
    assert (result.rmssd_ms, result.sdnn_ms, result.pnn50) == (None, None, None)
    assert result.mean_hr_bpm > 0


def test_each_kind_of_artifact_is_found_and_undone() -> None:
    rng = np.random.default_rng(1)
    clean = 800 + np.cumsum(rng.normal(0, 5, 300)) * 0.2 + rng.normal(0, 15, 300)
    rr = clean.copy()
    rr[100], rr[101] = rr[100] - 200, rr[101] + 200  # ectopic
    rr = np.concatenate([rr[:150], [rr[150] + rr[151]], rr[152:200], [rr[200] * 0.4, rr[200] * 0.6], rr[201:]])
    result = correct_rr(rr)
    assert 101 in result.ectopic or 100 in result.long_short
    assert 150 in result.missed
    assert {199, 200} & set(result.extra.tolist())
    assert len(result.rr_ms) == len(clean)
    assert time_domain(result.rr_ms)[0] == pytest.approx(time_domain(clean)[0], rel=0.1)


def test_injected_artifacts_exercise_rmssd_beats_neurokit2(recordings: Path) -> None:
    """RMSSD after correcting 1-5 % injected ectopic, missed and extra beats, per GUDB walk and jog.

    Against the clean annotation, and against the clean annotation as corrected (its NN
    series), which differ only where the annotation itself holds artifacts. Printed with
    ``-s`` as a table beside NeuroKit2's Kubios correction.
    """
    vs_clean, vs_nn, nk_vs_clean = [], [], []
    touched = set()
    print("\n| series | artifacts | clean RMSSD | NN RMSSD | Dosis | NeuroKit2 Kubios |\n|---|---|---|---|---|---|")
    for subject in SUBJECTS:
        for task in ("walking", "jogging"):
            series = f"{subject}/{task}"
            clean_rr = load_gudb_beats(recordings, subject, task).rr_ms
            clean = time_domain(clean_rr)[0]
            nn = time_domain(correct_rr(clean_rr).rr_ms)[0]
            if nn != clean:
                touched.add(series)
            for percent in (1, 3, 5):
                noisy = inject_rr_artifacts(clean_rr, fraction=percent / 100, seed=100 * int(subject[-2:]) + percent)
                ours = time_domain(correct_rr(noisy).rr_ms)[0]
                peer = time_domain(nk_kubios(noisy))[0]
                vs_nn.append(abs(ours / nn - 1))
                if series not in GUDB_NOT_CLEAN:
                    vs_clean.append(abs(ours / clean - 1))
                    nk_vs_clean.append(abs(peer / clean - 1))
                print(
                    f"| {series} | {percent} % | {clean:.1f} ms | {nn:.1f} ms "
                    f"| {100 * (ours / clean - 1):+.1f} % | {100 * (peer / clean - 1):+.1f} % |"
                )
    ours_within, nk_within = np.mean(np.array(vs_clean) < 0.1), np.mean(np.array(nk_vs_clean) < 0.1)
    print(f"clean series, within 10 %: Dosis {ours_within:.0%}, NeuroKit2 {nk_within:.0%}")
    print(f"clean series, median |error|: Dosis {np.median(vs_clean):.1%}, NeuroKit2 {np.median(nk_vs_clean):.1%}")
    # The correction leaves every clean walk and jog alone, and only those four are changed.
    assert touched == set(GUDB_NOT_CLEAN)
    assert max(vs_clean) < 0.1
    assert max(vs_nn) < 0.1
    assert ours_within > nk_within


def qrs_ectopy(recordings: Path) -> tuple[npt.NDArray[np.float64], float]:
    """The H10's own RR, and the share of beats with an ectopic QRS shape in its ECG (R peaks by NeuroKit2)."""
    recording = load_polar_h10_rest(recordings)
    fs_hz = round(recording.ecg_rate_hz)
    ecg = nk.ecg_clean(recording.ecg_mv, sampling_rate=fs_hz)
    _, info = nk.ecg_peaks(ecg, sampling_rate=fs_hz)
    ectopic = ectopic_by_qrs_shape(ecg, r_peaks=np.asarray(info["ECG_R_Peaks"]), fs_hz=fs_hz)
    return recording.rr_ms, float(np.mean(ectopic))


def test_polar_pvc_recording_artifact_fraction_matches_ectopy(recordings: Path) -> None:
    rr, ectopy = qrs_ectopy(recordings)
    result = hrv(rr)
    print(f"\nPolar H10 PVC: ectopy by QRS shape {ectopy:.3f}, artifact fraction {result.artifact_fraction:.3f}")
    assert ectopy > 0.25  # trigeminy: every third beat
    assert result.artifact_fraction == pytest.approx(ectopy, abs=0.03)
    assert result.rmssd_ms is None
