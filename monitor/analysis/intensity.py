"""Movement intensity per epoch: ENMO and MAD in mg, with published cut-points.

ENMO (GGIR) = mean over the epoch of ``max(|a| − 1 g, 0)``; MAD (Vähä-Ypyä 2015) = mean
over the epoch of ``| |a| − mean(|a|) |``. Both use the vector magnitude, so the
orientation does not matter. ENMO needs a calibrated sensor (a 2 % gain error is
20 mg at rest); MAD does not, since it removes each epoch's own mean.

The cut-points were derived for other wear sites, not for a chest strap: Hildebrand
2014/2017 on the non-dominant **wrist** (ENMO) and Vähä-Ypyä 2015 on the **hip** (MAD).
A chest moves less than a wrist and about as much as a hip while walking, so treat the
categories as indicative and the mg values as the measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.analysis.acceleration import vector_magnitude_g

INTENSITY_LEVELS = ("sedentary", "light", "moderate", "vigorous")

ENMO_CUTPOINTS_MG = (44.8, 100.6, 428.8)
"""Hildebrand et al. 2014 (MSSE 46:1816) and 2017, adult non-dominant wrist: sedentary
below 44.8 mg, moderate-to-vigorous from 100.6 mg, vigorous from 428.8 mg."""
MAD_CUTPOINTS_MG = (22.5, 91.0, 414.0)
"""Vähä-Ypyä et al. 2015, hip: moderate (3 MET) from 91 mg, vigorous (6 MET) from 414 mg;
the light threshold 22.5 mg is the commonly used one (algorithms.md A7)."""


@dataclass(frozen=True, slots=True)
class Epochs:
    start_s: npt.NDArray[np.float64]
    """Start of each whole epoch, seconds from the first sample."""
    value_mg: npt.NDArray[np.float64]
    epoch_s: float


@dataclass(frozen=True, slots=True)
class IntensityMinutes:
    """Minutes per level (:data:`INTENSITY_LEVELS`), whole epochs only."""

    sedentary_min: float
    light_min: float
    moderate_min: float
    vigorous_min: float


def enmo_epochs(acc_g: npt.ArrayLike, *, fs_hz: float, epoch_s: float = 5.0) -> Epochs:
    """ENMO in mg per ``epoch_s`` (default 5 s, as GGIR); a trailing partial epoch is dropped."""
    excess_g = np.maximum(vector_magnitude_g(acc_g) - 1.0, 0.0)
    return _epoch_means(excess_g * 1000.0, fs_hz=fs_hz, epoch_s=epoch_s)


def mad_epochs(acc_g: npt.ArrayLike, *, fs_hz: float, epoch_s: float = 6.0) -> Epochs:
    """MAD in mg per ``epoch_s`` (default 6 s, as Vähä-Ypyä); a trailing partial epoch is dropped."""
    magnitude = vector_magnitude_g(acc_g)
    per_epoch = _whole_epochs(magnitude, fs_hz=fs_hz, epoch_s=epoch_s)
    deviation_mg = np.abs(per_epoch - per_epoch.mean(axis=1, keepdims=True)).mean(axis=1) * 1000.0
    return Epochs(_starts_s(len(per_epoch), epoch_s), deviation_mg, epoch_s)


def classify(value_mg: npt.ArrayLike, *, cutpoints_mg: tuple[float, float, float]) -> npt.NDArray[np.int64]:
    """Index into :data:`INTENSITY_LEVELS` per epoch: a value at a cut-point belongs to the level above.

    Pass :data:`ENMO_CUTPOINTS_MG` (wrist) with ENMO or :data:`MAD_CUTPOINTS_MG` (hip) with MAD.
    """
    return np.searchsorted(np.asarray(cutpoints_mg), np.asarray(value_mg, dtype=np.float64), side="right")


def intensity_minutes(epochs: Epochs, *, cutpoints_mg: tuple[float, float, float]) -> IntensityMinutes:
    """Time at each level, from ``epochs`` and the cut-points that belong to their metric."""
    counts = np.bincount(classify(epochs.value_mg, cutpoints_mg=cutpoints_mg), minlength=len(INTENSITY_LEVELS))
    minutes = counts * epochs.epoch_s / 60.0
    return IntensityMinutes(*(float(m) for m in minutes))


def _epoch_means(values: npt.NDArray[np.float64], *, fs_hz: float, epoch_s: float) -> Epochs:
    per_epoch = _whole_epochs(values, fs_hz=fs_hz, epoch_s=epoch_s)
    return Epochs(_starts_s(len(per_epoch), epoch_s), per_epoch.mean(axis=1), epoch_s)


def _starts_s(n_epochs: int, epoch_s: float) -> npt.NDArray[np.float64]:
    return np.arange(n_epochs, dtype=np.float64) * epoch_s


def _whole_epochs(values: npt.NDArray[np.float64], *, fs_hz: float, epoch_s: float) -> npt.NDArray[np.float64]:
    """Shape ``(n_epochs, samples_per_epoch)``; the epoch length must be a whole number of samples."""
    samples = epoch_s * fs_hz
    if samples < 1 or abs(samples - round(samples)) > 1e-6:
        raise ValueError(f"epoch_s·fs_hz must be a whole number of samples, not {samples}")
    per = round(samples)
    n_epochs = len(values) // per
    return values[: n_epochs * per].reshape(n_epochs, per)
