"""The bundled captures: real recordings encoded as the notifications a Polar H10 sends.

No open recording has heart rate and acceleration from one chest strap, so each
bundled capture is a composite of two real recordings (named in its header): RR
intervals from GUDB, acceleration from an Oxford neck-pouch walk or from SPAR
shoulder-exercise sets. What the H10 itself adds is simulated and seeded, so a
rebuild is byte-identical:

- Heart Rate Measurement once a second with the RR intervals of the beats that ended
  in that second and a bpm averaged over the last five beats, as the H10 does;
- PMD ACC frames of 36 samples (frame type 1, int16 mG; 36 is what fits an MTU of
  232), stamped with the sensor clock of an H10 whose time was never set (2019-01-01
  plus a few seconds), quantised to its 32768 Hz timer;
- a host receive time per notification: the sensor time plus a radio and host
  latency of 8 ms plus an exponential tail (mean 12 ms, at most 150 ms).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, HeartRateMeasurement
from drivers.polar_pmd import H10_UNSET_CLOCK_NS, PMD_CONTROL_POINT_UUID, PMD_DATA_UUID, PmdDataFrame
from monitor.capture import CaptureDevice, CaptureHeader, CaptureSource, PmdStreamSettings, write_capture
from monitor.recordings import (
    GUDB_ATTRIBUTION,
    OXFORD_ATTRIBUTION,
    SPAR_ATTRIBUTION,
    SPAR_RATE_HZ,
    STANDARD_GRAVITY_MS2,
    BeatSeries,
    load_gudb_beats,
    load_oxford_walk,
    load_spar_sets,
)

CAPTURES_DIR = Path(__file__).parent / "captures"
WALKING_CAPTURE = CAPTURES_DIR / "walking_h10.jsonl.gz"
STRENGTH_CAPTURE = CAPTURES_DIR / "strength_h10.jsonl.gz"

Notification = tuple[int, str, str, bytes]
"""(host time ns, device id, characteristic UUID, payload), as a capture stores them."""

DEVICE_ID = "h10"
SAMPLES_PER_FRAME = 36
SENSOR_TICKS_PER_S = 32768
BEATS_PER_BPM = 5
# The H10 answers an ACC start with success and a trailing reserved byte.
PMD_ACC_START_RESPONSE = bytes.fromhex("f00202000001")

WALK = "Samsung_Dario_Hard_NeckPouch_1"
WALK_RR = ("subject_01", "walking")
WALK_ACC_RATE_HZ = 200
STRENGTH_SETS = ["set113_S4_ROW_R", "set034_S4_ROW_L", "set138_S4_TRAP_R"]
STRENGTH_RR = ("subject_01", "hand_bike")
STRENGTH_LEAD_S = 5.0
STRENGTH_TAIL_S = 5.0
REST_NOISE_MG = 4.0
REST_TRANSITION_S = 2.0

WALKING_START_NS = 1_793_610_000_000_000_000  # 2026-11-02T09:40:00Z
STRENGTH_START_NS = 1_793_811_600_000_000_000  # 2026-11-04T17:40:00Z


def _h10_device(acc_rate_hz: int) -> CaptureDevice:
    return CaptureDevice(
        id=DEVICE_ID,
        model="Polar H10",
        name="Polar H10 0A1B2C3D",
        address="C0:DE:00:0A:1B:2C",
        characteristics=[HEART_RATE_MEASUREMENT_UUID, PMD_CONTROL_POINT_UUID, PMD_DATA_UUID],
        acc=PmdStreamSettings(sample_rate_hz=acc_rate_hz, resolution_bits=16, range_g=8),
    )


class _Latency:
    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def ns(self) -> int:
        return int(8e6 + min(self._rng.exponential(12e6), 142e6))


def _heart_rate_notifications(
    beats: BeatSeries, *, start_ns: int, duration_s: float, latency: _Latency
) -> Iterator[Notification]:
    """One notification a second with the RR intervals of the beats that ended in it."""
    beat_t_s = beats.beat_t_s[1:]
    for second in range(1, int(duration_s) + 1):
        in_second = (beat_t_s > second - 1) & (beat_t_s <= second)
        rr_ms = beats.rr_ms[in_second]
        recent = beats.rr_ms[beat_t_s <= second][-BEATS_PER_BPM:]
        bpm = round(60000 / recent.mean()) if len(recent) else 0
        payload = bytes(HeartRateMeasurement(bpm=bpm, rr_ms=tuple(rr_ms.tolist()), sensor_contact=True))
        yield start_ns + second * 1_000_000_000 + latency.ns(), DEVICE_ID, HEART_RATE_MEASUREMENT_UUID, payload


def _acc_notifications(
    acc_mg: npt.NDArray[np.float64], *, rate_hz: int, start_ns: int, latency: _Latency
) -> Iterator[Notification]:
    """PMD frames for samples taken at ``start_ns + k / rate_hz``; sensor clock unset."""
    sensor_start_ns = H10_UNSET_CLOCK_NS + 35_000_000_000
    yield start_ns - 300_000_000, DEVICE_ID, PMD_CONTROL_POINT_UUID, PMD_ACC_START_RESPONSE
    for first in range(0, len(acc_mg) - SAMPLES_PER_FRAME + 1, SAMPLES_PER_FRAME):
        last = first + SAMPLES_PER_FRAME - 1
        ticks = round((sensor_start_ns / 1e9 + last / rate_hz) * SENSOR_TICKS_PER_S)
        sensor_ns = ticks * 1_000_000_000 // SENSOR_TICKS_PER_S
        frame = PmdDataFrame("acc", sensor_ns, 1, acc_mg[first : last + 1])
        sampled_ns = start_ns + round(last * 1e9 / rate_hz)
        yield sampled_ns + latency.ns(), DEVICE_ID, PMD_DATA_UUID, bytes(frame)


def _merge(*streams: Iterator[Notification]) -> list[Notification]:
    return sorted((item for stream in streams for item in stream), key=lambda item: item[0])


def _h10_composite(
    *,
    kind: Literal["walking", "strength"],
    acc_description: str,
    rr: tuple[str, str],
    beats: BeatSeries,
    acc_mg: npt.NDArray[np.float64],
    acc_rate_hz: int,
    acc_source: CaptureSource,
    acc_truth: dict[str, object],
    start_ns: int,
    seed: int,
    extra_truth: dict[str, object] | None = None,
) -> tuple[CaptureHeader, list[Notification]]:
    """Header and notifications of an H10 session: GUDB RR ``rr`` plus ``acc_mg`` sampled from ``start_ns``."""
    subject, task = rr
    duration_s = min(float(beats.beat_t_s[-1]), len(acc_mg) / acc_rate_hz)
    header = CaptureHeader(
        description=(
            "Composite of two real recordings, encoded as a Polar H10 would send them: RR intervals from "
            f"GUDB {subject}/{task} (chest-strap ECG, hand-checked R peaks) and {acc_description}. "
            "Heart rate and acceleration come from different people."
        ),
        kind=kind,
        composite=True,
        devices=[_h10_device(acc_rate_hz)],
        sources=[
            CaptureSource(
                signal="rr_ms",
                recording=f"gudb_rr/{subject}/{task}/annotation_cs.tsv",
                licence="CC BY 3.0",
                attribution=GUDB_ATTRIBUTION,
            ),
            acc_source,
        ],
        ground_truth={
            "session_start_unix_ns": start_ns,
            "acc": acc_truth,
            "rr": {"subject": subject, "task": task},
            **(extra_truth or {}),
        },
    )
    latency = _Latency(seed)
    notifications = _merge(
        _heart_rate_notifications(beats, start_ns=start_ns, duration_s=duration_s, latency=latency),
        _acc_notifications(acc_mg, rate_hz=acc_rate_hz, start_ns=start_ns, latency=latency),
    )
    return header, notifications


def build_walking(recordings: Path) -> tuple[CaptureHeader, list[Notification]]:
    beats = load_gudb_beats(recordings, *WALK_RR)
    walk = load_oxford_walk(recordings, WALK)
    duration_s = float(min(beats.beat_t_s[-1], walk.t_s[-1]))
    grid_s = np.arange(int(duration_s * WALK_ACC_RATE_HZ)) / WALK_ACC_RATE_HZ
    acc_mg = np.column_stack([np.interp(grid_s, walk.t_s, walk.acc_ms2[:, i]) for i in range(3)])
    acc_mg *= 1000 / STANDARD_GRAVITY_MS2
    steps = int(np.count_nonzero(walk.step_t_s <= grid_s[-1]))
    return _h10_composite(
        kind="walking",
        acc_description=(
            f"acceleration from the Oxford neck-pouch walk {WALK} (phone axes), linearly resampled to "
            f"{WALK_ACC_RATE_HZ} Hz"
        ),
        rr=WALK_RR,
        beats=beats,
        acc_mg=acc_mg,
        acc_rate_hz=WALK_ACC_RATE_HZ,
        acc_source=CaptureSource(
            signal="acc_mg", recording=f"oxford_walks/{WALK}", licence="CC BY 4.0", attribution=OXFORD_ATTRIBUTION
        ),
        acc_truth={"recording": f"oxford_walks/{WALK}", "source_start_s": 0.0, "rate_hz": WALK_ACC_RATE_HZ},
        start_ns=WALKING_START_NS,
        seed=2,
        extra_truth={"steps_foot_switch": steps},
    )


def _rest_mg(
    start_mg: npt.NDArray[np.float64], end_mg: npt.NDArray[np.float64], n: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """A still arm between sets: the gravity vector moving from one set's pose to the next, plus sensor noise."""
    transition = min(n, int(REST_TRANSITION_S * SPAR_RATE_HZ))
    weight = np.ones(n)
    weight[:transition] = np.linspace(0.0, 1.0, transition)
    return start_mg + weight[:, None] * (end_mg - start_mg) + rng.normal(0.0, REST_NOISE_MG, (n, 3))


