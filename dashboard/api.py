"""JSON API under /api; the response models make the OpenAPI schema useful."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from dashboard import queries, session_queries
from dashboard.auth import CurrentClinician, PatientAccess, SessionAccess
from dashboard.deps import DbDep, StoreDep
from dashboard.schemas import (
    DecimatedSignal,
    ErrorDetail,
    HeartRateSeries,
    PatientOverview,
    SessionDetail,
    SessionSummary,
    SessionTraces,
)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such patient or session."}}

MAX_NS = 4_102_444_800_000_000_000
"""2100-01-01 in ns since the Unix epoch: after any recording, and far inside the database's 64-bit integers."""

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/patients")
def list_patients(user: CurrentClinician, db: DbDep) -> list[PatientOverview]:
    """The signed-in clinician's patients."""
    return queries.list_patients(db, clinician_id=user.user_id)


@router.get("/patients/{pseudonym}/sessions", responses=NOT_FOUND)
def list_patient_sessions(patient: PatientAccess, db: DbDep) -> list[SessionSummary]:
    """The patient's sessions, newest first."""
    return queries.patient_sessions(db, patient)


@router.get("/sessions/{session_id}", responses=NOT_FOUND)
def get_session(training_session: SessionAccess) -> SessionDetail:
    return queries.session_detail(training_session)


@router.get("/sessions/{session_id}/heart-rate", responses=NOT_FOUND)
def get_session_heart_rate(training_session: SessionAccess, store: StoreDep) -> HeartRateSeries:
    return queries.heart_rate_series(store, training_session.id)


@router.get("/sessions/{session_id}/traces", responses=NOT_FOUND)
def get_session_traces(training_session: SessionAccess, db: DbDep, store: StoreDep) -> SessionTraces:
    """Heart rate with zones and ceiling, α1, cadence or sets, gaps and the patient's report: the session page."""
    return session_queries.session_traces(db, store, training_session)


@router.get("/sessions/{session_id}/signals/{signal}", responses=NOT_FOUND)
def get_session_signal(
    training_session: SessionAccess,
    store: StoreDep,
    signal: str,
    channel: Annotated[
        str | None, Query(description="A column of the signal (x, y or z of acc_mg); default the first.")
    ] = None,
    from_ns: Annotated[
        int | None, Query(ge=0, le=MAX_NS, description="Start of the zoomed range, ns since the Unix epoch.")
    ] = None,
    to_ns: Annotated[int | None, Query(ge=0, le=MAX_NS, description="End of the zoomed range.")] = None,
    points: Annotated[int, Query(ge=10, le=session_queries.MAX_POINTS, description="Buckets at most.")] = 1000,
) -> DecimatedSignal:
    """A raw signal decimated on the server to min and max per bucket, for a chart of any zoom."""
    try:
        return session_queries.decimated_signal(
            store,
            training_session,
            signal,
            channel=channel,
            from_ns=from_ns,
            to_ns=to_ns,
            points=points,
        )
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
