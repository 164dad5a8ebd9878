"""A clinician's patients on the web: adding one, their sign-in codes, and who has seen their data.

A new patient gets a random pseudonym, never one made from the name: the pseudonym tags their
signals and audit rows, and must name nobody. A sign-in code is shown once, when issued (only
its hash is stored); revoking it ends the sessions it opened. Every route but the form for a new
patient goes through ``PatientAccess``: the clinician's own patients only, and the view audited.

Included in dashboard/accounts.py's routers.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dashboard.account_settings import refused_as_http
from dashboard.auth import CurrentClinician, PatientAccess
from dashboard.deps import DbDep, RowId
from dashboard.i18n import LANGUAGES, N_, gettext_for
from dashboard.pages import FormError
from dashboard.queries import NotFoundError
from dashboard.schemas import ErrorDetail, Unprocessable
from dashboard.templating import render
from monitor.store import AuditEvent, Clinician, Patient
from monitor.store.accounts import SignedIn, find_sign_in, issue_sign_in_code, revoke_sign_in
from monitor.store.audit import record_audit
from monitor.store.models import PatientSignIn

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(tags=["accounts"])

AUDIT_LIMIT = 200
"""The audit rows a page shows, newest first; the API pages further with ``limit``."""
PSEUDONYM_BYTES = 4
"""``p-`` and 8 hex digits, like the demo's: 4 billion, so a clash is rare and simply tried again."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail, "description": "No such patient or code."}}
ACTIONS: dict[str, str] = {
    "view": N_("Viewed"),
    "change": N_("Changed"),
    "sign-in": N_("Signed in"),
    "export": N_("Exported"),
    "ingest": N_("Session data received"),
    "retention": N_("Old raw signals deleted"),
    "patient-add": N_("Added as a patient"),
    "sign-in-issue": N_("Sign-in code issued"),
    "sign-in-revoke": N_("Sign-in code revoked"),
    "settings": N_("Settings changed"),
}
"""What the audit actions mean, for the page; others are shown as written."""


class NewPatient(BaseModel):
    display_name: str = Field(default="", max_length=200, description="The name the clinician knows the patient by.")
    locale: str | None = Field(
        default=None, max_length=8, description="The patient's pages' language: en, da or nb; null: as the phone asks."
    )


class PatientOut(BaseModel):
    pseudonym: str
    display_name: str
    locale: str | None


class SignInOut(BaseModel):
    id: int
    created_at: datetime
    created_by: str | None = Field(description="The clinician who issued it, by name; null if unknown.")
    last_used_at: datetime | None = Field(description="When a session was last opened with it.")
    revoked_at: datetime | None


class IssuedSignIn(BaseModel):
    sign_in: SignInOut
    code: str = Field(description="The code, returned this once: only its hash is kept.")
    link: str = Field(description="This server's sign-in page with the code filled in, to send the patient.")


class AuditEventOut(BaseModel):
    at: datetime
    actor: str = Field(description="clinician:<id>, patient:<pseudonym>, hub:<name> or cli:<user>.")
    actor_name: str | None = Field(description="The clinician's name when a clinician did it.")
    by_patient: bool = Field(description="The patient did it themselves.")
    action: str
    detail: str


# The database side, shared by the pages and the API.


def add_patient(db: Session, user: SignedIn, new: NewPatient, request: Request) -> Patient:
    _ = gettext_for(request)
    display_name = new.display_name.strip()
    if not display_name:
        raise FormError(_("Enter the patient's name."))
    language = new.locale or None
    if language is not None and language not in LANGUAGES:
        raise FormError(_("Choose one of the languages offered."))
    patient = Patient(
        pseudonym=_new_pseudonym(db), display_name=display_name, clinician_id=user.user_id, locale=language
    )
    db.add(patient)
    record_audit(db, actor=user.actor, action="patient-add", patient_pseudonym=patient.pseudonym, detail="")
    db.commit()
    return patient


def _new_pseudonym(db: Session) -> str:
    while True:
        pseudonym = f"p-{secrets.token_hex(PSEUDONYM_BYTES)}"
        if db.scalar(select(Patient.id).where(Patient.pseudonym == pseudonym)) is None:
            return pseudonym


