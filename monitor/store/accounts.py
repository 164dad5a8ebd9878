"""Accounts: clinicians' passwords, patients' sign-in codes, and signed-in browser sessions.

Kept apart from the web layer so the command line (``dosis user``) and the dashboard share it.
Secrets are stored only as hashes: passwords with argon2id (slow, since people choose them),
sign-in codes and session tokens with SHA-256 (random and long enough that a slow hash buys
nothing, and a lookup by hash stays one indexed query).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pwdlib import PasswordHash
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from monitor.store.models import Clinician, Patient, PatientSignIn, WebSession

MIN_PASSWORD_LENGTH = 12
"""NIST SP 800-63B asks for at least 8; a clinic's accounts guard many patients' health data."""
MAX_PASSWORD_LENGTH = 256
LOCK_AFTER_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
TOUCH_INTERVAL = timedelta(minutes=1)
"""A session's last-seen time is written at most this often, not on every request."""

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
"""60 random bits, written as three groups of four: ``7KQ2-M9XD-4PHT``."""

_password_hash = PasswordHash.recommended()
# Each argon2id hash takes 64 MiB and a core for about 0.4 s: a burst of logins must not exhaust the server.
_hashing_slots = threading.BoundedSemaphore(2)
_dummy_hash = _password_hash.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why, for the user."""


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters (a few words make a good one)"
        )


def new_password() -> str:
    """A generated password, shown once: 16 characters of base64, 96 random bits, still short enough to type."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    check_password_rules(password)
    with _hashing_slots:
        return _password_hash.hash(password)


def create_clinician(
    db: Session, *, email: str, display_name: str, password: str | None, is_admin: bool = False
) -> Clinician:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address")
    if not display_name.strip():
        raise AccountError("a clinician needs a name")
    if db.scalar(select(Clinician.id).where(Clinician.email == email)) is not None:
        raise AccountError(f"there is already an account for {email}")
    clinician = Clinician(
        email=email,
        display_name=display_name.strip(),
        password_hash=None if password is None else hash_password(password),
        is_admin=is_admin,
    )
    db.add(clinician)
    db.flush()
    return clinician


@dataclass(frozen=True)
class LoginOutcome:
    clinician: Clinician | None
    """The clinician, when the password was right and the account may sign in."""
    locked_until: datetime | None = None


def authenticate_clinician(db: Session, *, email: str, password: str, now: datetime) -> LoginOutcome:
    """Check a clinician's password; count failures and lock the account after several in a row.

    Unknown addresses cost the same hash as known ones, so timing does not tell which exist.
    A locked account is not checked at all until the lock ends.
    """
    clinician = db.scalar(select(Clinician).where(Clinician.email == email.strip().lower()))
    if clinician is not None and clinician.locked_until is not None and clinician.locked_until > now:
        return LoginOutcome(None, locked_until=clinician.locked_until)
    stored = clinician.password_hash if clinician is not None else None
    with _hashing_slots:
        valid, new_hash = _password_hash.verify_and_update(password[:MAX_PASSWORD_LENGTH], stored or _dummy_hash)
    if clinician is None or stored is None or clinician.disabled_at is not None:
        return LoginOutcome(None)
    if not valid:
        clinician.failed_logins += 1
        if clinician.failed_logins >= LOCK_AFTER_FAILED_LOGINS:
            clinician.failed_logins = 0
            clinician.locked_until = now + LOCK_DURATION
        return LoginOutcome(None, locked_until=clinician.locked_until)
    clinician.failed_logins = 0
    clinician.locked_until = None
    if new_hash is not None:  # the recommended parameters have moved on since this hash was made
        clinician.password_hash = new_hash
    return LoginOutcome(clinician)


def set_password(db: Session, clinician: Clinician, password: str) -> None:
    """A new password ends every session of the account (a password is changed after a leak)."""
    clinician.password_hash = hash_password(password)
    clinician.failed_logins = 0
    clinician.locked_until = None
    db.execute(delete(WebSession).where(WebSession.clinician_id == clinician.id))


def disable_clinician(db: Session, clinician: Clinician, *, now: datetime) -> None:
    clinician.disabled_at = now
    db.execute(delete(WebSession).where(WebSession.clinician_id == clinician.id))


