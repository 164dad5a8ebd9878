"""The administrator's page of clinicians' accounts: add, disable, enable, a new password.

A password is shown once, when made (or chosen by the admin), and never written to the audit log;
every change is audited with the account's id. An admin cannot disable their own account, nor
give themself a new password here (it would end their session): that is on their account page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.account_settings import UNPROCESSABLE, audit_account, check_new_password, refused_as_http
from dashboard.auth import CurrentAdmin
from dashboard.deps import DbDep, RowId
from dashboard.i18n import gettext_for
from dashboard.pages import FormError
from dashboard.queries import NotFoundError
from dashboard.schemas import ErrorDetail, Unprocessable
from dashboard.templating import render
from monitor.store import AuditEvent, Clinician
from monitor.store.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    SignedIn,
    create_clinician,
    disable_clinician,
    new_password,
    set_password,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(tags=["accounts"])

REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDetail, "description": "No such clinician."},
    422: {"model": Unprocessable, "description": "Not possible; the message says why."},
}


class NewClinician(BaseModel):
    """A clinician's account to make; from the admin's form or as JSON."""

    email: str = Field(default="", max_length=254)
    display_name: str = Field(default="", max_length=200)
    is_admin: bool = False
    password: str = Field(
        default="",
        max_length=MAX_PASSWORD_LENGTH,
        description=f"At least {MIN_PASSWORD_LENGTH} characters; empty: one is generated and returned once.",
    )


class ClinicianOut(BaseModel):
    id: int
    email: str
    display_name: str
    is_admin: bool
    disabled_at: datetime | None
    locked_until: datetime | None = Field(description="Locked after several wrong passwords, until then.")
    last_sign_in_at: datetime | None = Field(description="The last sign-in with the password, if any.")


class ClinicianPassword(BaseModel):
    clinician: ClinicianOut
    password: str | None = Field(description="The generated password, shown this once; null when the admin chose it.")


# The changes, shared by the pages and the API.


def clinicians(db: Session) -> list[ClinicianOut]:
    last_sign_in: dict[str, datetime] = dict(
        db.execute(
            select(AuditEvent.actor, func.max(AuditEvent.at))
            .where(AuditEvent.action == "sign-in")
            .group_by(AuditEvent.actor)
        ).all()
    )
    return [
        _clinician_out(clinician, last_sign_in.get(f"clinician:{clinician.id}"))
        for clinician in db.scalars(select(Clinician).order_by(Clinician.display_name, Clinician.id))
    ]


def add_clinician(db: Session, admin: SignedIn, new: NewClinician, request: Request) -> ClinicianPassword:
    _ = gettext_for(request)
    email = new.email.strip().lower()
    name, at, domain = email.rpartition("@")
    if not (name and at and domain):
        raise FormError(_("Enter the clinician's email address."))
    if not new.display_name.strip():
        raise FormError(_("Enter the clinician's name."))
    if db.scalar(select(Clinician.id).where(Clinician.email == email)) is not None:
        raise FormError(_("There is already an account for %(email)s.") % {"email": email})
    if new.password:
        check_new_password(new.password, _)
    generated = None if new.password else new_password()
    clinician = create_clinician(
        db, email=email, display_name=new.display_name, password=new.password or generated, is_admin=new.is_admin
    )
    audit_account(db, admin, "clinician-add", f"clinician:{clinician.id} as {'admin' if new.is_admin else 'clinician'}")
    db.commit()
    return ClinicianPassword(clinician=_clinician_out(clinician), password=generated)


def set_disabled(db: Session, admin: SignedIn, clinician_id: int, *, disabled: bool, request: Request) -> ClinicianOut:
    """Disable an account (its sessions end at once) or enable it again; asking for what is so changes nothing."""
    clinician = _clinician(db, clinician_id)
    if disabled and clinician.id == admin.user_id:
        _ = gettext_for(request)
        raise FormError(_("You cannot disable your own account."))
    if disabled and clinician.disabled_at is None:
        disable_clinician(db, clinician, now=datetime.now(UTC))
        audit_account(db, admin, "clinician-disable", f"clinician:{clinician.id}")
    elif not disabled and clinician.disabled_at is not None:
        clinician.disabled_at = None
        audit_account(db, admin, "clinician-enable", f"clinician:{clinician.id}")
    db.commit()
    return _clinician_out(clinician)


def reset_password(db: Session, admin: SignedIn, clinician_id: int, request: Request) -> ClinicianPassword:
    """A new generated password, shown once; it ends the clinician's sessions and any lock."""
    clinician = _clinician(db, clinician_id)
    if clinician.id == admin.user_id:
        # It would end the admin's own session as the new password is shown.
        _ = gettext_for(request)
        raise FormError(_("Change your own password on your account page."))
    password = new_password()
    set_password(db, clinician, password)
    audit_account(db, admin, "password-reset", f"clinician:{clinician.id}")
    db.commit()
    return ClinicianPassword(clinician=_clinician_out(clinician), password=password)


