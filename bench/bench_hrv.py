"""HRV, artifact correction and DFA α1 on one hour of RR, side by side with NeuroKit2.

Run with `.venv/bin/python bench/bench_hrv.py` (part of `make bench`). The hour is real
GUDB RR (all subjects' sitting, walking and jogging series, repeated to 3,600 s). Each
figure is the fastest of several interleaved runs in this one process; both sides get the
same input and are checked to agree before they are timed.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from timing import fastest_s

from monitor.analysis import correct_rr, dfa_alpha1, dfa_alpha1_windows, hrv
from monitor.recordings import default_recordings_dir, load_gudb_beats

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import neurokit2 as nk


def one_hour_rr_ms() -> np.ndarray:
    recordings = default_recordings_dir()
    series = [
        load_gudb_beats(recordings, f"subject_{i:02d}", task).rr_ms
        for i in range(13)
        for task in ("sitting", "walking", "jogging")
        if (recordings / "gudb_rr" / f"subject_{i:02d}" / task / "annotation_cs.tsv").exists()
    ]
    repeated = np.tile(np.concatenate(series), 3)
    return repeated[np.cumsum(repeated) <= 3_600_000]


def nk_peaks(rr_ms: np.ndarray) -> np.ndarray:
    """R-peak sample indices at 1000 Hz, the input NeuroKit2's HRV functions take."""
    return np.concatenate([[0], np.cumsum(np.rint(rr_ms).astype(np.int64))])


def windows(rr_ms: np.ndarray, *, window_s: float = 120, step_s: float = 5) -> list[np.ndarray]:
    ends = np.cumsum(rr_ms) / 1000
    return [rr_ms[(ends > end - window_s) & (ends <= end)] for end in np.arange(window_s, ends[-1], step_s)]


def main() -> None:
    rr_ms = np.rint(one_hour_rr_ms())  # whole ms, so both sides see identical beats
    peaks = nk_peaks(rr_ms)
    per_window = windows(rr_ms)

    ours = hrv(rr_ms, correct_artifacts=False)
    theirs = nk.hrv_time(peaks, sampling_rate=1000)
    assert abs(ours.rmssd_ms - float(theirs["HRV_RMSSD"].iloc[0])) < 1e-6 * ours.rmssd_ms  # type: ignore[operator]
    alpha = dfa_alpha1_windows(rr_ms)[1]
    nk_alpha = [nk.fractal_dfa(w, scale=np.arange(4, 17), overlap=False)[0] for w in per_window[:3]]
    assert np.allclose(alpha[: len(nk_alpha)], nk_alpha, atol=0.05)  # NeuroKit2 fits log2; same slope

    rows = []

    def side_by_side(name: str, dosis: Callable[[], Any], neurokit: Callable[[], Any]) -> None:
        dosis_s, neurokit_s = fastest_s(dosis), fastest_s(neurokit, repeat=2)
        rows.append(f"| {name} | {dosis_s * 1000:.1f} ms | {neurokit_s * 1000:.1f} ms | {neurokit_s / dosis_s:.0f}× |")

    side_by_side(
        "time-domain HRV (RMSSD, SDNN, pNN50)",
        lambda: hrv(rr_ms, correct_artifacts=False),
        lambda: nk.hrv_time(peaks, sampling_rate=1000),
    )
    side_by_side(
        "artifact correction (Kubios rules)",
        lambda: correct_rr(rr_ms),
        lambda: nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios"),
    )
    side_by_side(
        "DFA α1, whole hour, boxes 4-16",
        lambda: dfa_alpha1(rr_ms),
        lambda: nk.fractal_dfa(rr_ms, scale=np.arange(4, 17), overlap=False),
    )
    side_by_side(
        f"DFA α1 in {len(per_window)} windows of 120 s every 5 s",
        lambda: dfa_alpha1_windows(rr_ms),
        lambda: [nk.fractal_dfa(w, scale=np.arange(4, 17), overlap=False) for w in per_window],
    )

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, neurokit2 {nk.__version__}; "
        f"{len(rr_ms)} beats, {rr_ms.sum() / 1000:.0f} s"
    )
    print("| operation (1 h of RR) | Dosis | NeuroKit2 | ratio |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
