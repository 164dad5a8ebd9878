"""The demo clinic: a clinician, patients with weeks of history, and a session running now.

History is recorded by replaying the bundled captures through the real parsers and
session code; the session running now comes from a virtual Polar H10 over bleak. The
demo shows exactly what the pipeline stores. Around the sessions, the clinical record is
made up, reproducibly (a fixed seed): each patient's profile and prescription, the pain
and effort they report, and the demo clinician's answer to each week's advice, so that
every patient tells a story a physiotherapist recognises.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

import numpy as np
from bleak import BleakScanner
from sqlalchemy.orm import Session

from drivers.devices import PolarH10, ReconnectPolicy
from drivers.virtual import Replay, VirtualPolarH10, backend_classes
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.live import record_session
from monitor.livefeed import LiveFeed
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.clinical import (
    add_prescription,
    assess_patient,
    record_decision,
    save_morning_report,
    save_session_report,
    week_start,
)
from monitor.store.models import ClinicalProfile
from monitor.tolerance import MorningReport, Prescription, SessionReport

CAPTURES = {"walking": WALKING_CAPTURE, "strength": STRENGTH_CAPTURE}
SEED = 20261102
LATE_REPORT_SHARE = 0.1
"""Share of session reports given only the next morning."""
WOBBLE = (-1, 0, 0, 0, 1)
"""Session to session wobble of pain during around the week's level, in whole points as patients answer."""
BETTER_MORNINGS = (-1, 0, 0, 0)
"""Mornings are as the week's level or a point better: never worse outside a flare, as for a
patient who tolerates the programme (and a week's first morning a point worse than last week's
mean would already count as rising)."""


@dataclass(frozen=True, slots=True)
class WeekStory:
    """How a patient trained and felt in one week: the levels the day's ratings wobble around."""

    pain: int
    """Pain on waking and before a session."""
    during: int
    """Pain during a session; pain after is the same or a point lower."""
    effort: int
    """CR-10 of every session of the week, without wobble: the replayed sessions all last as
    long as their capture, so sRPE (effort × minutes) follows effort alone, and a point up or
    down on two or three sessions already moves a week's load past the 10 % rule."""
    stiffness: int
    flare: bool = False
    """Sessions hurt at ``during`` or a point more, and the next morning hurts more than before them."""
    skipped: tuple[int, ...] = ()
    """Training days (Monday = 0) not trained."""
    extra: tuple[int, ...] = ()
    """Days trained on top of the plan."""
    unreported: tuple[int, ...] = ()
    """Days whose session got no report at all."""
    no_morning: tuple[int, ...] = ()
    """Days without a morning report."""


@dataclass(frozen=True, slots=True)
class DemoPatient:
    pseudonym: str
    display_name: str
    weekdays: tuple[int, ...]
    """Training days, Monday = 0."""
    kinds: tuple[str, ...]
    """Session kinds, taken in turn."""
    hour: int
    sex: str
    birth_year: int
    hr_rest_bpm: float
    hr_max_bpm: float | None
    """Measured; None: Tanaka's estimate from the birth year."""
    prescription: Prescription
    """The first version, from the Monday the history starts."""
    story: tuple[WeekStory, ...]
    """Week by week from the first; the last one goes on in longer histories and this week."""
    changed: Mapping[int, tuple[Mapping[str, float], str]] = field(default_factory=dict)
    """Week → (what the clinician prescribed instead of the advice, and why); other weeks' advice is confirmed."""