def sign_ins(db: Session, patient: Patient) -> list[SignInOut]:
    """The patient's codes, newest first."""
    rows = db.execute(
        _with_issuer()
        .where(PatientSignIn.patient_id == patient.id)
        .order_by(PatientSignIn.created_at.desc(), PatientSignIn.id.desc())
    )
    return [_sign_in_out(sign_in, issued_by) for sign_in, issued_by in rows]


def issue_code(db: Session, request: Request, user: SignedIn, patient: Patient) -> IssuedSignIn:
    now = datetime.now(UTC)
    clinician = db.get_one(Clinician, user.user_id)
    code = issue_sign_in_code(db, patient, by=clinician, now=now)
    sign_in = find_sign_in(db, code)
    assert sign_in is not None  # just issued
    record_audit(
        db, actor=user.actor, action="sign-in-issue", patient_pseudonym=patient.pseudonym, detail=f"code {sign_in.id}"
    )
    db.commit()
    return IssuedSignIn(
        sign_in=_sign_in_out(sign_in, clinician.display_name),
        code=code,
        link=f"{request.base_url}signin?code={quote(code)}",
    )


def revoke_code(db: Session, user: SignedIn, patient: Patient, sign_in_id: int, request: Request) -> SignInOut:
    """The code stops working and its sessions end; revoking a revoked code changes nothing."""
    found = db.execute(
        _with_issuer().where(PatientSignIn.id == sign_in_id, PatientSignIn.patient_id == patient.id)
    ).first()
    if found is None:
        _ = gettext_for(request)
        raise NotFoundError(_("This patient has no sign-in code %(id)d.") % {"id": sign_in_id})
    sign_in, issued_by = found
    if sign_in.revoked_at is None:
        revoke_sign_in(db, sign_in, now=datetime.now(UTC))
        detail = f"code {sign_in.id}"
        record_audit(db, actor=user.actor, action="sign-in-revoke", patient_pseudonym=patient.pseudonym, detail=detail)
        db.commit()
    return _sign_in_out(sign_in, issued_by)


def audit_events(db: Session, patient: Patient, *, limit: int = AUDIT_LIMIT) -> list[AuditEventOut]:
    """Who did what with the patient's data, newest first."""
    events = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.patient_pseudonym == patient.pseudonym)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    clinician_ids = {_clinician_id(event.actor) for event in events} - {None}
    names: dict[int | None, str] = {
        clinician_id: name
        for clinician_id, name in db.execute(
            select(Clinician.id, Clinician.display_name).where(Clinician.id.in_(clinician_ids))
        )
    }
    return [
        AuditEventOut(
            at=event.at,
            actor=event.actor,
            actor_name=names.get(_clinician_id(event.actor)),
            by_patient=event.actor == f"patient:{patient.pseudonym}",
            action=event.action,
            detail=event.detail,
        )
        for event in events
    ]


def _clinician_id(actor: str) -> int | None:
    kind, _, actor_id = actor.partition(":")
    return int(actor_id) if kind == "clinician" and actor_id.isdigit() else None


def _with_issuer() -> Select[PatientSignIn, str]:
    """Sign-ins with the name of the clinician who issued them (None when unknown)."""
    return select(PatientSignIn, Clinician.display_name).outerjoin(Clinician, PatientSignIn.created_by == Clinician.id)


def _sign_in_out(sign_in: PatientSignIn, issued_by: str | None) -> SignInOut:
    return SignInOut(
        id=sign_in.id,
        created_at=sign_in.created_at,
        created_by=issued_by,
        last_used_at=sign_in.last_used_at,
        revoked_at=sign_in.revoked_at,
    )


# The pages.


@router.get("/patients/new")
def new_patient_page(request: Request, user: CurrentClinician) -> HTMLResponse:
    return _new_patient_page(request, NewPatient())