def build_strength(recordings: Path) -> tuple[CaptureHeader, list[Notification]]:
    beats = load_gudb_beats(recordings, *STRENGTH_RR)
    sets = load_spar_sets(recordings, STRENGTH_SETS)
    duration_s = float(beats.beat_t_s[-1])
    set_samples = sum(len(s.acc_g) for s in sets)
    total = int(duration_s * SPAR_RATE_HZ)
    lead, tail = int(STRENGTH_LEAD_S * SPAR_RATE_HZ), int(STRENGTH_TAIL_S * SPAR_RATE_HZ)
    rest = (total - lead - tail - set_samples) // (len(sets) - 1)
    if rest < 10 * SPAR_RATE_HZ:
        raise ValueError(f"sets of {set_samples / SPAR_RATE_HZ:.0f} s leave too little rest in {duration_s:.0f} s")
    rng = np.random.default_rng(7)
    parts: list[npt.NDArray[np.float64]] = []
    segments: list[dict[str, object]] = []
    previous_end_mg = sets[0].acc_g[0] * 1000
    for i, spar in enumerate(sets):
        set_mg = spar.acc_g * 1000
        gap = lead if i == 0 else rest
        parts.append(_rest_mg(previous_end_mg, set_mg[0], gap, rng))
        start = sum(len(p) for p in parts)
        parts.append(set_mg)
        segments.append(
            {
                "set_id": spar.set_id,
                "exercise": spar.exercise,
                "side": spar.side,
                "reps": spar.reps,
                "start_sample": start,
                "n_samples": len(set_mg),
            }
        )
        previous_end_mg = set_mg[-1]
    parts.append(_rest_mg(previous_end_mg, previous_end_mg, total - sum(len(p) for p in parts), rng))
    acc_mg = np.concatenate(parts)
    return _h10_composite(
        kind="strength",
        acc_description=(
            f"acceleration from three SPAR shoulder-exercise sets ({', '.join(STRENGTH_SETS)}; an Apple Watch "
            "on the wrist, 50 Hz, samples unchanged) with simulated rest between them (the arm still: gravity "
            f"plus {REST_NOISE_MG:g} mG noise)"
        ),
        rr=STRENGTH_RR,
        beats=beats,
        acc_mg=acc_mg,
        acc_rate_hz=SPAR_RATE_HZ,
        acc_source=CaptureSource(
            signal="acc_mg",
            recording="spar_shoulder_reps/spar_watch_sets.npz",
            licence="BSD-3-Clause",
            attribution=SPAR_ATTRIBUTION,
        ),
        acc_truth={"recording": "spar_shoulder_reps", "rate_hz": SPAR_RATE_HZ, "sets": segments},
        start_ns=STRENGTH_START_NS,
        seed=3,
    )


def build_bundled_captures(recordings: Path, out_dir: Path = CAPTURES_DIR) -> dict[Path, int]:
    """Write both bundled captures; returns the notification count per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, build in ((WALKING_CAPTURE.name, build_walking), (STRENGTH_CAPTURE.name, build_strength)):
        header, notifications = build(recordings)
        written[out_dir / name] = write_capture(out_dir / name, header, notifications)
    return written