DEMO_CLINICIAN = Clinician(email="physio@demo.dosis.invalid", display_name="Demo Physiotherapist")
# The bundled captures last two minutes, so every replayed session does: a walk holds
# 2.0 minutes and a strength session 61 repetitions. The strength prescription starts
# there; the walking ones are the 20-30 minutes a clinician would prescribe rather than a
# two-minute walk, and the gap is left visible. The engine judges tolerance from the
# reports and the heart rate, not from volume done, so the stories play out the same.
DEMO_PATIENTS = (
    # Knee osteoarthritis, walking; a good responder: pain falls from amber to green while
    # volume rises 10 % a week towards 30 minutes; walks feel easier from the fourth week.
    DemoPatient(
        "p-3f7a21",
        "Ingrid Madsen",
        (0, 2, 4),
        ("walking",),
        9,
        sex="female",
        birth_year=1958,
        hr_rest_bpm=64,
        hr_max_bpm=None,
        prescription=Prescription(
            sessions_per_week=3,
            kinds=("walking",),
            volume_per_session=20,
            volume_unit="minutes",
            volume_goal=30,
            intensity=100,
            intensity_unit="steps/min",
            hr_ceiling_percent_hrr=60,
        ),
        story=(
            WeekStory(pain=3, during=3, effort=4, stiffness=3),
            WeekStory(pain=3, during=3, effort=4, stiffness=3),
            WeekStory(pain=2, during=3, effort=4, stiffness=2),
            WeekStory(pain=2, during=2, effort=3, stiffness=2),
            WeekStory(pain=1, during=2, effort=3, stiffness=1),
            WeekStory(pain=1, during=1, effort=3, stiffness=1),
        ),
    ),
    # Chronic low back pain, walking and strength; a load spike (two extra, harder sessions
    # in the third week), then a flare: pain during above 5 and mornings worse than before.
    # The clinician steps back further than advised, and he builds up again.
    DemoPatient(
        "p-8c04d9",
        "Lars Holm",
        (1, 3),
        ("walking", "strength"),
        16,
        sex="male",
        birth_year=1971,
        hr_rest_bpm=58,
        hr_max_bpm=168,
        prescription=Prescription(
            sessions_per_week=2,
            kinds=("walking", "strength"),
            volume_per_session=20,
            volume_unit="minutes",
            volume_goal=30,
            hr_ceiling_percent_hrr=55,
        ),
        story=(
            WeekStory(pain=2, during=3, effort=4, stiffness=2),
            WeekStory(pain=2, during=3, effort=4, stiffness=2),
            WeekStory(pain=2, during=3, effort=6, stiffness=2, extra=(4, 5)),
            WeekStory(pain=3, during=6, effort=5, stiffness=4, flare=True),
            WeekStory(pain=3, during=3, effort=4, stiffness=3),
            WeekStory(pain=2, during=3, effort=4, stiffness=2),
        ),
        changed={
            3: (
                {"volume_per_session": 15},
                "Flare after he added sessions on his own: stepped back to 15 minutes, more than advised, "
                "and agreed to keep to two sessions a week.",
            )
        },
    ),
    # Shoulder pain, strength; patchy: a forgotten morning report, a week with a skipped
    # and an unreported session. Weeks that cannot be judged, or come back from a lighter
    # one, hold; complete weeks progress.
    DemoPatient(
        "p-b61e5c",
        "Sofie Berg",
        (0, 3, 5),
        ("strength",),
        11,
        sex="female",
        birth_year=1990,
        hr_rest_bpm=68,
        hr_max_bpm=None,
        prescription=Prescription(
            sessions_per_week=3,
            kinds=("strength",),
            volume_per_session=60,
            volume_unit="repetitions",
            volume_goal=75,
            intensity=2,
            intensity_unit="kg",
        ),
        story=(
            WeekStory(pain=3, during=3, effort=5, stiffness=2),
            WeekStory(pain=3, during=3, effort=5, stiffness=2, no_morning=(4,)),
            WeekStory(pain=3, during=3, effort=5, stiffness=2),
            WeekStory(pain=3, during=3, effort=5, stiffness=2, skipped=(5,), unreported=(3,)),
            WeekStory(pain=2, during=3, effort=5, stiffness=2),
            WeekStory(pain=2, during=2, effort=5, stiffness=2),
        ),
    ),
)


LIVE_LANES = (("p-3f7a21", "p-8c04d9"), ("p-b61e5c",))
"""Who trains live in the demo, two at once so the live view shows a group: the walkers
(Ingrid Madsen, Lars Holm) take turns beside the strength patient (Sofie Berg)."""


@dataclass(frozen=True, slots=True)
class PlannedSession:
    day: date
    start: datetime
    kind: str
    ratings: tuple[float, float, float, float] | None
    """Pain before, during and after, and CR-10 effort; None: never reported."""
    late_at: datetime | None
    """When a late report was given, the next morning; None: about half an hour after the end."""
    delay: timedelta
    """From the end of the session to an on-time report."""

    def report(self, ended_at: datetime) -> SessionReport | None:
        if self.ratings is None:
            return None
        before, during, after, effort = self.ratings
        reported_at = self.late_at or ended_at + self.delay
        return SessionReport(reported_at, pain_before=before, pain_during=during, pain_after=after, effort_cr10=effort)


def _rating(rng: np.random.Generator, level: float, offsets: tuple[int, ...]) -> float:
    return float(np.clip(level + rng.choice(offsets), 0, 10))


