"""Ingest for hubs (``POST /api/ingest``), and the health check a load balancer or compose polls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from dashboard.deps import DbDep, LiveFeedDep, StoreDep
from dashboard.schemas import ErrorDetail
from monitor.ingest.apply import Hub, apply_batch
from monitor.ingest.hubs import hub_for_token
from monitor.ingest.wire import IngestAccepted, IngestBatch
from monitor.store import Patient

router = APIRouter(responses={401: {"model": ErrorDetail, "description": "No token, or not a registered hub's."}})
_bearer = HTTPBearer(auto_error=False, description="the hub's token, from `dosis hub add`")


def current_hub(store: StoreDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Hub:
    hub = None if credentials is None else hub_for_token(store, credentials.credentials)
    if hub is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a registered hub's token is required (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return hub


HubDep = Annotated[Hub, Depends(current_hub)]


@router.post(
    "/api/ingest",
    tags=["ingest"],
    responses={
        403: {"model": ErrorDetail, "description": "A session another hub started."},
        404: {"model": ErrorDetail, "description": "A patient this server does not know."},
        409: {"model": ErrorDetail, "description": "A message of a session whose start has not come."},
    },
)
def ingest(batch: IngestBatch, store: StoreDep, hub: HubDep, live: LiveFeedDep) -> IngestAccepted:
    """Apply a hub's messages in order; safe to send again after any failure."""
    return IngestAccepted(applied=apply_batch(store, hub, batch.messages, live=live))


@router.get(
    "/api/ingest/patients/{pseudonym}",
    tags=["ingest"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such patient"}},
)
def patient_known(pseudonym: str, db: DbDep, _hub: HubDep) -> Response:
    """Whether the server knows a patient, so a hub can refuse to record for one it does not."""
    if db.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no patient {pseudonym!r} on this server")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/healthz", include_in_schema=False)
def health(db: DbDep) -> dict[str, str]:
    """200 when the relational database answers."""
    try:
        db.execute(text("SELECT 1"))
    except OperationalError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the database does not answer") from error
    return {"status": "ok"}
