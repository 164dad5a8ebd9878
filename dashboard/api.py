"""JSON API under /api; the response models make the OpenAPI schema useful."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dashboard import queries
from dashboard.deps import DbDep, StoreDep
from dashboard.schemas import ErrorDetail, HeartRateSeries, PatientOverview, SessionDetail, SessionSummary

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such patient or session."}}

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/patients")
def list_patients(db: DbDep) -> list[PatientOverview]:
    return queries.list_patients(db)


@router.get("/patients/{pseudonym}/sessions", responses=NOT_FOUND)
def list_patient_sessions(pseudonym: str, db: DbDep) -> list[SessionSummary]:
    """The patient's sessions, newest first."""
    return queries.patient_sessions(db, pseudonym)


@router.get("/sessions/{session_id}", responses=NOT_FOUND)
def get_session(session_id: int, db: DbDep) -> SessionDetail:
    return queries.session_detail(db, session_id)


@router.get("/sessions/{session_id}/heart-rate", responses=NOT_FOUND)
def get_session_heart_rate(session_id: int, store: StoreDep, db: DbDep) -> HeartRateSeries:
    return queries.heart_rate_series(store, db, session_id)