def _clinician(db: Session, clinician_id: int) -> Clinician:
    clinician = db.get(Clinician, clinician_id)
    if clinician is None:
        raise NotFoundError(f"There is no clinician {clinician_id}.")
    return clinician


def _clinician_out(clinician: Clinician, last_sign_in_at: datetime | None = None) -> ClinicianOut:
    return ClinicianOut(
        id=clinician.id,
        email=clinician.email,
        display_name=clinician.display_name,
        is_admin=clinician.is_admin,
        disabled_at=clinician.disabled_at,
        locked_until=clinician.locked_until,
        last_sign_in_at=last_sign_in_at,
    )


# The admin's page of clinicians.


@router.get("/admin/clinicians")
def clinicians_page(request: Request, admin: CurrentAdmin, db: DbDep) -> HTMLResponse:
    return _clinicians_page(request, db)


@router.post("/admin/clinicians")
def add_clinician_form(
    request: Request, admin: CurrentAdmin, db: DbDep, form: Annotated[NewClinician, Form()]
) -> HTMLResponse:
    """Add the account and show the page with its password (if generated), this once; no redirect keeps it."""
    try:
        added = add_clinician(db, admin, form, request)
    except FormError as error:
        return _clinicians_page(request, db, form=form, add_error=str(error), status_code=UNPROCESSABLE)
    return _clinicians_page(request, db, shown=added, shown_why="added")


@router.post("/admin/clinicians/{clinician_id}/disable")
def disable_form(request: Request, clinician_id: RowId, admin: CurrentAdmin, db: DbDep) -> Response:
    return _clinician_action(request, db, lambda: set_disabled(db, admin, clinician_id, disabled=True, request=request))


@router.post("/admin/clinicians/{clinician_id}/enable")
def enable_form(request: Request, clinician_id: RowId, admin: CurrentAdmin, db: DbDep) -> Response:
    return _clinician_action(
        request, db, lambda: set_disabled(db, admin, clinician_id, disabled=False, request=request)
    )


@router.post("/admin/clinicians/{clinician_id}/password")
def reset_password_form(request: Request, clinician_id: RowId, admin: CurrentAdmin, db: DbDep) -> HTMLResponse:
    try:
        reset = reset_password(db, admin, clinician_id, request)
    except FormError as error:
        return _clinicians_page(request, db, action_error=str(error), status_code=UNPROCESSABLE)
    return _clinicians_page(request, db, shown=reset, shown_why="reset")


def _clinician_action(request: Request, db: Session, change: Callable[[], ClinicianOut]) -> Response:
    try:
        changed = change()
    except FormError as error:
        return _clinicians_page(request, db, action_error=str(error), status_code=UNPROCESSABLE)
    return RedirectResponse(f"/admin/clinicians#clinician-{changed.id}", status.HTTP_303_SEE_OTHER)


def _clinicians_page(
    request: Request,
    db: Session,
    *,
    form: NewClinician | None = None,
    add_error: str | None = None,
    action_error: str | None = None,
    shown: ClinicianPassword | None = None,
    shown_why: Literal["added", "reset"] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "admin_clinicians.html",
        {
            "clinicians": clinicians(db),
            "form": form or NewClinician(),
            "add_error": add_error,
            "action_error": action_error,
            "shown": shown,
            "shown_why": shown_why,
            "min_password_length": MIN_PASSWORD_LENGTH,
            "now": datetime.now(UTC),
        },
        status_code=status_code,
    )


# The JSON API.


@api.get("/api/clinicians")
def list_clinicians(admin: CurrentAdmin, db: DbDep) -> list[ClinicianOut]:
    """Every clinician's account, by name."""
    return clinicians(db)


@api.post("/api/clinicians", status_code=status.HTTP_201_CREATED, responses=REFUSED)
def add_clinician_account(body: NewClinician, request: Request, admin: CurrentAdmin, db: DbDep) -> ClinicianPassword:
    """Add a clinician's account; without a password, one is generated and returned this once."""
    with refused_as_http():
        return add_clinician(db, admin, body, request)


@api.post("/api/clinicians/{clinician_id}/disable", responses=REFUSED)
def disable_clinician_account(clinician_id: RowId, request: Request, admin: CurrentAdmin, db: DbDep) -> ClinicianOut:
    """The clinician can no longer sign in, and their sessions end now. Not one's own account."""
    with refused_as_http():
        return set_disabled(db, admin, clinician_id, disabled=True, request=request)


@api.post("/api/clinicians/{clinician_id}/enable", responses=REFUSED)
def enable_clinician_account(clinician_id: RowId, request: Request, admin: CurrentAdmin, db: DbDep) -> ClinicianOut:
    """The clinician may sign in again, with their password as it was."""
    with refused_as_http():
        return set_disabled(db, admin, clinician_id, disabled=False, request=request)


@api.post("/api/clinicians/{clinician_id}/password", responses=REFUSED)
def reset_clinician_password(
    clinician_id: RowId, request: Request, admin: CurrentAdmin, db: DbDep
) -> ClinicianPassword:
    """A new generated password, returned this once; the clinician's sessions end. Not one's own."""
    with refused_as_http():
        return reset_password(db, admin, clinician_id, request)
