"""The disturbances and references accuracy is measured with."""

from __future__ import annotations

import numpy as np

from monitor.validation import ectopic_by_qrs_shape, inject_rr_artifacts


def test_injected_artifacts_keep_the_beat_times_and_disturb_the_asked_share() -> None:
    rr = np.full(300, 800.0)
    noisy = inject_rr_artifacts(rr, fraction=0.03, seed=7)
    # Ectopic, missed and extra beats move or drop beats but never the time they span.
    assert noisy.sum() == rr.sum()
    assert len(noisy) == len(rr)  # nine artifacts: three missed, three extra cancel out
    assert np.count_nonzero(noisy == 1600) == 3
    assert np.count_nonzero(noisy == 600) == 3
    assert np.count_nonzero(noisy == 1000) == 3
    split = np.flatnonzero(~np.isin(noisy, (800, 1600, 600, 1000)))
    assert len(split) == 6
    assert np.allclose(noisy[split[::2]] + noisy[split[1::2]], 800)
    assert not np.array_equal(noisy, inject_rr_artifacts(rr, fraction=0.03, seed=8))


def test_qrs_shape_finds_the_wide_beats() -> None:
    fs_hz = 130
    t = np.arange(-13, 13) / fs_hz
    narrow = np.exp(-((t / 0.012) ** 2))
    wide = -0.6 * np.exp(-((t / 0.04) ** 2)) + 0.8 * np.exp(-(((t - 0.05) / 0.03) ** 2))
    rng = np.random.default_rng(3)
    ecg = rng.normal(0, 0.02, 130 * 60)
    peaks = np.arange(50, len(ecg) - 50, 90)
    is_wide = np.zeros(len(peaks), dtype=bool)
    is_wide[2::3] = True
    for p, w in zip(peaks, is_wide, strict=True):
        ecg[p - 13 : p + 13] += wide if w else narrow
    ectopic = ectopic_by_qrs_shape(ecg, r_peaks=np.concatenate([[5], peaks]), fs_hz=fs_hz)
    assert len(ectopic) == len(peaks)  # the beat too near the start has no full window
    assert np.array_equal(ectopic, is_wide)
