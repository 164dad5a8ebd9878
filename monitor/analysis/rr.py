"""RR-interval artifact correction (Lipponen & Tarvainen 2019) and time-domain HRV.

Conventions (docs/algorithms.md, "Conventions the project pins"): RR in ms as float;
SDNN with ddof=1; pNN50 over the number of successive differences (Task Force); mean
HR = 60000 / mean RR (NeuroKit2's convention); HRV is withheld above 5 % corrected beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

# Lipponen & Tarvainen 2019 defaults, as in NeuroKit2 signal_fixpeaks(method="Kubios").
ALPHA = 5.2
C1 = 0.13
C2 = 0.17
THRESHOLD_WINDOW_BEATS = 91
MEDIAN_WINDOW_BEATS = 11
MAX_ARTIFACT_FRACTION = 0.05
MAX_ITERATIONS = 10
MIN_THRESHOLD_OF_MEDIAN_RR = 0.15
"""Floor of Th1/Th2 as a share of the local median RR (a project addition, not in the paper):
in steady exercise |dRR| is a few ms, so 5.2·IQR/2 falls to the 4 ms quantisation and flags
clean beats. At 8 % and 12 % the floor still flagged respiratory and vagal swings of GUDB
walkers (e.g. 884-1020-920 ms) and cost up to 20 % of their RMSSD; at 15 % only the GUDB
walks and jogs whose annotations hold displaced or missing R peaks are changed, and beats
displaced by 15 % or more are all still corrected (tests/test_rr.py)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RrCorrection:
    """Corrected RR series and what was changed; indices refer to the *input* ``rr_ms``."""

    rr_ms: FloatArray
    artifact_fraction: float
    """Corrected beats / input intervals. An ectopic beat counts once although it
    distorts the two intervals around it; a missed or extra beat counts once."""
    ectopic: IntArray
    """Intervals that end with a displaced (ectopic) beat; it and the next interval were interpolated."""
    missed: IntArray
    """Intervals that held an undetected beat: split in two."""
    extra: IntArray
    """Intervals that end with a spurious beat: merged with the next interval."""
    long_short: IntArray
    """Intervals too long or too short on their own: interpolated."""


@dataclass(frozen=True, slots=True)
class Hrv:
    """Time-domain HRV of artifact-corrected RR; HRV fields are None when withheld (> 5 % corrected)."""

    rmssd_ms: float | None
    sdnn_ms: float | None
    pnn50: float | None
    """Percent of successive differences above 50 ms, over the number of differences."""
    mean_hr_bpm: float
    """60000 / mean RR of the corrected series."""
    artifact_fraction: float


def _centred_rolling(values: FloatArray, width: int, quantiles: tuple[float, ...]) -> list[FloatArray]:
    """Centred rolling quantiles with shrinking windows at the edges (pandas ``min_periods=1``).

    Vectorised: every window is a row of a NaN-padded view, sorted once; each quantile is
    numpy's default linear interpolation between the order statistics of the row's
    valid values, so the result equals ``np.quantile`` on each window.
    """
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    rows = np.sort(sliding_window_view(padded, width), axis=1)  # NaNs sort last
    valid = np.count_nonzero(~np.isnan(rows), axis=1)
    index = np.arange(len(rows))
    results = []
    for q in quantiles:
        position = q * (valid - 1)
        lower = np.floor(position).astype(np.int64)
        upper = np.minimum(lower + 1, valid - 1)
        fraction = position - lower
        results.append(rows[index, lower] + fraction * (rows[index, upper] - rows[index, lower]))
    return results


def _threshold(values: FloatArray, floor: FloatArray) -> FloatArray:
    q1, q3 = _centred_rolling(np.abs(values), THRESHOLD_WINDOW_BEATS, (0.25, 0.75))
    return np.maximum(ALPHA * (q3 - q1) / 2, floor)


def _normalise(values: FloatArray, threshold: FloatArray) -> FloatArray:
    # A flat stretch (threshold 0) cannot be judged: NaN compares False everywhere.
    out = np.full(len(values), np.nan)
    np.divide(values, threshold, out=out, where=threshold != 0)
    return out


@dataclass(frozen=True, slots=True)
class _Labels:
    ectopic: IntArray
    missed: IntArray
    extra: IntArray
    long_short: IntArray

    def count(self) -> int:
        return len(self.ectopic) + len(self.missed) + len(self.extra) + len(self.long_short)


