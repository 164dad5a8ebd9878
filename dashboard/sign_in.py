"""Signing in and out: clinicians with email and password, patients with their personal code.

The pages post plain forms (they work without JavaScript); the JSON API under ``/api/auth``
does the same for other clients. Both set the same HttpOnly session cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dashboard.auth import (
    CurrentUser,
    FailedAttemptsDep,
    OptionalUser,
    SettingsDep,
    clear_session_cookie,
    client_address,
    local_path,
    session_cookie_name,
    session_limits,
    set_session_cookie,
    user_for_token,
)
from dashboard.deps import DbDep
from dashboard.i18n import gettext_for, ngettext_for
from dashboard.templating import render
from monitor.settings import Settings
from monitor.store import Patient
from monitor.store.accounts import (
    MAX_PASSWORD_LENGTH,
    SignedIn,
    authenticate_clinician,
    end_session,
    find_sign_in,
    open_session,
)
from monitor.store.audit import record_audit

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(prefix="/api/auth", tags=["auth"])


class SignInRefused(Exception):
    def __init__(self, status_code: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.retry_after_s = retry_after_s


def _within_limit(attempts: FailedAttemptsDep, request: Request, refusal: str) -> str:
    """The client's address, if it has wrong guesses left this minute; else SignInRefused with ``refusal``."""
    address = client_address(request)
    if not attempts.allowed(address):
        raise SignInRefused(status.HTTP_429_TOO_MANY_REQUESTS, refusal, attempts.retry_after_s(address))
    return address


def _clinician_session(
    db: Session, request: Request, settings: Settings, attempts: FailedAttemptsDep, *, email: str, password: str
) -> str:
    """Check the password and open a session; the cookie's token, or SignInRefused with a message to show."""
    _ = gettext_for(request)
    address = _within_limit(attempts, request, _("Too many failed attempts from here. Wait a minute and try again."))
    now = datetime.now(UTC)
    outcome = authenticate_clinician(db, email=email, password=password, now=now)
    if outcome.clinician is None:
        attempts.record(address)
        db.commit()  # the failure count and any lock
        if outcome.locked_until is not None:
            minutes = max(1, round((outcome.locked_until - now).total_seconds() / 60))
            ngettext = ngettext_for(request)
            locked = ngettext(
                "This account is locked for %(minutes)d minute after several wrong passwords.",
                "This account is locked for %(minutes)d minutes after several wrong passwords.",
                minutes,
            )
            raise SignInRefused(status.HTTP_429_TOO_MANY_REQUESTS, locked % {"minutes": minutes}, minutes * 60)
        raise SignInRefused(status.HTTP_401_UNAUTHORIZED, _("Wrong email or password."))
    _end_previous_session(db, request, settings)
    token = open_session(db, now=now, limits=session_limits(settings, "clinician"), clinician=outcome.clinician)
    record_audit(db, actor=f"clinician:{outcome.clinician.id}", action="sign-in", patient_pseudonym=None, detail="")
    db.commit()
    return token


def _patient_session(
    db: Session, request: Request, settings: Settings, attempts: FailedAttemptsDep, *, code: str
) -> str:
    _ = gettext_for(request)
    address = _within_limit(attempts, request, _("Too many wrong codes from here. Wait a minute and try again."))
    sign_in = find_sign_in(db, code)
    if sign_in is None:
        attempts.record(address)
        raise SignInRefused(
            status.HTTP_401_UNAUTHORIZED,
            _("That code does not work. Check it, or ask your physiotherapist for a new one."),
        )
    _end_previous_session(db, request, settings)
    token = open_session(db, now=datetime.now(UTC), limits=session_limits(settings, "patient"), sign_in=sign_in)
    pseudonym = db.get_one(Patient, sign_in.patient_id).pseudonym
    record_audit(db, actor=f"patient:{pseudonym}", action="sign-in", patient_pseudonym=pseudonym, detail="")
    db.commit()
    return token


def _refused_headers(refused: SignInRefused) -> dict[str, str]:
    return {} if refused.retry_after_s is None else {"Retry-After": str(refused.retry_after_s)}


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_home(user), status.HTTP_303_SEE_OTHER)
    return render(request, "login.html", {"next": local_path(next), "email": ""})


