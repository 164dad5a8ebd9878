"""Server-rendered pages; charts are drawn by static/app.js from the JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import clinical_queries, queries
from dashboard.deps import DbDep, StoreDep
from dashboard.formatting import FILTERS

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(FILTERS)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/")
def patients_page(request: Request, db: DbDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "patients.html", {"patients": queries.list_patients(db)})


@router.get("/patients/{pseudonym}")
def patient_page(request: Request, pseudonym: str, db: DbDep, store: StoreDep) -> HTMLResponse:
    patient = queries.get_patient(db, pseudonym)
    sessions = queries.patient_sessions(db, pseudonym)
    weeks = list(reversed(clinical_queries.patient_weeks(db, patient, tz=store.tz, weeks=12)))
    return templates.TemplateResponse(
        request, "patient.html", {"patient": patient, "sessions": sessions, "weeks": weeks}
    )


@router.get("/sessions/{session_id}")
def session_page(request: Request, session_id: int, db: DbDep) -> HTMLResponse:
    session = queries.session_detail(db, session_id)
    return templates.TemplateResponse(request, "session.html", {"session": session})


def not_found_page(request: Request, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "not_found.html", {"message": message}, status_code=status.HTTP_404_NOT_FOUND
    )