def _premature_with_pause(rr: FloatArray, next_rr: FloatArray) -> npt.NDArray[np.bool_]:
    """Intervals that end with a premature beat followed by a (near) compensatory pause.

    The IQR thresholds of the paper adapt to whatever is common, so when every second or
    third beat is ectopic (bigeminy, trigeminy) they rise above the ectopy itself. This rule
    does not adapt: a beat is premature when its interval is shorter than the local normal
    RR by more than the floor share, the next interval is longer by as much (the pause that
    tells an ectopic beat from respiratory sinus arrhythmia), and the two together span
    about two normal beats. The local normal RR is the median of adjacent-pair means, which a compensated
    ectopic pair leaves at the normal RR however frequent the ectopy.
    """
    pair_mean = (rr + next_rr) / 2
    (normal,) = _centred_rolling(pair_mean, MEDIAN_WINDOW_BEATS, (0.5,))
    share = MIN_THRESHOLD_OF_MEDIAN_RR
    with np.errstate(invalid="ignore"):
        premature = rr < (1 - share) * normal
        pause = next_rr > (1 + share) * normal
        return premature & pause & (np.abs(pair_mean - normal) < share * normal)


def _classify(rr: FloatArray) -> _Labels:
    """One pass of the decision tree of Lipponen & Tarvainen 2019 (their Figure 1), vectorised."""
    n = len(rr)
    drr = np.diff(rr, prepend=np.nan)
    drr[0] = np.mean(drr[1:])
    (med_rr,) = _centred_rolling(rr, MEDIAN_WINDOW_BEATS, (0.5,))
    floor = MIN_THRESHOLD_OF_MEDIAN_RR * med_rr
    drr = _normalise(drr, _threshold(drr, floor))
    mrr = rr - med_rr
    mrr[mrr < 0] *= 2  # short beats weigh double, as in the paper
    th2 = _threshold(mrr, floor)
    mrr = _normalise(mrr, th2)

    pad = np.pad(drr, 2, mode="reflect")
    before, after, after2 = pad[1 : n + 1], pad[3 : n + 3], pad[4 : n + 4]
    # S12 pairs a beat's dRR with its opposite-signed neighbour; S22 with the next two.
    s12 = np.where(drr > 0, np.maximum(before, after), np.minimum(before, after))
    s22 = np.where(drr >= 0, np.minimum(after, after2), np.maximum(after, after2))

    with np.errstate(invalid="ignore"):
        big = np.abs(drr) > 1
        ectopic = ((drr > 1) & (s12 < -C1 * drr - C2)) | ((drr < -1) & (s12 > -C1 * drr + C2))
        # The paper also examines the following beat when its dRR is the smaller of the next two.
        first = big & ~ectopic
        first[n - 2 :] = False  # the rules look two beats ahead
        examined = first.copy()
        examined[1:] |= (first & (np.abs(after) < np.abs(after2)))[:-1]
        long_beat = (drr > 1) & (s22 < -1)
        short_beat = (drr < -1) & (s22 > 1)
        odd = examined & (long_beat | short_beat | (np.abs(mrr) > 3))
        next_rr = np.append(rr[1:], np.nan)
        extra = odd & short_beat & (np.abs(rr + next_rr - med_rr) < th2)
        missed = odd & ~extra & long_beat & (np.abs(rr / 2 - med_rr) < th2)
    long_short = odd & ~extra & ~missed
    ectopic[n - 2 :] = False
    # The dRR right after a missed or extra beat is that beat's doing: judge it next pass.
    ectopic[1:] &= ~(missed | extra)[:-1]
    premature = _premature_with_pause(rr, next_rr)
    # One premature beat, one label: on the interval after it, whichever rule saw it first.
    for mask in (ectopic, long_short, missed, extra):
        mask[premature | np.roll(premature, 1)] = False
    ectopic[np.roll(premature, 1)] = True
    ectopic[0] = False  # no interval before the first to share the correction with

    def where(mask: npt.NDArray[np.bool_]) -> IntArray:
        return np.flatnonzero(mask).astype(np.int64)

    return _Labels(where(ectopic), where(missed), where(extra), where(long_short))


