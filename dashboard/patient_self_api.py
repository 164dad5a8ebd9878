"""The patient's own JSON API under ``/api/me``: their sessions, their reports and their progress.

A patient reaches only their own record. There is no patient id to give, and someone else's
session id answers 404 as if it did not exist. Every read is audited (``OwnPatient``, ``OwnSession``).

Reports merge. An answer left out keeps what was reported before, so a patient can give pain
before a session and the rest after it. A red-flag "yes" stays on the report: it is for the
physiotherapist to see, and only the clinician's API can take it back. The time of a report is
the server's, so a late answer is visible as late.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from statistics import fmean
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dashboard.auth import CurrentPatientUser, OwnPatient, audit_view
from dashboard.clinical_schemas import MorningReportIn, RedFlag, SessionReportIn
from dashboard.deps import DbDep, RowId, StoreDep
from dashboard.queries import NotFoundError
from dashboard.schemas import ErrorDetail
from monitor.store import Patient, TrainingSession
from monitor.store.clinical import (
    in_force,
    prescription_from_json,
    prescription_versions,
    save_morning_report,
    save_session_report,
    week_start,
)
from monitor.store.models import MorningReportRow, SessionReportRow
from monitor.tolerance import MorningReport, SessionReport

ReportPart = Literal["pain_before", "pain_during", "pain_after", "effort_cr10"]
REPORT_PARTS: tuple[ReportPart, ...] = ("pain_before", "pain_during", "pain_after", "effort_cr10")
WHILE_LIVE: tuple[ReportPart, ...] = ("pain_before", "pain_during")
"""What can be reported while a session is still being recorded."""
RECENT_DAYS = 14
RED_FLAG_DAYS = 7
"""How long a red-flag answer keeps the warning on the patient's start page."""
PROGRESS_WEEKS = 12
TREND_RECENT_WEEKS = 2
TREND_EARLIER_WEEKS = 4
TREND_MIN_RATINGS = 2
TREND_MIN_CHANGE = 1.0
"""A smaller change of the average 0-10 rating is within the day-to-day spread: "about the same"."""

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "Not one of your sessions."}}

api = APIRouter(prefix="/api/me", tags=["patient"])


class ReportRefused(ValueError):
    """A report that cannot be saved as sent; the message says why (in English, for API clients)."""


class OwnSessionOut(BaseModel):
    id: int
    kind: str = Field(description="walking or strength")
    status: str = Field(description="live while recording, then complete or interrupted")
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    report: SessionReportIn | None = Field(description="What has been reported so far; null: nothing yet")
    still_to_report: list[ReportPart] = Field(
        description="Ratings not given yet; while a session is live only those before and during it"
    )


class WeekProgressOut(BaseModel):
    start: date = Field(description="Monday")
    sessions_done: int = Field(description="Sessions recorded that week")
    sessions_prescribed: int | None = Field(description="From the prescription in force; null: none yet")
    pain_after_mean: float | None = Field(description="Mean pain after that week's sessions, 0-10")


class ProgressOut(BaseModel):
    weeks: list[WeekProgressOut] = Field(description=f"The last {PROGRESS_WEEKS} weeks, oldest first, to this one")
    pain_after_recent: float | None = Field(
        description=f"Mean pain after sessions in the last {TREND_RECENT_WEEKS} weeks (this one included)"
    )
    pain_after_earlier: float | None = Field(description=f"The same in the {TREND_EARLIER_WEEKS} weeks before those")
    pain_trend: Literal["lower", "same", "higher", "unknown"] = Field(
        description=f"Recent against earlier; a change under {TREND_MIN_CHANGE} is the same; unknown: under "
        f"{TREND_MIN_RATINGS} ratings in either"
    )


class MeOut(BaseModel):
    display_name: str
    pseudonym: str
    today: date = Field(description="In the clinic's time zone")
    sessions: list[OwnSessionOut] = Field(description=f"The last {RECENT_DAYS} days' sessions, newest first")
    morning: MorningReportIn = Field(description="This morning's report; every rating null: not reported yet")
    recent_red_flags: list[RedFlag] = Field(
        description=f'Red-flag questions answered "yes" in the last {RED_FLAG_DAYS} days: contact the clinic'
    )
    progress: ProgressOut


def own_session(session_id: RowId, request: Request, user: CurrentPatientUser, db: DbDep) -> TrainingSession:
    """One of the signed-in patient's sessions, with its report; the view is audited."""
    training_session = db.scalar(
        select(TrainingSession)
        .where(TrainingSession.id == session_id, TrainingSession.patient_id == user.user_id)
        .options(selectinload(TrainingSession.report))
    )
    if training_session is None:
        raise NotFoundError(f"no session {session_id} among yours")
    audit_view(db, request, user, training_session.patient.pseudonym)
    return training_session


OwnSession = Annotated[TrainingSession, Depends(own_session)]


def today_in(tz: tzinfo) -> date:
    return datetime.now(tz).date()