@router.post("/patients/new")
def new_patient_form(
    request: Request, user: CurrentClinician, db: DbDep, form: Annotated[NewPatient, Form()]
) -> Response:
    """Add the patient, then go to their sign-in page to give them a code."""
    try:
        patient = add_patient(db, user, form, request)
    except FormError as error:
        return _new_patient_page(request, form, error=str(error), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse(f"{_access_path(patient)}?added=1", status.HTTP_303_SEE_OTHER)


@router.get("/patients/{pseudonym}/access")
def access_page(request: Request, patient: PatientAccess, db: DbDep, added: bool = False) -> HTMLResponse:
    return _access_page(request, db, patient, added=added)


@router.post("/patients/{pseudonym}/sign-ins")
def issue_code_form(request: Request, patient: PatientAccess, user: CurrentClinician, db: DbDep) -> HTMLResponse:
    """The page with the new code on it, this once: not a redirect, which would have to carry the code."""
    return _access_page(request, db, patient, issued=issue_code(db, request, user, patient))


@router.post("/patients/{pseudonym}/sign-ins/{sign_in_id}/revoke")
def revoke_code_form(
    request: Request, patient: PatientAccess, sign_in_id: RowId, user: CurrentClinician, db: DbDep
) -> RedirectResponse:
    revoke_code(db, user, patient, sign_in_id, request)
    return RedirectResponse(f"{_access_path(patient)}#sign-ins", status.HTTP_303_SEE_OTHER)


def _access_path(patient: Patient) -> str:
    return f"/patients/{quote(patient.pseudonym)}/access"


def _new_patient_page(
    request: Request, form: NewPatient, *, error: str | None = None, status_code: int = status.HTTP_200_OK
) -> HTMLResponse:
    return render(request, "patient_new.html", {"form": form, "error": error}, status_code=status_code)


def _access_page(
    request: Request, db: Session, patient: Patient, *, added: bool = False, issued: IssuedSignIn | None = None
) -> HTMLResponse:
    audit = audit_events(db, patient)
    return render(
        request,
        "patient_access.html",
        {
            "patient": patient,
            "sign_ins": sign_ins(db, patient),
            "audit": audit,
            "audit_limited": len(audit) == AUDIT_LIMIT,
            "actions": ACTIONS,
            "added": added,
            "issued": issued,
        },
    )


# The JSON API (under /api).


@api.post("/api/patients", status_code=status.HTTP_201_CREATED, responses={422: {"model": Unprocessable}})
def create_patient(body: NewPatient, request: Request, user: CurrentClinician, db: DbDep) -> PatientOut:
    """Add a patient of one's own, with a new random pseudonym; then issue them a sign-in code."""
    with refused_as_http():
        patient = add_patient(db, user, body, request)
    return PatientOut(pseudonym=patient.pseudonym, display_name=patient.display_name, locale=patient.locale)


@api.get("/api/patients/{pseudonym}/sign-ins", responses=NOT_FOUND)
def list_sign_ins(patient: PatientAccess, db: DbDep) -> list[SignInOut]:
    """The patient's sign-in codes, newest first (the codes themselves are not kept)."""
    return sign_ins(db, patient)


@api.post("/api/patients/{pseudonym}/sign-ins", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def issue_sign_in(request: Request, patient: PatientAccess, user: CurrentClinician, db: DbDep) -> IssuedSignIn:
    """A new code for the patient, returned this once with a sign-in link; earlier codes stay valid."""
    return issue_code(db, request, user, patient)


@api.post("/api/patients/{pseudonym}/sign-ins/{sign_in_id}/revoke", responses=NOT_FOUND)
def revoke_patient_sign_in(
    request: Request, patient: PatientAccess, sign_in_id: RowId, user: CurrentClinician, db: DbDep
) -> SignInOut:
    """The code stops working, and the sessions opened with it end."""
    return revoke_code(db, user, patient, sign_in_id, request)


@api.get("/api/patients/{pseudonym}/audit", responses=NOT_FOUND)
def patient_audit(
    patient: PatientAccess, db: DbDep, limit: Annotated[int, Query(ge=1, le=1000)] = AUDIT_LIMIT
) -> list[AuditEventOut]:
    """Who saw or changed the patient's data, and when, newest first."""
    return audit_events(db, patient, limit=limit)
