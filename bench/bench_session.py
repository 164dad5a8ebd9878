"""The whole batch analysis of a 45-minute Polar H10 session on one core (target: under 1 s).

Run with `.venv/bin/python bench/bench_session.py` (part of `make bench`). The session is
the bundled walking capture's real data - 200 Hz acceleration from an Oxford walk and GUDB
walking RR, decoded from their H10 wire format - repeated to 45 minutes. Timed is exactly
what the recorder runs when a session ends: analyse_activity and analyse_heart. BLAS
threads are pinned to 1 before numpy loads.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import platform  # noqa: E402

import numpy as np  # noqa: E402
from timing import median_s  # noqa: E402

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate  # noqa: E402
from drivers.polar_pmd import PMD_DATA_UUID, decode_frame  # noqa: E402
from monitor.analysis.session import analyse_activity, analyse_heart  # noqa: E402
from monitor.capture import CaptureReader, CaptureRecord  # noqa: E402
from monitor.composites import WALKING_CAPTURE  # noqa: E402

SESSION_S = 45 * 60
ACC_RATE_HZ = 200


def main() -> None:
    with CaptureReader(WALKING_CAPTURE) as reader:
        records = [r for r in reader.records() if isinstance(r, CaptureRecord)]
    acc_mg = np.concatenate([decode_frame(r.payload).samples for r in records if r.characteristic == PMD_DATA_UUID])
    rr_ms = np.array(
        [
            rr
            for r in records
            if r.characteristic == HEART_RATE_MEASUREMENT_UUID
            for rr in parse_heart_rate(r.payload).rr_ms
        ]
    )
    repeats = int(np.ceil(SESSION_S * ACC_RATE_HZ / len(acc_mg)))
    session_acc_mg = np.tile(acc_mg, (repeats, 1))[: SESSION_S * ACC_RATE_HZ]
    t_s = np.arange(len(session_acc_mg)) / ACC_RATE_HZ
    session_rr_ms = np.tile(rr_ms, int(np.ceil(SESSION_S * 1000 / rr_ms.sum())))
    session_rr_ms = session_rr_ms[np.cumsum(session_rr_ms) <= SESSION_S * 1000]

    activity_s = median_s(lambda: analyse_activity(kind="walking", t_s=t_s, acc_mg=session_acc_mg), repeat=5)
    heart_s = median_s(lambda: analyse_heart(rr_ms=session_rr_ms), repeat=5)
    activity = analyse_activity(kind="walking", t_s=t_s, acc_mg=session_acc_mg)
    heart = analyse_heart(rr_ms=session_rr_ms)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, one core.")
    print(f"Input: {len(session_acc_mg):,} ACC samples at {ACC_RATE_HZ} Hz and {len(session_rr_ms):,} RR intervals.\n")
    print("| part | median | result |\n|---|---|---|")
    print(f"| activity (steps, bouts, cadence, MAD) | {activity_s * 1000:.0f} ms | {activity.steps} steps |")
    rmssd = "withheld" if heart.rmssd_ms is None else f"RMSSD {heart.rmssd_ms:.1f} ms"
    print(f"| heart (RR correction, HRV, α1, HRVT1) | {heart_s * 1000:.0f} ms | {rmssd}, α1 {heart.alpha1:.2f} |")
    total_s = activity_s + heart_s
    print(f"| **whole session** | **{total_s * 1000:.0f} ms** | {total_s:.2f} of the 1 s target |")


if __name__ == "__main__":
    main()
