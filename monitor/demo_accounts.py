"""Sign-ins for the demo clinic: its clinician, an administrator, and a code for each patient.

Passwords are new random ones on every run (the demo may be reachable from a network), printed
once by ``dosis demo`` beside the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from monitor.demo import DEMO_CLINICIAN
from monitor.store import Clinician, Patient, Store
from monitor.store.accounts import create_clinician, hash_password, issue_sign_in_code, new_password

DEMO_ADMIN_EMAIL = "admin@demo.dosis.invalid"


@dataclass(frozen=True)
class DemoLogin:
    who: str
    email: str
    password: str


@dataclass(frozen=True)
class DemoPatientCode:
    display_name: str
    pseudonym: str
    code: str


@dataclass(frozen=True)
class DemoAccounts:
    logins: tuple[DemoLogin, ...]
    patient_codes: tuple[DemoPatientCode, ...]


def create_demo_accounts(store: Store) -> DemoAccounts:
    """Give the seeded demo clinician a password, add an administrator, and issue each patient a code."""
    clinician_password, admin_password = new_password(), new_password()
    now = datetime.now(UTC)
    with store.session() as db:
        clinician = db.scalars(select(Clinician).where(Clinician.email == DEMO_CLINICIAN.email)).one()
        clinician.password_hash = hash_password(clinician_password)
        create_clinician(
            db, email=DEMO_ADMIN_EMAIL, display_name="Demo Administrator", password=admin_password, is_admin=True
        )
        patients = db.scalars(select(Patient).where(Patient.clinician_id == clinician.id).order_by(Patient.id)).all()
        codes = tuple(
            DemoPatientCode(p.display_name, p.pseudonym, issue_sign_in_code(db, p, by=clinician, now=now))
            for p in patients
        )
        db.commit()
        return DemoAccounts(
            logins=(
                DemoLogin(clinician.display_name, clinician.email, clinician_password),
                DemoLogin("Demo Administrator", DEMO_ADMIN_EMAIL, admin_password),
            ),
            patient_codes=codes,
        )
