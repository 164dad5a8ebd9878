"""RR artifact correction and time-domain HRV against NeuroKit2 and real recordings."""

from __future__ import annotations

import csv
import gzip
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from monitor.analysis.rr import correct_rr, hrv, time_domain
from monitor.recordings import load_gudb_beats

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import neurokit2 as nk

SUBJECTS = [f"subject_{i:02d}" for i in range(13)]


def inject_artifacts(rr_ms: npt.NDArray[np.float64], *, fraction: float, seed: int) -> npt.NDArray[np.float64]:
    """Ectopic (beat 25 % early), missed and extra beats in turn, at seeded positions ≥ 4 beats apart."""
    rng = np.random.default_rng(seed)
    rr = list(rr_ms)
    count = max(1, round(fraction * len(rr)))
    for j, i in enumerate(np.sort(rng.choice(np.arange(5, len(rr) - 5, 4), size=count, replace=False))[::-1]):
        if j % 3 == 0:
            shift = 0.25 * rr[i]
            rr[i], rr[i + 1] = rr[i] - shift, rr[i + 1] + shift
        elif j % 3 == 1:
            rr[i : i + 2] = [rr[i] + rr[i + 1]]
        else:
            split = rng.uniform(0.3, 0.7)
            rr[i : i + 1] = [split * rr[i], (1 - split) * rr[i]]
    return np.array(rr)


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
    """Per series and rate, |RMSSD error| after correction; printed with ``-s`` as a table."""
    ours_errors, nk_errors = [], []
    print("\n| series | artifacts | clean RMSSD | Dosis | NeuroKit2 Kubios |\n|---|---|---|---|---|")
    for subject in SUBJECTS:
        for task in ("walking", "jogging"):
            clean_rr = load_gudb_beats(recordings, subject, task).rr_ms
            clean = time_domain(clean_rr)[0]
            for percent in (1, 3, 5):
                noisy = inject_artifacts(clean_rr, fraction=percent / 100, seed=100 * int(subject[-2:]) + percent)
                ours = time_domain(correct_rr(noisy).rr_ms)[0] / clean - 1
                peer = time_domain(nk_kubios(noisy))[0] / clean - 1
                ours_errors.append(abs(ours))
                nk_errors.append(abs(peer))
                print(
                    f"| {subject}/{task} | {percent} % | {clean:.1f} ms | {100 * ours:+.1f} % | {100 * peer:+.1f} % |"
                )
    ours_within, nk_within = np.mean(np.array(ours_errors) < 0.1), np.mean(np.array(nk_errors) < 0.1)
    print(f"within 10 %: Dosis {ours_within:.0%}, NeuroKit2 {nk_within:.0%}")
    print(f"median |error|: Dosis {np.median(ours_errors):.1%}, NeuroKit2 {np.median(nk_errors):.1%}")
    assert np.median(ours_errors) < 0.05
    assert ours_within >= 0.7
    assert ours_within > nk_within


@pytest.mark.xfail(
    strict=True,
    reason="open: with bigeminy (~28 % PVCs) the 91-beat IQR thresholds adapt to the ectopy; only ~4 % is flagged",
)
def test_polar_pvc_recording_artifact_fraction_matches_ectopy(recordings: Path) -> None:
    with gzip.open(recordings / "polar_h10_rest_ecg_rr" / "polar_h10.csv.gz", "rt") as f:
        rr = np.genfromtxt(f, delimiter=",", skip_header=1, usecols=[3], dtype=np.float64)
    rr = rr[np.isfinite(rr)]
    # Independent ectopy count: a premature beat is a short interval (< 80 % of the local
    # median) followed by a compensatory one, the pair summing to about two normal beats.
    median = np.array([np.median(rr[max(i - 5, 0) : i + 6]) for i in range(len(rr))])
    short = rr[:-1] < 0.8 * median[:-1]
    compensated = np.abs(rr[:-1] + rr[1:] - 2 * median[:-1]) < 0.25 * median[:-1]
    ectopy = np.count_nonzero(short & compensated) / len(rr)
    result = correct_rr(rr)
    print(f"\nPolar H10 PVC: ectopy {ectopy:.3f}, artifact fraction {result.artifact_fraction:.3f}")
    assert ectopy > 0.05
    assert result.artifact_fraction == pytest.approx(ectopy, abs=0.05)
