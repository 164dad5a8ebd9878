"""The demo clinic: a clinician, patients with weeks of history, and a session running now.

History is recorded by replaying the bundled captures through the real parsers and
session code; the session running now comes from a virtual Polar H10 over bleak. The
demo shows exactly what the pipeline stores.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bleak import BleakScanner

from drivers.devices import PolarH10
from drivers.virtual import Replay, VirtualPolarH10, backend_classes
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.live import record_session
from monitor.replay import replay_capture
from monitor.store import Clinician, Patient, Store

CAPTURES = {"walking": WALKING_CAPTURE, "strength": STRENGTH_CAPTURE}


@dataclass(frozen=True, slots=True)
class DemoPatient:
    pseudonym: str
    display_name: str
    weekdays: tuple[int, ...]
    """Training days, Monday = 0."""
    kinds: tuple[str, ...]
    """Session kinds, taken in turn."""
    hour: int


DEMO_CLINICIAN = Clinician(email="physio@demo.dosis.invalid", display_name="Demo Physiotherapist")
DEMO_PATIENTS = (
    DemoPatient("p-3f7a21", "Ingrid Madsen", (0, 2, 4), ("walking",), 9),
    DemoPatient("p-8c04d9", "Lars Holm", (1, 3), ("walking", "strength"), 16),
    DemoPatient("p-b61e5c", "Sofie Berg", (0, 3, 5), ("strength",), 11),
)


def _session_starts(patient: DemoPatient, *, today: date, weeks: int) -> list[tuple[datetime, str]]:
    first = today - timedelta(weeks=weeks)
    days = (first + timedelta(days=i) for i in range((today - first).days))
    training_days = [day for day in days if day.weekday() in patient.weekdays]
    kinds = itertools.cycle(patient.kinds)
    return [(datetime.combine(day, time(patient.hour), tzinfo=UTC), next(kinds)) for day in training_days]


async def seed_demo_clinic(
    store: Store, *, today: date, weeks: int = 6, progress: Callable[[int, int], None] | None = None
) -> list[Patient]:
    """Create the demo clinician and patients and record their past sessions."""
    with store.session() as db:
        clinician = Clinician(email=DEMO_CLINICIAN.email, display_name=DEMO_CLINICIAN.display_name)
        patients = [
            Patient(pseudonym=p.pseudonym, display_name=p.display_name, clinician=clinician) for p in DEMO_PATIENTS
        ]
        db.add_all(patients)
        db.commit()
    plan = [
        (patient.id, start, kind)
        for patient, demo in zip(patients, DEMO_PATIENTS, strict=True)
        for start, kind in _session_starts(demo, today=today, weeks=weeks)
    ]
    for done, (patient_id, start, kind) in enumerate(plan, start=1):
        await replay_capture(
            CAPTURES[kind], store, patient_id=patient_id, kind=kind, start_at_ns=int(start.timestamp() * 1e9)
        )
        if progress:
            progress(done, len(plan))
    return patients


async def run_live_sessions(store: Store, patients: list[Patient], *, started: asyncio.Event | None = None) -> None:
    """Patients training now, one after the other, each wearing a virtual Polar H10.

    The strap replays a bundled capture in real time over Bumble's virtual link, and the
    session is recorded exactly as from a real strap: bleak, the H10 driver, the live
    recorder. ``started`` is set when the first of them is being recorded.
    """
    client, scanner = backend_classes()
    for patient, demo in itertools.cycle(zip(patients, DEMO_PATIENTS, strict=True)):
        kind = demo.kinds[0]
        replay = Replay.from_capture(CAPTURES[kind])
        assert replay.acc is not None
        async with VirtualPolarH10(replay, at_end="stop") as strap:
            device = await BleakScanner.find_device_by_name(strap.name, backend=scanner)
            if device is None:
                raise RuntimeError(f"the virtual {strap.name} is not advertising")
            driver = PolarH10(device, backend=client, acc_rate_hz=int(replay.acc.sample_rate_hz))
            await record_session(
                store,
                [driver],
                patient_id=patient.id,
                kind=kind,
                duration_s=replay.items[-1].t_ns / 1e9,
                source="live, from a virtual Polar H10 replaying a bundled capture",
                started=started,
            )


def fresh_demo_database(data_dir: Path) -> str:
    """A new, empty demo database file beside (never instead of) the real one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo.sqlite3"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"
