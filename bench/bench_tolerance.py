"""The tolerance engine recomputing the full 12-week history of 200 patients, on one core.

Run with `.venv/bin/python bench/bench_tolerance.py` (part of `make bench`). Each patient
trains three times a week with seeded reports (pain, effort, mornings, now and then a
missed session, a flare or a missing report); recomputed is everything the dashboard
shows per patient: verdicts, flags and advice week by week, daily load, acute and
chronic EWMA, and monotony and strain per week. Target: under 2 s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from timing import median_s

from monitor.load import acute_chronic, daily_load, monotony_strain
from monitor.tolerance import (
    MorningReport,
    Prescription,
    SessionRecord,
    SessionReport,
    WeekAssessment,
    assess_history,
)

PATIENTS = 200
WEEKS = 12
START = date(2026, 8, 3)


def patient_history(seed: int) -> tuple[list[Prescription], list[SessionRecord], list[MorningReport]]:
    rng = np.random.default_rng(seed)
    p = Prescription(
        sessions_per_week=3, kinds=("walking",), volume_per_session=20, volume_unit="minutes", volume_goal=40
    )
    sessions: list[SessionRecord] = []
    mornings: list[MorningReport] = []
    for day_index in range(7 * WEEKS + 1):
        day = START + timedelta(days=day_index)
        stamp = datetime.combine(day, time(7), tzinfo=UTC)
        pain = (3.0 if rng.random() < 0.02 else 1.0) if rng.random() > 0.05 else None
        mornings.append(MorningReport(day, stamp, pain=pain, stiffness=2.0 if rng.random() < 0.02 else 1.0))
        if day_index < 7 * WEEKS and day.weekday() in (0, 2, 4) and rng.random() > 0.1:
            report = (
                SessionReport(
                    stamp.replace(hour=18),
                    pain_before=2.0,
                    pain_during=float(rng.integers(6, 9) if rng.random() < 0.03 else rng.integers(0, 5)),
                    pain_after=float(rng.integers(0, 5)),
                    effort_cr10=float(rng.integers(2, 7)),
                )
                if rng.random() > 0.05
                else None
            )
            sessions.append(SessionRecord(len(sessions) + 1, day, "walking", 25.0, volume=25.0, report=report))
    return [p] * WEEKS, sessions, mornings


def recompute(
    histories: list[tuple[list[Prescription], list[SessionRecord], list[MorningReport]]],
) -> list[list[WeekAssessment]]:
    results = []
    for prescriptions, sessions, mornings in histories:
        weeks = assess_history(start=START, prescriptions=prescriptions, sessions=sessions, mornings=mornings)
        loads = daily_load(
            [(s.day, s.srpe_au) for s in sessions if s.srpe_au is not None],
            first_day=START,
            last_day=START + timedelta(days=7 * WEEKS - 1),
        )
        acute_chronic(loads)
        for week in range(WEEKS):
            monotony_strain(loads[7 * week : 7 * week + 7])
        results.append(weeks)
    return results


def main() -> None:
    histories = [patient_history(seed) for seed in range(PATIENTS)]
    sessions = sum(len(h[1]) for h in histories)
    results = recompute(histories)
    actions = [w.advice.action for weeks in results for w in weeks]
    seconds = median_s(lambda: recompute(histories), repeat=5)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, one core.")
    print(f"Input: {PATIENTS} patients × {WEEKS} weeks, {sessions} sessions, {PATIENTS * (7 * WEEKS + 1)} mornings.")
    print("Advice given: " + ", ".join(f"{a} {actions.count(a)}" for a in ("progress", "hold", "step_back")))
    print("\n| work | median | per patient | target |\n|---|---|---|---|")
    per_patient_ms = seconds / PATIENTS * 1000
    print(f"| full 12-week recompute, {PATIENTS} patients | {seconds * 1000:.0f} ms | {per_patient_ms:.2f} ms | 2 s |")


if __name__ == "__main__":
    main()
