"""Accuracy per recording: steps, repetitions and HRV on the shared open recordings.

Run with `.venv/bin/python bench/validate.py` (part of `make bench`). Prints Markdown tables:

* Steps, per Oxford walk, resampled to 50 Hz (a Polar H10 rate), against the foot
  switches: Dosis with its defaults; Dosis with ``prominence_g`` chosen leave-one-walk-out
  (on the other 13 walks); and an Oxford-stepcount-like baseline (peaks of the 5 Hz
  low-passed magnitude, ≥ 3 steps per 10-s window, distance and prominence grid-searched
  within stepcount's bounds on the four arm-band walks only).
* Repetitions, per SPAR exercise: Dosis with its defaults (tuned on all 70 sets), and
  with ``distance_periods`` and ``prominence_std`` chosen leave-one-subject-out.
* RMSSD after 1, 3 and 5 % injected ectopic, missed and extra beats, per GUDB walk and
  jog, against the clean annotation and its NN series, beside NeuroKit2's Kubios
  correction; and the artifact fraction of the Polar H10 recording with frequent premature
  beats against the ectopy seen in its ECG.
"""

from __future__ import annotations

import csv
import itertools
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import signal

from monitor.analysis.acceleration import resample_acc, to_g, vector_magnitude_g
from monitor.analysis.reps import count_reps
from monitor.analysis.rr import correct_rr, hrv, time_domain
from monitor.analysis.steps import count_steps
from monitor.recordings import (
    SparSet,
    default_recordings_dir,
    load_gudb_beats,
    load_oxford_walk,
    load_polar_h10_rest,
    load_spar_sets,
)
from monitor.validation import GUDB_NOT_CLEAN, ectopic_by_qrs_shape, inject_rr_artifacts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import neurokit2 as nk

