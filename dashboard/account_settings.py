"""One's own account: the language of one's pages, and a clinician's password.

Clinicians' settings are at ``/account``; a patient's at ``/me/account``, beside their other pages:
each address is for one kind of user. Also what the other account pages share: the password
rules' message, the audit of account changes, and a form's error as the API's 422.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.auth import (
    CurrentClinician,
    CurrentPatientUser,
    SettingsDep,
    session_limits,
    set_session_cookie,
)
from dashboard.deps import DbDep
from dashboard.i18n import LANGUAGE_COOKIE, LANGUAGES, gettext_for
from dashboard.pages import FormError
from dashboard.schemas import Unprocessable
from dashboard.templating import render
from monitor.settings import Settings
from monitor.store import Clinician, Patient
from monitor.store.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    SignedIn,
    authenticate_clinician,
    open_session,
    set_password,
    sha256_hex,
)
from monitor.store.audit import record_audit
from monitor.store.models import WebSession

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(tags=["accounts"])

UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT
REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": Unprocessable, "description": "Not possible; the message says why."}
}


class PasswordChange(BaseModel):
    current_password: str = Field(default="", max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(default="", max_length=MAX_PASSWORD_LENGTH)
    repeat_password: str | None = Field(
        default=None, max_length=MAX_PASSWORD_LENGTH, description="The form's second entry, checked when given."
    )


class LanguageChoice(BaseModel):
    locale: str | None = Field(
        default=None, max_length=8, description="en, da or nb; null or empty: as the browser asks."
    )


class PasswordChanged(BaseModel):
    csrf_token: str = Field(description="The new session's token: every other session of the account has ended.")


# The changes, shared by the pages and the API.


def save_language(db: Session, user: SignedIn, choice: LanguageChoice, request: Request) -> LanguageChoice:
    """The user's language (None: as the browser asks); the next request is answered in it."""
    language = choice.locale or None
    if language is not None and language not in LANGUAGES:
        _ = gettext_for(request)
        raise FormError(_("Choose one of the languages offered."))
    if user.kind == "clinician":
        db.get_one(Clinician, user.user_id).locale = language
    else:
        db.get_one(Patient, user.user_id).locale = language
        # A change to the patient's record, by the patient.
        audit_account(db, user, "settings", f"language {language or 'browser'}", pseudonym=user.pseudonym)
    db.commit()
    return LanguageChoice(locale=language)


def change_password(
    db: Session, user: SignedIn, change: PasswordChange, request: Request, settings: Settings
) -> tuple[str, str]:
    """Check the current password and set the new one: every session ends, and this browser gets a new one.

    Returns the new session's cookie token and CSRF token. A wrong current password counts as a failed
    sign-in: a browser left signed in is no way round the lock.
    """
    _ = gettext_for(request)
    if change.repeat_password is not None and change.repeat_password != change.new_password:
        raise FormError(_("The new password and its repetition differ."))
    check_new_password(change.new_password, _)
    now = datetime.now(UTC)
    clinician = db.get_one(Clinician, user.user_id)
    outcome = authenticate_clinician(db, email=clinician.email, password=change.current_password, now=now)
    if outcome.clinician is None:
        db.commit()  # the failure count, and a lock after several
        raise FormError(_("The current password is not right."))
    set_password(db, clinician, change.new_password)
    token = open_session(db, now=now, limits=session_limits(settings, "clinician"), clinician=clinician)
    csrf_token = db.scalars(select(WebSession.csrf_token).where(WebSession.token_sha256 == sha256_hex(token))).one()
    audit_account(db, user, "password-change", f"clinician:{clinician.id}")
    db.commit()
    return token, csrf_token


# What the other account pages share.