def _apply(rr: FloatArray, origin: IntArray, labels: _Labels) -> tuple[FloatArray, IntArray]:
    """Correct one pass of labels; returns the new RR and each interval's input index."""
    bad = np.zeros(len(rr), dtype=bool)
    bad[labels.long_short] = True
    bad[labels.ectopic] = True
    bad[labels.ectopic - 1] = True  # a displaced beat distorts the interval before it too
    # An extra beat merges two intervals; a missed beat splits one in halves.
    merged = np.zeros(len(rr), dtype=bool)
    merged[labels.extra[labels.extra + 1 < len(rr)]] = True
    merged_into = np.flatnonzero(merged)
    rr = rr.copy()
    rr[merged_into] += rr[merged_into + 1]
    keep = np.ones(len(rr), dtype=bool)
    keep[merged_into + 1] = False
    bad[merged_into] |= bad[merged_into + 1]
    split = np.zeros(len(rr), dtype=bool)
    split[labels.missed] = True
    split &= keep
    repeats = np.where(split, 2, 1)[keep]
    new_rr = np.repeat(rr[keep] / np.where(split[keep], 2.0, 1.0), repeats)
    new_origin = np.repeat(origin[keep], repeats)
    new_bad = np.repeat(bad[keep], repeats)
    if new_bad.any() and not new_bad.all():
        # Kubios interpolates corrected beats; linear in beat time keeps it local and never overshoots.
        t = np.cumsum(new_rr)
        new_rr[new_bad] = np.interp(t[new_bad], t[~new_bad], new_rr[~new_bad])
    return new_rr, new_origin


def correct_rr(rr_ms: npt.ArrayLike) -> RrCorrection:
    """Detect and correct ectopic, missed, extra and long/short beats (Lipponen & Tarvainen 2019).

    Thresholds and decision rules are those of NeuroKit2 ``signal_fixpeaks(method="Kubios")``
    (Th1 = 5.2·IQR/2 of |dRR| over 91 beats, 11-beat median, c1 = 0.13, c2 = 0.17). Extra
    beats are merged away, missed beats split, ectopic and long/short intervals replaced by
    linear interpolation in beat time. Passes repeat while the artifact count keeps falling.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    n_input = len(rr)
    origin = np.arange(n_input, dtype=np.int64)
    found: dict[str, list[IntArray]] = {"ectopic": [], "missed": [], "extra": [], "long_short": []}
    beats: set[tuple[str, int]] = set()
    previous = None
    for _ in range(MAX_ITERATIONS if len(rr) >= 4 else 0):
        labels = _classify(rr)
        if labels.count() == 0 or (previous is not None and labels.count() >= previous):
            break
        previous = labels.count()
        found["ectopic"].append(origin[labels.ectopic])
        found["missed"].append(origin[labels.missed])
        found["extra"].append(origin[labels.extra])
        found["long_short"].append(origin[labels.long_short])
        # A beat closing a wrong interval is one artifact, whichever rule caught it.
        beats.update(("beat", int(origin[k])) for k in (*labels.ectopic, *labels.extra + 1, *labels.long_short + 1))
        beats.update(("missed", int(origin[k])) for k in labels.missed)
        rr, origin = _apply(rr, origin, labels)

    def merged(key: str) -> IntArray:
        return np.unique(np.concatenate(found[key])) if found[key] else np.empty(0, dtype=np.int64)

    fraction = min(len(beats) / n_input, 1.0) if n_input else 0.0
    return RrCorrection(rr, fraction, merged("ectopic"), merged("missed"), merged("extra"), merged("long_short"))


def time_domain(rr_ms: FloatArray) -> tuple[float, float, float]:
    """RMSSD (ms), SDNN (ms, ddof=1) and pNN50 (% of successive differences) of RR as given."""
    diffs = np.diff(rr_ms)
    rmssd = float(np.sqrt(np.mean(diffs**2)))
    sdnn = float(np.std(rr_ms, ddof=1))
    pnn50 = float(100 * np.count_nonzero(np.abs(diffs) > 50) / len(diffs))
    return rmssd, sdnn, pnn50


def hrv(rr_ms: npt.ArrayLike, *, correct_artifacts: bool = True) -> Hrv:
    """Time-domain HRV after artifact correction (see :func:`correct_rr`).

    ``correct_artifacts=False`` is for series already cleaned elsewhere (NN intervals).
    Needs at least 3 intervals.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    if len(rr) < 3:
        raise ValueError(f"HRV needs at least 3 RR intervals, got {len(rr)}")
    fraction = 0.0
    if correct_artifacts:
        correction = correct_rr(rr)
        rr, fraction = correction.rr_ms, correction.artifact_fraction
    mean_hr = 60000 / float(np.mean(rr))
    if fraction > MAX_ARTIFACT_FRACTION:
        return Hrv(None, None, None, mean_hr, fraction)
    return Hrv(*time_domain(rr), mean_hr, fraction)
