"""Clinicians' accounts from the command line: how the first administrator is made on a fresh install.

After that, administrators manage the accounts in the dashboard (``/admin/clinicians``); these
commands stay for a server without one, or an administrator locked out. Changes are audited as
``cli:<OS user>``; passwords never are.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.cli.common import app, cli_actor, console, fail
from monitor.settings import Settings
from monitor.store import Clinician, Store
from monitor.store.accounts import AccountError, create_clinician, disable_clinician, new_password, set_password
from monitor.store.audit import record_audit

user_app = typer.Typer(
    help="Clinicians' accounts. On a fresh install, `dosis user add EMAIL --name NAME --admin` makes the first "
    "administrator, who then manages the others in the dashboard.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

EmailArgument = Annotated[str, typer.Argument(help="the clinician's email address, with which they sign in")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="read the password from the first line of standard input, not a prompt"),
]


@user_app.command("add")
def add(
    email: EmailArgument,
    name: Annotated[str, typer.Option("--name", help="the clinician's name, as the dashboard shows it")],
    admin: Annotated[bool, typer.Option("--admin", help="an administrator, who manages the accounts")] = False,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Add a clinician's account and print a generated password once (or take one with --password-stdin).

    This is how the first administrator is made on a fresh install:
    dosis user add you@clinic.example --name "Your Name" --admin
    """
    password = _password_from_stdin() if password_stdin else None
    generated = None if password is not None else new_password()
    with _accounts() as db:
        try:
            clinician = create_clinician(
                db, email=email, display_name=name, password=password or generated, is_admin=admin
            )
        except AccountError as error:
            raise fail(str(error)) from error
        _audit(db, "clinician-add", f"clinician:{clinician.id} as {'admin' if admin else 'clinician'}")
        db.commit()
    role = "administrator" if admin else "clinician"
    console.print(f"Account added for {clinician.display_name} <{clinician.email}>, {role}.", highlight=False)
    if generated is not None:
        console.print("Their password, shown this once (they can change it on their account page):")
        console.print(generated, soft_wrap=True, highlight=False, markup=False)


@user_app.command("list")
def list_command() -> None:
    """Every clinician's account: email, name, role and whether it may sign in."""
    now = datetime.now(UTC)
    with _accounts() as db:
        clinicians = db.scalars(select(Clinician).order_by(Clinician.email)).all()
    table = Table(title=f"Clinicians ({len(clinicians)})")
    for column in ("email", "name", "role", "state"):
        table.add_column(column)
    for clinician in clinicians:
        if clinician.disabled_at is not None:
            state = f"disabled since {clinician.disabled_at:%Y-%m-%d %H:%M} UTC"
        elif clinician.locked_until is not None and clinician.locked_until > now:
            state = f"locked until {clinician.locked_until:%H:%M} UTC"
        else:
            state = "active" if clinician.password_hash is not None else "no password yet"
        role = "administrator" if clinician.is_admin else "clinician"
        table.add_row(clinician.email, clinician.display_name, role, state)
    console.print(table)


@user_app.command("password")
def password_command(email: EmailArgument, password_stdin: PasswordStdinOption = False) -> None:
    """Set a clinician's password (asked twice, or read with --password-stdin); their sessions end."""
    password = _password_from_stdin() if password_stdin else _password_from_prompt()
    with _accounts() as db:
        clinician = _clinician(db, email)
        try:
            set_password(db, clinician, password)
        except AccountError as error:
            raise fail(str(error)) from error
        _audit(db, "password-reset", f"clinician:{clinician.id}")
        db.commit()
    console.print(f"New password set for {clinician.email}; their sessions have ended.", highlight=False)


@user_app.command("disable")
def disable(email: EmailArgument) -> None:
    """Stop a clinician signing in; their sessions end at once. `dosis user enable` undoes it."""
    with _accounts() as db:
        clinician = _clinician(db, email)
        if clinician.disabled_at is not None:
            console.print(f"{clinician.email} is already disabled.", highlight=False)
            return
        disable_clinician(db, clinician, now=datetime.now(UTC))
        _audit(db, "clinician-disable", f"clinician:{clinician.id}")
        db.commit()
    console.print(f"{clinician.email} is disabled and signed out everywhere.", highlight=False)


@user_app.command("enable")
def enable(email: EmailArgument) -> None:
    """Let a disabled clinician sign in again, with their password as it was."""
    with _accounts() as db:
        clinician = _clinician(db, email)
        if clinician.disabled_at is not None:
            clinician.disabled_at = None
            _audit(db, "clinician-enable", f"clinician:{clinician.id}")
            db.commit()
    console.print(f"{clinician.email} may sign in.", highlight=False)


@contextlib.contextmanager
def _accounts() -> Iterator[Session]:
    store = Store.from_settings(Settings())
    try:
        with store.session() as db:
            yield db
    finally:
        store.close()


def _clinician(db: Session, email: str) -> Clinician:
    clinician = db.scalar(select(Clinician).where(Clinician.email == email.strip().lower()))
    if clinician is None:
        raise fail(f"there is no account for {email}; `dosis user list` shows them")
    return clinician


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise fail("--password-stdin: standard input has no password on its first line")
    return password


def _password_from_prompt() -> str:
    password: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    return password


def _audit(db: Session, action: str, detail: str) -> None:
    record_audit(db, actor=cli_actor(), action=action, patient_pseudonym=None, detail=detail)
