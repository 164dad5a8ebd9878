"""DFA α1 against nolds, windowed α1, HRVT1 and the online processor."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.dfa import OnlineHrv, dfa_alpha1, dfa_alpha1_windows, hrvt1_bpm
from monitor.analysis.rr import correct_rr, time_domain
from monitor.recordings import load_gudb_beats

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import nolds


def nolds_alpha1(rr: np.ndarray) -> float:
    return float(nolds.dfa(rr, nvals=range(4, 17), overlap=False, fit_exp="poly"))


def test_alpha1_equals_nolds_on_gudb_and_reference(recordings: Path) -> None:
    series = [
        load_gudb_beats(recordings, f"subject_{i:02d}", task).rr_ms
        for i in range(13)
        for task in ("sitting", "walking", "jogging")
    ]
    series += [np.loadtxt(p) for p in sorted((recordings / "hrv_reference").glob("*_ms.txt"))]
    for rr in series:
        assert dfa_alpha1(rr) == pytest.approx(nolds_alpha1(rr), abs=0.01)


def test_windows_equal_alpha1_of_each_window(recordings: Path) -> None:
    rr = np.loadtxt(recordings / "hrv_reference" / "pyhrv_SampleNNISeriesLong_ms.txt")
    ends, alpha = dfa_alpha1_windows(rr, window_s=120, step_s=5)
    end_t = np.cumsum(rr) / 1000
    assert ends[0] == 120
    assert np.diff(ends) == pytest.approx(5)
    for e, a in list(zip(ends, alpha, strict=True))[::50]:
        assert a == pytest.approx(dfa_alpha1(rr[(end_t > e - 120) & (end_t <= e)]), abs=1e-9)


def test_rr_without_any_fluctuation_has_no_alpha1() -> None:
    # A fixed-rate pacemaker: every interval the same, at the H10's 1/1024 s resolution.
    paced_ms = np.full(300, 600 * 1000 / 1024)
    assert np.isnan(dfa_alpha1(paced_ms))
    _, alpha = dfa_alpha1_windows(np.concatenate([paced_ms, 700 + np.random.default_rng(2).normal(0, 20, 300)]))
    assert np.isnan(alpha[0])
    assert np.isfinite(alpha[-1])  # the windows over varying beats still have theirs


def test_detrending_changes_only_slow_trends() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 20, 400)
    drifting = 700 + noise + np.linspace(0, 300, 400)
    assert dfa_alpha1(drifting, detrend=True) == pytest.approx(dfa_alpha1(700 + noise), abs=0.1)
    assert dfa_alpha1(drifting) > dfa_alpha1(drifting, detrend=True)


def test_hrvt1_on_a_synthetic_ramp() -> None:
    # White noise (α1 ≈ 0.5) blended into a random walk (α1 ≈ 1.5) as RR falls from 800 to 400 ms.
    rng = np.random.default_rng(5)
    n = 4000
    share = np.linspace(0, 1, n)
    walk = np.cumsum(rng.normal(0, 1, n))
    walk -= np.convolve(walk, np.ones(51) / 51, mode="same")
    rr = 800 - 400 * share + 10 * ((1 - share) * walk + share * rng.normal(0, 3, n))
    result = hrvt1_bpm(rr)
    assert result is not None
    assert 60000 / 800 < result < 60000 / 400
    assert hrvt1_bpm(800 + rng.normal(0, 10, 600)) is None  # white noise all along: never above 0.75


def test_online_equals_batch_and_memory_is_bounded(recordings: Path) -> None:
    clean = np.concatenate(
        [load_gudb_beats(recordings, f"subject_{i:02d}", t).rr_ms for i in range(13) for t in ("sitting", "walking")]
    )
    repeated = np.tile(clean, 6)
    stream = repeated[np.cumsum(repeated) <= 7300 * 1000]  # a little over two hours of beats
    online = OnlineHrv(window_s=120)
    end_t = np.cumsum(stream) / 1000
    sizes, checked = [], 0
    for i, rr in enumerate(stream):
        for reading in online.add_beat(float(rr)):
            if reading.t_s % 600 == 0:
                window = stream[: i + 1][(end_t[: i + 1] > reading.t_s - 120) & (end_t[: i + 1] <= reading.t_s)]
                corrected = correct_rr(window)
                assert reading.artifact_fraction == corrected.artifact_fraction
                if reading.rmssd_ms is not None:
                    assert reading.rmssd_ms == pytest.approx(time_domain(corrected.rr_ms)[0], rel=1e-12)
                    assert reading.alpha1 == pytest.approx(dfa_alpha1(corrected.rr_ms), rel=1e-12)
                    checked += 1
        sizes.append(len(online))
    assert end_t[-1] > 7200
    assert checked >= 10
    # Memory is the beats of one window, never more than 120 s at 300 bpm, however long the stream.
    assert max(sizes) <= 120 / 0.2 + 1
    assert max(sizes) < 300  # about 120 s of these heart rates, not the 9,000 beats streamed