def plan_history(
    patient: DemoPatient, *, first: date, today: date, tz: tzinfo, rng: np.random.Generator
) -> tuple[list[PlannedSession], list[MorningReport]]:
    """Sessions up to yesterday and morning reports up to today, from the Monday ``first``.

    Outside a flare the ratings keep the pain-monitoring rules, as a tolerating patient's
    do: a morning after a session hurts no more than before it, and is no stiffer than the
    morning of it.
    """
    kinds = itertools.cycle(patient.kinds)
    sessions: list[PlannedSession] = []
    mornings: list[MorningReport] = []
    # Pain before yesterday's session, stiffness that morning, and whether it flared.
    yesterday: tuple[float, float, bool] | None = None
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        story = patient.story[min(offset // 7, len(patient.story) - 1)]
        pain, stiffness = _rating(rng, story.pain, BETTER_MORNINGS), _rating(rng, story.stiffness, BETTER_MORNINGS)
        if yesterday is not None:
            before, stiffness_before, flared = yesterday
            if flared:
                pain = max(pain, min(10.0, before + 1 + int(rng.integers(2))))
            else:
                pain, stiffness = min(pain, before), min(stiffness, stiffness_before)
        if day.weekday() not in story.no_morning:
            woke = datetime.combine(day, time(7), tzinfo=tz) + timedelta(minutes=int(rng.integers(90)))
            mornings.append(MorningReport(day, woke, pain=pain, stiffness=stiffness))
        trains = day.weekday() in patient.weekdays and day.weekday() not in story.skipped
        if day >= today or not (trains or day.weekday() in story.extra):
            yesterday = None
            continue
        start = datetime.combine(day, time(patient.hour), tzinfo=tz) + timedelta(minutes=int(rng.integers(30)))
        # Pain tends to be no lower by the time of a session than on waking.
        before = _rating(rng, pain, (0, 0, 1))
        during = _rating(rng, story.during, (0, 1) if story.flare else WOBBLE)
        ratings = (before, during, _rating(rng, during, (-1, 0, 0)), float(story.effort))
        next_morning = datetime.combine(day + timedelta(days=1), time(8), tzinfo=tz)
        late = rng.random() < LATE_REPORT_SHARE and day + timedelta(days=1) < today
        sessions.append(
            PlannedSession(
                day,
                start,
                next(kinds),
                None if day.weekday() in story.unreported else ratings,
                next_morning + timedelta(minutes=int(rng.integers(120))) if late else None,
                timedelta(minutes=25 + int(rng.integers(15))),
            )
        )
        yesterday = (before, stiffness, story.flare)
    return sessions, mornings


def _set_up(db: Session, patient: Patient, demo: DemoPatient, *, clinician: Clinician, first: date, tz: tzinfo) -> None:
    """The profile and first prescription, made at the assessment the Friday before ``first``."""
    assessed = datetime.combine(first - timedelta(days=3), time(14), tzinfo=tz)
    db.add(
        ClinicalProfile(
            patient_id=patient.id,
            sex=demo.sex,
            birth_year=demo.birth_year,
            hr_rest_bpm=demo.hr_rest_bpm,
            hr_max_bpm=demo.hr_max_bpm,
            updated_at=assessed,
        )
    )
    add_prescription(
        db,
        patient.id,
        demo.prescription,
        valid_from=first,
        clinician_id=clinician.id,
        note="first prescription",
        now=assessed,
    )


def _decide(
    db: Session, patient: Patient, demo: DemoPatient, *, clinician: Clinician, first: date, week: int, tz: tzinfo
) -> None:
    """The clinician's answer to a week's advice, on the Monday after it."""
    monday = first + timedelta(weeks=week)
    next_monday = monday + timedelta(weeks=1)
    assessed = assess_patient(db, patient.id, today=next_monday, tz=tz, weeks=week + 2)
    assessment = next(a for a in assessed if a.start == monday)
    changes, note = demo.changed.get(week, (None, ""))
    record_decision(
        db,
        patient.id,
        assessment,
        decision="confirmed" if changes is None else "changed",
        prescription=None if changes is None else assessment.prescription.with_changes(**changes),
        clinician_id=clinician.id,
        note=note,
        # Monday morning, or now if that is still to come today.
        now=min(datetime.combine(next_monday, time(8, 30), tzinfo=tz), datetime.now(tz)),
    )


async def seed_demo_clinic(
    store: Store, *, today: date, weeks: int = 6, progress: Callable[[int, int], None] | None = None
) -> list[Patient]:
    """Create the demo clinician and patients, their clinical record, and their past sessions.

    History starts on the Monday ``weeks`` weeks before this one. Week by week, the
    sessions are recorded with their reports, then the clinician answers the week's
    advice, so each week's sessions are judged against the prescription then in force;
    last week's advice is left to the user, as a clinician finds it on a Monday.
    """
    first = week_start(today) - timedelta(weeks=weeks)
    plans = [
        plan_history(demo, first=first, today=today, tz=store.tz, rng=np.random.default_rng([SEED, n]))
        for n, demo in enumerate(DEMO_PATIENTS)
    ]
    with store.session() as db:
        clinician = Clinician(email=DEMO_CLINICIAN.email, display_name=DEMO_CLINICIAN.display_name)
        patients = [
            Patient(pseudonym=p.pseudonym, display_name=p.display_name, clinician=clinician) for p in DEMO_PATIENTS
        ]
        db.add_all(patients)
        db.flush()
        for patient, demo, (_, mornings) in zip(patients, DEMO_PATIENTS, plans, strict=True):
            _set_up(db, patient, demo, clinician=clinician, first=first, tz=store.tz)
            for morning in mornings:
                if morning.reported_at <= datetime.now(store.tz):  # not this morning's, before it has come
                    save_morning_report(db, patient.id, morning)
        db.commit()
    total = sum(len(sessions) for sessions, _ in plans)
    done = 0
    for week in range(weeks + 1):
        monday = first + timedelta(weeks=week)
        for patient, demo, (sessions, _) in zip(patients, DEMO_PATIENTS, plans, strict=True):
            for planned in (s for s in sessions if week_start(s.day) == monday):
                result = await replay_capture(
                    CAPTURES[planned.kind],
                    PatientInStore(store, patient.id),
                    kind=planned.kind,
                    start_at_ns=int(planned.start.timestamp() * 1e9),
                )
                assert result.session.ended_at is not None  # a replay that ran to its end
                report = planned.report(result.session.ended_at)
                if report is not None:
                    with store.session() as db:
                        save_session_report(db, result.session.id, report)
                        db.commit()
                done += 1
                if progress:
                    progress(done, total)
            if week < weeks - 1:
                with store.session() as db:
                    _decide(db, patient, demo, clinician=clinician, first=first, week=week, tz=store.tz)
                    db.commit()
    return patients


async def run_live_sessions(
    store: Store, patients: list[Patient], *, live: LiveFeed | None = None, started: asyncio.Event | None = None
) -> None:
    """Patients training now, two at once (:data:`LIVE_LANES`), each wearing a virtual Polar H10.

    The straps replay bundled captures in real time over Bumble's virtual link, and each
    session is recorded exactly as from a real strap: bleak, the H10 driver, the live
    recorder, shown as it goes on ``live`` (the dashboard's live view). ``started`` is set
    when the first of them is being recorded.
    """
    by_pseudonym = {patient.pseudonym: patient for patient in patients}
    demos = {demo.pseudonym: demo for demo in DEMO_PATIENTS}
    await asyncio.gather(
        *(
            _train_in_turn(store, [(by_pseudonym[p], demos[p]) for p in lane], strap=n, live=live, started=started)
            for n, lane in enumerate(LIVE_LANES)
        )
    )


async def _train_in_turn(
    store: Store,
    lane: list[tuple[Patient, DemoPatient]],
    *,
    strap: int,
    live: LiveFeed | None,
    started: asyncio.Event | None,
) -> None:
    """The lane's patients one after the other, each in their first kind of session, on strap number ``strap``."""
    for patient, demo in itertools.cycle(lane):
        kind = demo.kinds[0]
        h10 = VirtualPolarH10(
            Replay.from_capture(CAPTURES[kind]),
            at_end="stop",
            name=f"Polar H10 0A1B2C{0x3D + strap:02X}",
            address=f"C0:DE:00:0A:1B:{0x2C + strap:02X}",
        )
        await train_live(store, patient.id, kind, h10, live=live, started=started)


async def train_live(
    store: Store,
    patient_id: int,
    kind: str,
    h10: VirtualPolarH10,
    *,
    live: LiveFeed | None = None,
    duration_s: float | None = None,
    started: asyncio.Event | None = None,
    policy: ReconnectPolicy | None = None,
) -> TrainingSession:
    """One session recorded live from the virtual ``h10`` (powered on here), for its replay's length by default.

    Recorded exactly as from a real strap: bleak, the H10 driver (with ``policy``), the live
    recorder, shown as it goes on ``live``.
    """
    client, scanner = backend_classes()
    acc = h10.replay.acc
    assert acc is not None
    async with h10:
        device = await BleakScanner.find_device_by_name(h10.name, backend=scanner)
        if device is None:
            raise RuntimeError(f"the virtual {h10.name} is not advertising")
        return await record_session(
            PatientInStore(store, patient_id, live=live),
            [PolarH10(device, backend=client, acc_rate_hz=int(acc.sample_rate_hz), policy=policy)],
            kind=kind,
            duration_s=duration_s if duration_s is not None else h10.replay.items[-1].t_ns / 1e9,
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