FS_HZ = 50
STEP_PROMINENCES_G = (0.05, 0.08, 0.10, 0.12, 0.15, 0.20)
OXFORD_DISTANCES_S = tuple(np.round(np.arange(0.20, 0.65, 0.05), 2))
OXFORD_PROMINENCES_G = (0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
REP_GRID = tuple(itertools.product((0.5, 0.6, 0.7, 0.8), (0.3, 0.5, 0.7, 0.9)))


def oxford_like_steps(acc_g: npt.NDArray[np.float64], *, distance_s: float, prominence_g: float) -> int:
    """Stepcount's peak counter without its walking classifier: the ≥ 3 steps per 10 s rule stands in."""
    sos = signal.butter(4, 5.0, btype="lowpass", fs=FS_HZ, output="sos")
    smooth = signal.sosfiltfilt(sos, vector_magnitude_g(acc_g))
    window = 10 * FS_HZ
    total = 0
    for start in range(0, len(smooth), window):
        peaks, _ = signal.find_peaks(
            smooth[start : start + window], distance=max(1, round(distance_s * FS_HZ)), prominence=prominence_g
        )
        total += len(peaks) if len(peaks) >= 3 else 0
    return total


def percent(count: int, truth: int) -> float:
    return 100.0 * (count - truth) / truth


def steps_table(recordings: Path) -> None:
    with (recordings / "oxford_walks" / "ground_truth_steps.csv").open(newline="") as f:
        names = [row["session"] for row in csv.DictReader(f)]
    walks: dict[str, tuple[npt.NDArray[np.float64], int]] = {}
    for name in names:
        walk = load_oxford_walk(recordings, name)
        _, acc_g = resample_acc(t_s=walk.t_s, acc=to_g(walk.acc_ms2, unit="m/s2"), fs_hz=FS_HZ)
        walks[name] = (acc_g, len(walk.step_t_s))
    by_prominence = {
        p: {n: count_steps(a, fs_hz=FS_HZ, prominence_g=p).count for n, (a, _) in walks.items()}
        for p in STEP_PROMINENCES_G
    }
    arm = [n for n in names if "armband" in n.lower()]
    grid = list(itertools.product(OXFORD_DISTANCES_S, OXFORD_PROMINENCES_G))
    oxford = {(d, p): {n: oxford_like_steps(walks[n][0], distance_s=d, prominence_g=p) for n in names} for d, p in grid}
    best_oxford = min(grid, key=lambda dp: np.mean([abs(percent(oxford[dp][n], walks[n][1])) for n in arm]))

    print(f"### Steps, Oxford walks at {FS_HZ} Hz (error = counted − foot switches)\n")
    print(f"Oxford-like baseline: distance {best_oxford[0]} s, prominence {best_oxford[1]} g (tuned on arm band).\n")
    print("| walk | placement | truth | Dosis | error | Dosis LOO | error | Oxford-like | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows: dict[str, tuple[float, float, float]] = {}
    for name in names:
        truth = walks[name][1]
        ours = by_prominence[0.10][name]
        others = [n for n in names if n != name]
        loo_p = min(
            STEP_PROMINENCES_G, key=lambda p: np.mean([abs(percent(by_prominence[p][n], walks[n][1])) for n in others])
        )
        loo = by_prominence[loo_p][name]
        base = oxford[best_oxford][name]
        rows[name] = (percent(ours, truth), percent(loo, truth), percent(base, truth))
        placement = next(p for p in ("NeckPouch", "FrontPocket", "ArmBand") if p.lower() in name.lower())
        print(
            f"| {name} | {placement} | {truth} | {ours} | {rows[name][0]:+.1f} % | {loo} (p={loo_p}) | "
            f"{rows[name][1]:+.1f} % | {base} | {rows[name][2]:+.1f} % |"
        )
    print("\n| walks | n | Dosis MAE | Dosis max | LOO MAE | LOO max | Oxford-like MAE | Oxford-like max |")
    print("|---|---|---|---|---|---|---|---|")
    groups = {
        "chest + thigh": [n for n in names if n not in arm],
        "arm band (tuning set)": arm,
        "all": names,
    }
    for label, members in groups.items():
        errors = np.abs(np.array([rows[n] for n in members]))
        cells = " | ".join(f"{errors[:, i].mean():.2f} % | {errors[:, i].max():.2f} %" for i in range(3))
        print(f"| {label} | {len(members)} | {cells} |")


def reps_table(recordings: Path) -> None:
    with (recordings / "spar_shoulder_reps" / "sets_index.csv").open(newline="") as f:
        index = list(csv.DictReader(f))
    subject = {row["set_id"]: row["subject"] for row in index}
    sets = load_spar_sets(recordings, [row["set_id"] for row in index])
    counts = {
        (d, k): {s.set_id: count_reps(s.acc_g, fs_hz=FS_HZ, distance_periods=d, prominence_std=k).count for s in sets}
        for d, k in REP_GRID
    }
    defaults = {s.set_id: count_reps(s.acc_g, fs_hz=FS_HZ).count for s in sets}

    def mae(params: tuple[float, float], members: list[SparSet]) -> float:
        return float(np.mean([abs(counts[params][s.set_id] - s.reps) for s in members]))

    loso: dict[str, int] = {}
    for held_out in sorted(set(subject.values())):
        train = [s for s in sets if subject[s.set_id] != held_out]
        best = min(REP_GRID, key=lambda params: mae(params, train))
        loso |= {s.set_id: counts[best][s.set_id] for s in sets if subject[s.set_id] == held_out}

    print("\n### Repetitions, SPAR shoulder sets at 50 Hz (20 per set; error = counted − 20)\n")
    print("| exercise | sets | median abs error | within ±1 | within ±2 | LOSO median | LOSO ±1 | LOSO ±2 | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    by_exercise: dict[str, list[SparSet]] = defaultdict(list)
    for s in sets:
        by_exercise[s.exercise].append(s)
    for exercise, members in [*sorted(by_exercise.items()), ("all", sets)]:
        ours = np.array([defaults[s.set_id] - s.reps for s in members])
        held = np.array([loso[s.set_id] - s.reps for s in members])
        listed = "" if exercise == "all" else " ".join(f"{e:+d}" for e in ours)
        print(
            f"| {exercise} | {len(members)} | {np.median(np.abs(ours)):.1f} | {np.mean(np.abs(ours) <= 1):.0%} | "
            f"{np.mean(np.abs(ours) <= 2):.0%} | {np.median(np.abs(held)):.1f} | {np.mean(np.abs(held) <= 1):.0%} | "
            f"{np.mean(np.abs(held) <= 2):.0%} | {listed} |"
        )
    print("\nRecoFit (Morris et al. 2014, arm IMU, its own data): ±1 repetition in 93 % of sets.")


def nk_kubios(rr_ms: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], int]:
    """NeuroKit2's Kubios correction: corrected RR, and how many beats it labelled."""
    peaks = np.concatenate([[0], np.cumsum(rr_ms)]).round().astype(int)
    info, fixed = nk.signal_fixpeaks(peaks, sampling_rate=1000, method="Kubios", iterative=True)
    labelled = {int(i) for key in ("ectopic", "missed", "extra", "longshort") for i in info[key]}
    return np.asarray(np.diff(fixed), dtype=np.float64), len(labelled)


def hrv_table(recordings: Path) -> None:
    rates = (1, 3, 5)
    print("\n### RMSSD after injected artifacts, GUDB walking and jogging (error against the clean annotation)\n")
    print("Injected in turn: a beat 25 % early, a missed beat, an extra beat; seeded, ≥ 4 beats apart.\n")
    head = " | ".join(f"Dosis {r} %" for r in rates) + " | " + " | ".join(f"NeuroKit2 {r} %" for r in rates)
    print(f"| series | clean RMSSD | NN RMSSD | {head} |")
    print("|---|---|---|" + "---|" * 2 * len(rates))
    ours_clean: list[float] = []
    peer_clean: list[float] = []
    ours_nn: list[float] = []
    for subject in (f"subject_{i:02d}" for i in range(13)):
        for task in ("walking", "jogging"):
            series = f"{subject}/{task}"
            rr = load_gudb_beats(recordings, subject, task).rr_ms
            clean = time_domain(rr)[0]
            nn = time_domain(correct_rr(rr).rr_ms)[0]
            ours, peer = [], []
            for percent in rates:
                noisy = inject_rr_artifacts(rr, fraction=percent / 100, seed=100 * int(subject[-2:]) + percent)
                ours.append(time_domain(correct_rr(noisy).rr_ms)[0])
                peer.append(time_domain(nk_kubios(noisy)[0])[0])
            ours_nn += [abs(x / nn - 1) for x in ours]
            if series not in GUDB_NOT_CLEAN:
                ours_clean += [abs(x / clean - 1) for x in ours]
                peer_clean += [abs(x / clean - 1) for x in peer]
            cells = " | ".join(f"{100 * (x / clean - 1):+.1f} %" for x in [*ours, *peer])
            mark = " ¹" if series in GUDB_NOT_CLEAN else ""
            print(f"| {series}{mark} | {clean:.1f} ms | {nn:.1f} ms | {cells} |")
    n = len(ours_clean)
    print(
        f"\nClean annotations ({n} cases): within 10 %: Dosis {sum(e < 0.1 for e in ours_clean)}/{n} "
        f"(max {max(ours_clean):.1%}, median {np.median(ours_clean):.1%}), NeuroKit2 "
        f"{sum(e < 0.1 for e in peer_clean)}/{n} (max {max(peer_clean):.1%}, median {np.median(peer_clean):.1%})."
    )
    print(f"All {len(ours_nn)} cases against the NN series: Dosis max error {max(ours_nn):.1%}.\n")
    for series, reason in GUDB_NOT_CLEAN.items():
        print(f"¹ {series}: {reason}.")

    recording = load_polar_h10_rest(recordings)
    fs_hz = round(recording.ecg_rate_hz)
    ecg = nk.ecg_clean(recording.ecg_mv, sampling_rate=fs_hz)
    _, info = nk.ecg_peaks(ecg, sampling_rate=fs_hz)
    ectopy = float(np.mean(ectopic_by_qrs_shape(ecg, r_peaks=np.asarray(info["ECG_R_Peaks"]), fs_hz=fs_hz)))
    ours_hrv = hrv(recording.rr_ms)
    _, peer_labelled = nk_kubios(recording.rr_ms)
    print("\n### Ectopy: Polar H10 at rest with frequent premature ventricular beats (device RR)\n")
    print("| beats | ectopic by QRS shape in the ECG | Dosis artifact fraction | NeuroKit2 Kubios labelled |")
    print("|---|---|---|---|")
    print(
        f"| {len(recording.rr_ms)} | {ectopy:.1%} | {ours_hrv.artifact_fraction:.1%} "
        f"| {peer_labelled / len(recording.rr_ms):.1%} |"
    )
    print("\nDosis withholds HRV on this recording (> 5 % corrected beats).")


def main() -> None:
    recordings = default_recordings_dir()
    steps_table(recordings)
    reps_table(recordings)
    hrv_table(recordings)


if __name__ == "__main__":
    main()
