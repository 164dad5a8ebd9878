"""Readers for the open recordings in ``../shared/recordings`` (see its README).

Used to build the bundled captures, by tests that compare against ground truth, and
by validation. Each reader returns plain arrays in the recording's own terms.
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

STANDARD_GRAVITY_MS2 = 9.80665
GUDB_RATE_HZ = 250
SPAR_RATE_HZ = 50

GUDB_ATTRIBUTION = "Howell L & Porr B (2018), Glasgow University Database (GUDB), GitHub berndporr/ECG-GUDB"
OXFORD_ATTRIBUTION = (
    "Oxford Step Counter project (Salvi, Tarassenko et al., University of Oxford), GitHub Oxford-step-counter/DataSet"
)
SPAR_ATTRIBUTION = "Burns DM et al., Physiol. Meas. 39(7):075007, 2018; data from the seglearn 1.2.5 package"


def default_recordings_dir() -> Path:
    """``DOSIS_RECORDINGS_DIR``, else ``../shared/recordings`` beside the project root."""
    configured = os.environ.get("DOSIS_RECORDINGS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared" / "recordings"


@dataclass(frozen=True, slots=True)
class BeatSeries:
    """Hand-checked R peaks: beat times from the first beat, and RR before each later beat."""

    beat_t_s: npt.NDArray[np.float64]
    rr_ms: npt.NDArray[np.float64]
    """One shorter than ``beat_t_s``: ``rr_ms[i]`` ends at beat ``i + 1``."""


def load_gudb_beats(recordings: Path, subject: str, task: str, *, annotation: str = "cs") -> BeatSeries:
    """GUDB R-peak annotations (sample indices at 250 Hz) as beat times and RR in ms."""
    path = recordings / "gudb_rr" / subject / task / f"annotation_{annotation}.tsv"
    peaks = np.loadtxt(path, dtype=np.int64, ndmin=1)
    return BeatSeries((peaks - peaks[0]) / GUDB_RATE_HZ, np.diff(peaks) * (1000 / GUDB_RATE_HZ))


@dataclass(frozen=True, slots=True)
class EcgRecording:
    """A Polar H10 recording: its ECG, and the RR intervals the strap itself reported."""

    ecg_t_s: npt.NDArray[np.float64]
    """Seconds from the first ECG sample."""
    ecg_mv: npt.NDArray[np.float64]
    rr_ms: npt.NDArray[np.float64]

    @property
    def ecg_rate_hz(self) -> float:
        return float((len(self.ecg_t_s) - 1) / (self.ecg_t_s[-1] - self.ecg_t_s[0]))


def load_polar_h10_rest(recordings: Path) -> EcgRecording:
    """The 10-minute resting H10 recording with frequent premature ventricular beats."""
    with gzip.open(recordings / "polar_h10_rest_ecg_rr" / "polar_h10.csv.gz", "rt") as f:
        table = np.genfromtxt(f, delimiter=",", skip_header=1, dtype=np.float64)
    rr = table[:, 3]
    return EcgRecording((table[:, 0] - table[0, 0]) / 1e9, table[:, 1], rr[np.isfinite(rr)])


@dataclass(frozen=True, slots=True)
class Walk:
    t_s: npt.NDArray[np.float64]
    """Seconds from the first accelerometer sample; irregular, strictly increasing."""
    acc_ms2: npt.NDArray[np.float64]
    """Shape (n, 3), phone axes, gravity included."""
    step_t_s: npt.NDArray[np.float64]
    """Foot-switch steps (a 0→1 edge of either foot), same time base as ``t_s``."""


def load_oxford_walk(recordings: Path, walk: str) -> Walk:
    folder = recordings / "oxford_walks" / walk
    with gzip.open(folder / "accelerometer.csv.gz", "rt") as f:
        acc = np.loadtxt(f, delimiter=",", ndmin=2)
    with gzip.open(folder / "stepcounter.csv.gz", "rt") as f:
        feet = np.loadtxt(f, delimiter=",", ndmin=2)
    t_ns = acc[:, 0].astype(np.int64)
    order = np.argsort(t_ns, kind="stable")
    t_ns, values = t_ns[order], acc[order, 2:5]
    keep = np.concatenate([[True], np.diff(t_ns) > 0])
    t0_ns = t_ns[0]
    step_ns = np.concatenate([_rising_edges(feet[:, 0].astype(np.int64), feet[:, i]) for i in (1, 2)])
    return Walk((t_ns[keep] - t0_ns) / 1e9, values[keep], np.sort(step_ns - t0_ns) / 1e9)


def _rising_edges(t_ns: npt.NDArray[np.int64], state: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    rising = (state[1:] > 0.5) & (state[:-1] < 0.5)
    return t_ns[1:][rising]


@dataclass(frozen=True, slots=True)
class SparSet:
    set_id: str
    exercise: str
    side: str
    reps: int
    acc_g: npt.NDArray[np.float64]
    """Shape (n, 3) at 50 Hz, watch axes."""


def load_spar_sets(recordings: Path, set_ids: list[str]) -> list[SparSet]:
    folder = recordings / "spar_shoulder_reps"
    with (folder / "sets_index.csv").open(newline="") as f:
        index = {row["set_id"]: row for row in csv.DictReader(f)}
    with np.load(folder / "spar_watch_sets.npz") as arrays:
        return [
            SparSet(
                set_id,
                index[set_id]["exercise"],
                index[set_id]["side"],
                int(index[set_id]["reps_ground_truth"]),
                arrays[set_id][:, :3].astype(np.float64),
            )
            for set_id in set_ids
        ]