def new_sign_in_code() -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_sign_in_code(typed: str) -> str:
    """What a patient typed, as issued: case, spaces and dashes ignored, look-alike letters read as digits."""
    code = typed.upper().translate(str.maketrans("OIL", "011", " -\t"))
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def issue_sign_in_code(db: Session, patient: Patient, *, by: Clinician | None, now: datetime) -> str:
    """A new personal code for the patient; earlier codes stay valid until revoked. Shown once, stored hashed."""
    code = new_sign_in_code()
    db.add(
        PatientSignIn(
            patient_id=patient.id,
            code_sha256=sha256_hex(code),
            created_at=now,
            created_by=None if by is None else by.id,
        )
    )
    db.flush()
    return code


def revoke_sign_in(db: Session, sign_in: PatientSignIn, *, now: datetime) -> None:
    """The code stops working and every session opened with it ends."""
    sign_in.revoked_at = now
    db.execute(delete(WebSession).where(WebSession.sign_in_id == sign_in.id))


def find_sign_in(db: Session, typed_code: str) -> PatientSignIn | None:
    """The live sign-in for a code as typed, or None."""
    code = normalise_sign_in_code(typed_code)
    if len(code) != CODE_LENGTH + 2 or any(c not in CODE_ALPHABET for c in code.replace("-", "")):
        return None
    return db.scalar(
        select(PatientSignIn).where(PatientSignIn.code_sha256 == sha256_hex(code), PatientSignIn.revoked_at.is_(None))
    )


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    """Who a request is from: a clinician or a patient, through one browser session."""

    kind: Literal["clinician", "patient"]
    user_id: int
    """The clinician's or the patient's id."""
    display_name: str
    locale: str | None
    is_admin: bool
    session_id: int
    csrf_token: str
    pseudonym: str | None = None
    """A patient's pseudonym."""

    @property
    def actor(self) -> str:
        """How the audit log names this user: an id or pseudonym, never a name."""
        return f"clinician:{self.user_id}" if self.kind == "clinician" else f"patient:{self.pseudonym}"


def open_session(
    db: Session,
    *,
    now: datetime,
    limits: SessionLimits,
    clinician: Clinician | None = None,
    sign_in: PatientSignIn | None = None,
) -> str:
    """A new browser session for a clinician or for a patient's sign-in; returns the cookie's token."""
    if (clinician is None) == (sign_in is None):
        raise ValueError("a session belongs to a clinician or to a patient's sign-in, not both")
    token = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            token_sha256=sha256_hex(token),
            clinician_id=None if clinician is None else clinician.id,
            patient_id=None if sign_in is None else sign_in.patient_id,
            sign_in_id=None if sign_in is None else sign_in.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + limits.absolute,
        )
    )
    if sign_in is not None:
        sign_in.last_used_at = now
    db.flush()
    return token


def resolve_session(
    db: Session, token: str, *, now: datetime, idle_by_kind: Mapping[str, timedelta]
) -> SignedIn | None:
    """The user behind a cookie's token, or None when it is unknown, expired, idle too long or disabled.

    ``idle_by_kind``: how long a ``clinician``'s or a ``patient``'s session may go without a request.
    """
    web_session = db.scalar(select(WebSession).where(WebSession.token_sha256 == sha256_hex(token)))
    if web_session is None:
        return None
    idle = idle_by_kind["clinician" if web_session.clinician_id is not None else "patient"]
    if web_session.expires_at <= now or web_session.last_seen_at + idle <= now:
        db.delete(web_session)
        db.commit()
        return None
    signed_in = _signed_in(db, web_session)
    if signed_in is None:
        return None
    if now - web_session.last_seen_at >= TOUCH_INTERVAL:
        db.execute(update(WebSession).where(WebSession.id == web_session.id).values(last_seen_at=now))
        db.commit()
    return signed_in


def _signed_in(db: Session, web_session: WebSession) -> SignedIn | None:
    if web_session.clinician_id is not None:
        clinician = db.get(Clinician, web_session.clinician_id)
        if clinician is None or clinician.disabled_at is not None:
            return None
        return SignedIn(
            kind="clinician",
            user_id=clinician.id,
            display_name=clinician.display_name,
            locale=clinician.locale,
            is_admin=clinician.is_admin,
            session_id=web_session.id,
            csrf_token=web_session.csrf_token,
        )
    patient = db.get(Patient, web_session.patient_id)
    if patient is None:
        return None
    return SignedIn(
        kind="patient",
        user_id=patient.id,
        display_name=patient.display_name,
        locale=patient.locale,
        is_admin=False,
        session_id=web_session.id,
        csrf_token=web_session.csrf_token,
        pseudonym=patient.pseudonym,
    )


def end_session(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_sha256 == sha256_hex(token)))