@router.post("/login")
def login_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    attempts: FailedAttemptsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        token = _clinician_session(db, request, settings, attempts, email=email, password=password)
    except SignInRefused as refused:
        context = {"next": local_path(next), "email": email, "error": refused.message}
        return render(
            request, "login.html", context, status_code=refused.status_code, headers=_refused_headers(refused)
        )
    response = RedirectResponse(local_path(next), status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, token, settings=settings, kind="clinician")
    return response


@router.get("/signin")
def patient_sign_in_page(request: Request, user: OptionalUser, code: str = "") -> Response:
    """A patient's sign-in; the link a clinician gives carries the code, so it is one tap."""
    if user is not None and user.kind == "patient" and not code:
        return RedirectResponse("/me", status.HTTP_303_SEE_OTHER)
    return render(request, "signin.html", {"code": code[:40]})


@router.post("/signin")
def patient_sign_in_form(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    attempts: FailedAttemptsDep,
    code: Annotated[str, Form(max_length=40)],
) -> Response:
    try:
        token = _patient_session(db, request, settings, attempts, code=code)
    except SignInRefused as refused:
        return render(
            request,
            "signin.html",
            {"code": code, "error": refused.message},
            status_code=refused.status_code,
            headers=_refused_headers(refused),
        )
    response = RedirectResponse("/me", status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, token, settings=settings, kind="patient")
    return response


@router.post("/logout")
def logout_form(request: Request, db: DbDep, settings: SettingsDep, user: OptionalUser) -> Response:
    target = "/signin" if user is not None and user.kind == "patient" else "/login"
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    _end(request, db, settings, response)
    return response


def _end(request: Request, db: Session, settings: Settings, response: Response) -> None:
    _end_previous_session(db, request, settings)
    db.commit()
    clear_session_cookie(response, settings)


def _end_previous_session(db: Session, request: Request, settings: Settings) -> None:
    """End the session this browser's cookie names, if any: a sign-in always starts a new one.

    A new session token on every sign-in (never one the browser brought along) is what keeps a
    session fixed by someone else, or left by the previous user of a shared computer, from
    becoming the new user's.
    """
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        end_session(db, token)


def _home(user: SignedIn) -> str:
    return "/" if user.kind == "clinician" else "/me"


class ClinicianLogin(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class PatientCode(BaseModel):
    code: str = Field(max_length=40, description="The personal code, as printed: 7KQ2-M9XD-4PHT.")


class Me(BaseModel):
    kind: Literal["clinician", "patient"]
    display_name: str
    is_admin: bool
    locale: str | None
    csrf_token: str
    """Send it back as the ``X-CSRF-Token`` header with every request that changes something."""


def _me(user: SignedIn) -> Me:
    return Me(
        kind=user.kind,
        display_name=user.display_name,
        is_admin=user.is_admin,
        locale=user.locale,
        csrf_token=user.csrf_token,
    )


def _refused_http(refused: SignInRefused) -> HTTPException:
    return HTTPException(refused.status_code, refused.message, headers=_refused_headers(refused) or None)


@api.post("/login", responses={401: {"description": "Wrong email or password."}, 429: {"description": "Wait."}})
def api_login(
    body: ClinicianLogin,
    request: Request,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    attempts: FailedAttemptsDep,
) -> Me:
    """Sign a clinician in: sets the session cookie and returns the CSRF token to send with changes."""
    try:
        token = _clinician_session(db, request, settings, attempts, email=body.email, password=body.password)
    except SignInRefused as refused:
        raise _refused_http(refused) from None
    set_session_cookie(response, token, settings=settings, kind="clinician")
    return _signed_in_as(db, settings, token)


@api.post("/signin", responses={401: {"description": "Unknown or revoked code."}, 429: {"description": "Wait."}})
def api_patient_sign_in(
    body: PatientCode,
    request: Request,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    attempts: FailedAttemptsDep,
) -> Me:
    """Sign a patient in with their personal code."""
    try:
        token = _patient_session(db, request, settings, attempts, code=body.code)
    except SignInRefused as refused:
        raise _refused_http(refused) from None
    set_session_cookie(response, token, settings=settings, kind="patient")
    return _signed_in_as(db, settings, token)


def _signed_in_as(db: Session, settings: Settings, token: str) -> Me:
    user = user_for_token(db, settings, token)
    assert user is not None  # just opened
    return _me(user)


@api.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def api_logout(request: Request, response: Response, db: DbDep, settings: SettingsDep) -> None:
    _end(request, db, settings, response)


@api.get("/me")
def api_me(user: CurrentUser) -> Me:
    """Who is signed in."""
    return _me(user)