def check_new_password(password: str, gettext: Callable[[str], str]) -> None:
    """The password rules of monitor.store.accounts, with the message in the reader's language."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise FormError(
            gettext("A password needs at least %(min)d characters; a few words make a good one.")
            % {"min": MIN_PASSWORD_LENGTH}
        )


def audit_account(db: Session, user: SignedIn, action: str, detail: str, *, pseudonym: str | None = None) -> None:
    record_audit(db, actor=user.actor, action=action, patient_pseudonym=pseudonym, detail=detail)


@contextlib.contextmanager
def refused_as_http() -> Iterator[None]:
    """For the API: what a form would show on the page, as a 422 with the message."""
    try:
        yield
    except FormError as error:
        raise HTTPException(UNPROCESSABLE, str(error)) from None


# One's own account: a clinician's at /account, a patient's at /me/account.


@router.get("/account")
def account_page(request: Request, user: CurrentClinician, db: DbDep, saved: str = "") -> HTMLResponse:
    return _account_page(request, user, db, saved=saved)


@router.post("/account/language")
def account_language_form(
    request: Request, user: CurrentClinician, db: DbDep, form: Annotated[LanguageChoice, Form()]
) -> Response:
    return _language_form(request, user, db, form)


@router.post("/account/password")
def account_password_form(
    request: Request, user: CurrentClinician, db: DbDep, settings: SettingsDep, form: Annotated[PasswordChange, Form()]
) -> Response:
    """Passwords are never put back into the form: a mistake means typing them again."""
    try:
        token, _ = change_password(db, user, form, request, settings)
    except FormError as error:
        return _account_page(request, user, db, password_error=str(error), status_code=UNPROCESSABLE)
    response = RedirectResponse("/account?saved=password", status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, token, settings=settings, kind="clinician")
    return response


@router.get("/me/account")
def patient_account_page(request: Request, user: CurrentPatientUser, db: DbDep, saved: str = "") -> HTMLResponse:
    return _account_page(request, user, db, saved=saved)


@router.post("/me/account/language")
def patient_language_form(
    request: Request, user: CurrentPatientUser, db: DbDep, form: Annotated[LanguageChoice, Form()]
) -> Response:
    return _language_form(request, user, db, form)


def _account_path(user: SignedIn) -> str:
    return "/account" if user.kind == "clinician" else "/me/account"


def _language_form(request: Request, user: SignedIn, db: Session, form: LanguageChoice) -> Response:
    try:
        save_language(db, user, form, request)
    except FormError as error:
        return _account_page(request, user, db, language_error=str(error), status_code=UNPROCESSABLE)
    response = RedirectResponse(f"{_account_path(user)}?saved=language", status.HTTP_303_SEE_OTHER)
    # The picker's cookie would outrank the setting just saved (i18n.negotiate): this browser follows the setting again.
    response.delete_cookie(LANGUAGE_COOKIE, path="/")
    return response


def _account_page(
    request: Request,
    user: SignedIn,
    db: Session,
    *,
    saved: str = "",
    language_error: str | None = None,
    password_error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "account.html",
        {
            "account_path": _account_path(user),
            "email": db.get_one(Clinician, user.user_id).email if user.kind == "clinician" else None,
            "chosen_language": user.locale or "",
            "saved": saved if saved in ("language", "password") else None,
            "language_error": language_error,
            "password_error": password_error,
            "min_password_length": MIN_PASSWORD_LENGTH,
        },
        status_code=status_code,
    )


# The JSON API.


@api.put("/api/account/language", responses=REFUSED)
def set_own_language(body: LanguageChoice, request: Request, user: CurrentClinician, db: DbDep) -> LanguageChoice:
    """The language of one's pages and messages; null: as the browser asks."""
    with refused_as_http():
        return save_language(db, user, body, request)


@api.post("/api/account/password", responses=REFUSED)
def change_own_password(
    body: PasswordChange, request: Request, response: Response, user: CurrentClinician, db: DbDep, settings: SettingsDep
) -> PasswordChanged:
    """Change one's password: every session of the account ends; this client gets a new cookie and CSRF token."""
    with refused_as_http():
        token, csrf_token = change_password(db, user, body, request, settings)
    set_session_cookie(response, token, settings=settings, kind="clinician")
    return PasswordChanged(csrf_token=csrf_token)


@api.put("/api/me/account/language", responses=REFUSED)
def set_patient_language(body: LanguageChoice, request: Request, user: CurrentPatientUser, db: DbDep) -> LanguageChoice:
    """The language of the patient's pages; null: as the phone's browser asks."""
    with refused_as_http():
        return save_language(db, user, body, request)
