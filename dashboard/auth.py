"""Who may do what: the signed-in user, roles, the object check on every patient, CSRF, audit.

Route functions declare what they need and get it checked before they run:
``CurrentUser`` (anyone signed in), ``CurrentClinician``, ``CurrentAdmin``, ``CurrentPatientUser``,
and ``PatientAccess`` / ``SessionAccess``, which load the patient or session named in the path
only if this clinician may see it (404 otherwise, so ids of other clinics' patients reveal
nothing) and write who saw it to the audit log before anything is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from dashboard.deps import DbDep, RowId
from dashboard.queries import NotFoundError
from monitor.settings import Settings
from monitor.store import Patient, TrainingSession
from monitor.store.accounts import SessionLimits, SignedIn, resolve_session
from monitor.store.audit import record_audit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
TOKEN_AUTHENTICATED_PREFIXES = ("/api/ingest",)
"""Hubs authenticate with a bearer token, which a browser never sends by itself: no CSRF there."""


class NotSignedIn(Exception):
    """The request needs a signed-in user; pages answer with the sign-in page, the API with 401."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def session_cookie_name(settings: Settings) -> str:
    # __Host-: only over HTTPS, for this host alone and the whole path; a subdomain cannot plant one.
    return "__Host-dosis_session" if settings.cookie_secure else "dosis_session"


def session_limits(settings: Settings, kind: str) -> SessionLimits:
    if kind == "clinician":
        return SessionLimits(
            idle=timedelta(minutes=settings.clinician_idle_minutes),
            absolute=timedelta(hours=settings.clinician_session_hours),
        )
    return SessionLimits(
        idle=timedelta(days=settings.patient_idle_days), absolute=timedelta(days=settings.patient_session_days)
    )


def set_session_cookie(response: Response, token: str, *, settings: Settings, kind: str) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=int(session_limits(settings, kind).absolute.total_seconds()),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings), path="/", secure=settings.cookie_secure, httponly=True, samesite="lax"
    )


def optional_user(request: Request, db: DbDep, settings: SettingsDep) -> SignedIn | None:
    """The signed-in user, or None; also kept at ``request.state.user`` for templates and the language."""
    if hasattr(request.state, "user"):
        cached: SignedIn | None = request.state.user
        return cached
    token = request.cookies.get(session_cookie_name(settings))
    user = user_for_token(db, settings, token) if token else None
    request.state.user = user
    return user


def user_for_token(db: Session, settings: Settings, token: str) -> SignedIn | None:
    idle_by_kind = {kind: session_limits(settings, kind).idle for kind in ("clinician", "patient")}
    return resolve_session(db, token, now=datetime.now(UTC), idle_by_kind=idle_by_kind)


OptionalUser = Annotated[SignedIn | None, Depends(optional_user)]


def require_user(user: OptionalUser) -> SignedIn:
    if user is None:
        raise NotSignedIn
    return user


CurrentUser = Annotated[SignedIn, Depends(require_user)]


def require_clinician(user: CurrentUser) -> SignedIn:
    if user.kind != "clinician":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for clinicians")
    return user


CurrentClinician = Annotated[SignedIn, Depends(require_clinician)]


def require_admin(user: CurrentClinician) -> SignedIn:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for administrators")
    return user


CurrentAdmin = Annotated[SignedIn, Depends(require_admin)]


def require_patient_user(user: CurrentUser) -> SignedIn:
    if user.kind != "patient":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for patients")
    return user


CurrentPatientUser = Annotated[SignedIn, Depends(require_patient_user)]


def visible_to(clinician: SignedIn) -> ColumnElement[bool]:
    """The condition on ``Patient`` rows this clinician may see: their own patients."""
    return Patient.clinician_id == clinician.user_id


def audit_view(db: Session, request: Request, user: SignedIn, pseudonym: str) -> None:
    """Write that ``user`` saw (or, with a POST or PUT, changed) this patient's data; committed before anything else."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    action = "view" if request.method in SAFE_METHODS else "change"
    record_audit(db, actor=user.actor, action=action, patient_pseudonym=pseudonym, detail=f"{request.method} {path}")
    db.commit()


def patient_access(pseudonym: str, request: Request, user: CurrentClinician, db: DbDep) -> Patient:
    patient: Patient | None = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym, visible_to(user)))
    if patient is None:
        raise NotFoundError(f"no patient {pseudonym!r} among yours")
    audit_view(db, request, user, patient.pseudonym)
    return patient


PatientAccess = Annotated[Patient, Depends(patient_access)]


def session_access(session_id: RowId, request: Request, user: CurrentClinician, db: DbDep) -> TrainingSession:
    row = db.execute(
        select(TrainingSession, Patient.pseudonym)
        .join(Patient, TrainingSession.patient_id == Patient.id)
        .where(TrainingSession.id == session_id, visible_to(user))
    ).first()
    if row is None:
        raise NotFoundError(f"no session {session_id} among your patients'")
    training_session, pseudonym = row
    audit_view(db, request, user, pseudonym)
    return training_session


SessionAccess = Annotated[TrainingSession, Depends(session_access)]


def own_patient(request: Request, user: CurrentPatientUser, db: DbDep) -> Patient:
    """A signed-in patient's own record (no id in the path, so none to guess); the view is audited too."""
    patient = db.get(Patient, user.user_id)
    if patient is None:
        raise NotSignedIn
    audit_view(db, request, user, patient.pseudonym)
    return patient


OwnPatient = Annotated[Patient, Depends(own_patient)]


async def csrf_protect(request: Request, user: OptionalUser) -> None:
    """Refuse a state-changing request another site made the browser send.

    Two checks: the browser's own word on where the request came from (``Sec-Fetch-Site`` or
    ``Origin``), and, for a signed-in user, the session's CSRF token from the form or header.
    """
    if request.method in SAFE_METHODS or request.url.path.startswith(TOKEN_AUTHENTICATED_PREFIXES):
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site requests are refused")
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"requests from {origin} are refused")
    if user is None:
        return  # nothing to act on behalf of: the route's own sign-in check answers
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if sent != user.csrf_token:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is out of date or not from this site; reload the page")


class FailedAttempts:
    """Wrong passwords and sign-in codes per client address, in memory (one server process)."""

    def __init__(self, per_minute: int) -> None:
        self._limit = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allowed(self, address: str) -> bool:
        return self._limiter.test(self._limit, address)

    def record(self, address: str) -> None:
        self._limiter.hit(self._limit, address)

    def retry_after_s(self, address: str) -> int:
        reset_at, _ = self._limiter.get_window_stats(self._limit, address)
        return max(1, int(reset_at - datetime.now(UTC).timestamp()) + 1)


def failed_attempts(request: Request) -> FailedAttempts:
    attempts: FailedAttempts = request.app.state.failed_attempts
    return attempts


FailedAttemptsDep = Annotated[FailedAttempts, Depends(failed_attempts)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def local_path(next_path: str | None, default: str = "/") -> str:
    """Where to go after signing in: only a path on this site, never another site (an open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return default
    parts = urlsplit(next_path)
    return default if parts.scheme or parts.netloc else next_path