def session_report_out(row: SessionReportRow | None) -> SessionReportIn | None:
    if row is None:
        return None
    return SessionReportIn(
        pain_before=row.pain_before,
        pain_during=row.pain_during,
        pain_after=row.pain_after,
        effort_cr10=row.effort_cr10,
        weight_kg=row.weight_kg,
        red_flags=row.red_flags,  # type: ignore[arg-type]  # checked against RED_FLAG_QUESTIONS when saved
        reported_at=row.reported_at,
    )


def own_session_out(row: TrainingSession) -> OwnSessionOut:
    parts = WHILE_LIVE if row.status == "live" else REPORT_PARTS
    return OwnSessionOut(
        id=row.id,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_s=row.duration_s,
        report=session_report_out(row.report),
        still_to_report=[part for part in parts if row.report is None or getattr(row.report, part) is None],
    )


def own_sessions(db: Session, patient_id: int, *, since: datetime) -> list[OwnSessionOut]:
    """The patient's sessions started since ``since``, newest first."""
    rows = db.scalars(
        select(TrainingSession)
        .where(TrainingSession.patient_id == patient_id, TrainingSession.started_at >= since)
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
        .options(selectinload(TrainingSession.report))
    )
    return [own_session_out(row) for row in rows]


def _start_of(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _kept(new: BaseModel, old: object | None, name: str) -> Any:
    """The new answer, or the one given before when there is no new one."""
    value = getattr(new, name)
    return getattr(old, name, None) if value is None else value


def save_own_session_report(
    db: Session, training_session: TrainingSession, answers: SessionReportIn
) -> SessionReportIn:
    """Add ``answers`` to what was reported on the session, and commit."""
    if answers.reported_at is not None:
        raise ReportRefused("reported_at is the time your answers arrive; leave it out")
    old = training_session.report
    try:
        report = SessionReport(
            datetime.now(UTC),
            **{name: _kept(answers, old, name) for name in (*REPORT_PARTS, "weight_kg")},
            red_flags=frozenset(old.red_flags if old else ()) | frozenset(answers.red_flags),
        )
    except ValueError as error:
        raise ReportRefused(str(error)) from None
    row = save_session_report(db, training_session.id, report)
    db.commit()
    saved = session_report_out(row)
    assert saved is not None
    return saved


def morning_row(db: Session, patient_id: int, day: date) -> MorningReportRow | None:
    return db.scalar(
        select(MorningReportRow).where(MorningReportRow.patient_id == patient_id, MorningReportRow.day == day)
    )


def morning_out(row: MorningReportRow | None, day: date) -> MorningReportIn:
    if row is None:
        return MorningReportIn(day=day)
    return MorningReportIn(
        day=day,
        pain=row.pain,
        stiffness=row.stiffness,
        red_flags=row.red_flags,  # type: ignore[arg-type]  # checked against RED_FLAG_QUESTIONS when saved
        reported_at=row.reported_at,
    )


def save_own_morning_report(db: Session, patient_id: int, answers: MorningReportIn, *, today: date) -> MorningReportIn:
    """Add ``answers`` to what was reported on the morning of ``answers.day``, and commit."""
    if answers.reported_at is not None:
        raise ReportRefused("reported_at is the time your answers arrive; leave it out")
    if answers.day > today:
        raise ReportRefused(f"the morning of {answers.day} has not come yet")
    old = morning_row(db, patient_id, answers.day)
    try:
        report = MorningReport(
            answers.day,
            datetime.now(UTC),
            pain=_kept(answers, old, "pain"),
            stiffness=_kept(answers, old, "stiffness"),
            red_flags=frozenset(old.red_flags if old else ()) | frozenset(answers.red_flags),
        )
    except ValueError as error:
        raise ReportRefused(str(error)) from None
    row = save_morning_report(db, patient_id, report)
    db.commit()
    return morning_out(row, answers.day)


def _mean(values: list[float]) -> float | None:
    return fmean(values) if values else None


def _trend(recent: list[float], earlier: list[float]) -> Literal["lower", "same", "higher", "unknown"]:
    if len(recent) < TREND_MIN_RATINGS or len(earlier) < TREND_MIN_RATINGS:
        return "unknown"
    change = fmean(recent) - fmean(earlier)
    if abs(change) < TREND_MIN_CHANGE:
        return "same"
    return "lower" if change < 0 else "higher"


def progress(db: Session, patient_id: int, *, today: date, tz: tzinfo) -> ProgressOut:
    """Sessions a week against the prescription, and pain after sessions, over the last weeks."""
    first = week_start(today) - timedelta(weeks=PROGRESS_WEEKS - 1)
    rows = db.execute(
        select(TrainingSession.started_at, SessionReportRow.pain_after)
        .outerjoin(SessionReportRow, SessionReportRow.session_id == TrainingSession.id)
        .where(TrainingSession.patient_id == patient_id, TrainingSession.started_at >= _start_of(first, tz))
        .where(TrainingSession.status != "live")
    ).all()
    by_week: list[list[float | None]] = [[] for _ in range(PROGRESS_WEEKS)]
    for started_at, pain_after in rows:
        index = (started_at.astimezone(tz).date() - first).days // 7
        if index < PROGRESS_WEEKS:
            by_week[index].append(pain_after)
    versions = prescription_versions(db, patient_id)
    weeks = []
    for i, sessions in enumerate(by_week):
        start = first + timedelta(weeks=i)
        version = in_force(versions, start + timedelta(days=6))
        weeks.append(
            WeekProgressOut(
                start=start,
                sessions_done=len(sessions),
                sessions_prescribed=prescription_from_json(version.fields).sessions_per_week if version else None,
                pain_after_mean=_mean([p for p in sessions if p is not None]),
            )
        )
    split = PROGRESS_WEEKS - TREND_RECENT_WEEKS
    recent = [p for week in by_week[split:] for p in week if p is not None]
    earlier = [p for week in by_week[split - TREND_EARLIER_WEEKS : split] for p in week if p is not None]
    return ProgressOut(
        weeks=weeks,
        pain_after_recent=_mean(recent),
        pain_after_earlier=_mean(earlier),
        pain_trend=_trend(recent, earlier),
    )


def recent_red_flags(db: Session, patient_id: int, *, today: date, tz: tzinfo) -> list[RedFlag]:
    """Red-flag questions answered "yes" in the last days, on mornings or around sessions."""
    since = today - timedelta(days=RED_FLAG_DAYS - 1)
    mornings = db.scalars(
        select(MorningReportRow.red_flags).where(
            MorningReportRow.patient_id == patient_id, MorningReportRow.day >= since
        )
    )
    sessions = db.scalars(
        select(SessionReportRow.red_flags)
        .join(TrainingSession, SessionReportRow.session_id == TrainingSession.id)
        .where(TrainingSession.patient_id == patient_id, TrainingSession.started_at >= _start_of(since, tz))
    )
    return sorted({flag for flags in (*mornings, *sessions) for flag in flags})


def me(db: Session, patient: Patient, *, tz: tzinfo) -> MeOut:
    today = today_in(tz)
    return MeOut(
        display_name=patient.display_name,
        pseudonym=patient.pseudonym,
        today=today,
        sessions=own_sessions(db, patient.id, since=_start_of(today - timedelta(days=RECENT_DAYS - 1), tz)),
        morning=morning_out(morning_row(db, patient.id, today), today),
        recent_red_flags=recent_red_flags(db, patient.id, today=today, tz=tz),
        progress=progress(db, patient.id, today=today, tz=tz),
    )


def _unprocessable(refused: ReportRefused) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(refused))


