"""The JSON behind the clinician's Patients and Patient pages: the overview with its lights, and a patient's days.

The overview shows health data of every patient in it (the reasons carry pain ratings), so
each request is audited, once, as a view of the overview.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from dashboard import clinical_queries, queries
from dashboard.auth import CurrentClinician, PatientAccess
from dashboard.clinical_schemas import PatientDaysOut, PatientStatusOut
from dashboard.deps import DbDep, StoreDep
from dashboard.queries import AttentionCache
from dashboard.schemas import ErrorDetail
from monitor.store import Store
from monitor.store.accounts import SignedIn
from monitor.store.audit import record_audit

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such patient."}}

router = APIRouter(prefix="/api", tags=["clinical"])


def get_attention_cache(request: Request) -> AttentionCache:
    """The app's cache of patients' lights, made on first use."""
    state = request.app.state
    cache: AttentionCache | None = getattr(state, "attention_cache", None)
    if cache is None:
        cache = state.attention_cache = AttentionCache()
    return cache


AttentionCacheDep = Annotated[AttentionCache, Depends(get_attention_cache)]


def overview(
    request: Request, user: SignedIn, db: Session, store: Store, cache: AttentionCache
) -> list[PatientStatusOut]:
    """The signed-in clinician's patients with their lights (in name order), the view audited."""
    rows = queries.patient_statuses(db, clinician_id=user.user_id, tz=store.tz, cache=cache)
    record_audit(
        db,
        actor=user.actor,
        action="view",
        patient_pseudonym=None,
        detail=f"{request.method} {request.url.path}: the overview of {len(rows)} patients",
    )
    db.commit()
    return rows


@router.get("/overview")
def get_overview(
    request: Request,
    user: CurrentClinician,
    db: DbDep,
    store: StoreDep,
    cache: AttentionCacheDep,
    sort: queries.Sort = "need",
    filter: queries.Filter = "all",
) -> list[PatientStatusOut]:
    """Every patient of the signed-in clinician with a traffic light and its reasons, patients needing attention first.

    ``sort``: ``need`` (red, amber, reports missing, green, no prescription; advice awaiting a
    decision first within each), ``name``, ``last_session`` (newest first), ``adherence`` (this
    week's, lowest first) or ``load_change`` (largest rise first). ``filter``: ``all``,
    ``attention`` (anyone not green, or with advice to decide) or ``awaiting`` (advice to decide).
    """
    return queries.sort_and_filter(overview(request, user, db, store, cache), sort=sort, filter=filter)


@router.get("/patients/{pseudonym}/days", responses=NOT_FOUND)
def get_days(
    patient: PatientAccess, db: DbDep, store: StoreDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12
) -> PatientDaysOut:
    """Per day, on the days of ``/load``: TRIMP and pain during, after and the next morning."""
    return clinical_queries.patient_days(db, patient, tz=store.tz, weeks=weeks)
