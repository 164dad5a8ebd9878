"""Cases for checking the analysis against the open recordings, shared by tests and bench/validate.py.

Nothing here runs in a session: these are the disturbances and independent references
that accuracy is measured with.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

GUDB_NOT_CLEAN = {
    "subject_01/jogging": "428-488-400-440 and 380-436-340-404 ms: displaced R peaks (each pair sums to 2 RR)",
    "subject_02/jogging": "592-712-584 ms at 100 bpm: a lone 20 % pause",
    "subject_07/jogging": "492-984-480 ms and six more: R peaks missing from the annotation",
    "subject_10/jogging": "484-556-392-488 ms: a displaced R peak",
}
"""GUDB walking and jogging annotations (annotation_cs) that hold beats no NN series has.
Correcting them is right, so the raw annotation is no RMSSD reference for these."""


def inject_rr_artifacts(rr_ms: FloatArray, *, fraction: float, seed: int) -> FloatArray:
    """Ectopic (a beat 25 % early), missed and extra beats in turn, at seeded places ≥ 4 beats apart.

    ``fraction`` of the intervals are disturbed (at least one).
    """
    rng = np.random.default_rng(seed)
    rr = list(rr_ms)
    count = max(1, round(fraction * len(rr)))
    places = np.sort(rng.choice(np.arange(5, len(rr) - 5, 4), size=count, replace=False))[::-1]
    for j, i in enumerate(places):
        if j % 3 == 0:
            shift = 0.25 * rr[i]
            rr[i], rr[i + 1] = rr[i] - shift, rr[i + 1] + shift
        elif j % 3 == 1:
            rr[i : i + 2] = [rr[i] + rr[i + 1]]
        else:
            split = rng.uniform(0.3, 0.7)
            rr[i : i + 1] = [split * rr[i], (1 - split) * rr[i]]
    return np.array(rr)


def ectopic_by_qrs_shape(
    ecg_mv: FloatArray, *, r_peaks: npt.NDArray[np.int64], fs_hz: float, half_width_s: float = 0.1
) -> npt.NDArray[np.bool_]:
    """Which beats have an abnormal QRS shape: an ECG reference for ectopy, independent of RR.

    A beat is abnormal when its QRS (± ``half_width_s`` around the R peak) correlates
    below 0.85 with the median shape of the normal beats, those that correlate above 0.9
    with the median of all. Premature ventricular beats are wide and differently shaped;
    in the Polar H10 resting recording the correlations form two clusters, above 0.9 and
    below 0.85. Beats too near either end for a full window are left out.
    """
    half = round(half_width_s * fs_hz)
    inside = r_peaks[(r_peaks >= half) & (r_peaks < len(ecg_mv) - half)]
    qrs = np.stack([ecg_mv[p - half : p + half] for p in inside])

    def correlation(template: FloatArray) -> FloatArray:
        centred = qrs - qrs.mean(axis=1, keepdims=True)
        shape = template - template.mean()
        return np.asarray(centred @ shape / (np.linalg.norm(centred, axis=1) * np.linalg.norm(shape)))

    normal_shape = np.median(qrs[correlation(np.median(qrs, axis=0)) > 0.9], axis=0)
    return np.asarray(correlation(normal_shape) < 0.85)