@api.get("")
def get_me(patient: OwnPatient, db: DbDep, store: StoreDep) -> MeOut:
    """Everything the start page shows: recent sessions and what is still to report, this morning, progress."""
    return me(db, patient, tz=store.tz)


@api.get("/sessions")
def list_own_sessions(
    patient: OwnPatient, db: DbDep, store: StoreDep, days: Annotated[int, Query(ge=1, le=366)] = RECENT_DAYS
) -> list[OwnSessionOut]:
    """Your sessions of the last ``days`` days (today included), newest first, with what is still to report."""
    since = _start_of(today_in(store.tz) - timedelta(days=days - 1), store.tz)
    return own_sessions(db, patient.id, since=since)


@api.get("/sessions/{session_id}", responses=NOT_FOUND)
def get_own_session(training_session: OwnSession) -> OwnSessionOut:
    """One of your sessions and what you have reported on it."""
    return own_session_out(training_session)


@api.put("/sessions/{session_id}/report", responses=NOT_FOUND)
def put_own_session_report(training_session: OwnSession, body: SessionReportIn, db: DbDep) -> SessionReportIn:
    """Report on one of your sessions; answers left out (null) keep what you reported before, a red flag stays."""
    try:
        return save_own_session_report(db, training_session, body)
    except ReportRefused as refused:
        raise _unprocessable(refused) from None


@api.get("/mornings/{day}")
def get_own_morning(patient: OwnPatient, day: date, db: DbDep) -> MorningReportIn:
    """What you reported on waking on ``day``; every rating null: nothing yet."""
    return morning_out(morning_row(db, patient.id, day), day)


@api.put("/mornings/{day}")
def put_own_morning(
    patient: OwnPatient, day: date, body: MorningReportIn, db: DbDep, store: StoreDep
) -> MorningReportIn:
    """Pain and stiffness on waking on ``day``, and the red-flag questions; answers left out keep earlier ones."""
    if body.day != day:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is for {body.day}, the path for {day}")
    try:
        return save_own_morning_report(db, patient.id, body, today=today_in(store.tz))
    except ReportRefused as refused:
        raise _unprocessable(refused) from None


@api.get("/progress")
def get_own_progress(patient: OwnPatient, db: DbDep, store: StoreDep) -> ProgressOut:
    """Sessions a week against your prescription, and how your pain after sessions is changing."""
    return progress(db, patient.id, today=today_in(store.tz), tz=store.tz)
