"""What the commands share: consoles, clear errors, patients."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from monitor.settings import Settings
from monitor.sinks import close_abandoned_sessions
from monitor.store import Patient, SignalStoreUnavailable, Store

app = typer.Typer(help="Dosis: a training monitor for exercise therapy.", no_args_is_help=True, add_completion=False)
console = Console()
errors = Console(stderr=True)

SESSION_KINDS = ("walking", "strength")
SessionKind = Annotated[
    str | None,
    typer.Option("--kind", help="walking or strength; default: what the capture says"),
]


def fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def open_store(settings: Settings) -> Store:
    """The settings' store, once the sessions that killed recordings left live are ended as interrupted."""
    store = Store.from_settings(settings)
    try:
        closed = close_abandoned_sessions(store)
    except SignalStoreUnavailable as error:
        errors.print(f"[yellow]Sessions that killed recordings left live wait for the signal database: {error}[/]")
        return store
    for session_id in closed:
        errors.print(f"[yellow]Session {session_id} was left live by a recording that died; ended as interrupted.[/]")
    return store


def patient_id(store: Store, pseudonym: str) -> int:
    with store.session() as db:
        patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
        if patient is None:
            patient = Patient(pseudonym=pseudonym, display_name=pseudonym)
            db.add(patient)
            db.commit()
            console.print(f"New patient [bold]{pseudonym}[/] created.")
        return patient.id


def hr_text(mean_bpm: float | None, max_bpm: float | None) -> str:
    if mean_bpm is None or max_bpm is None:
        return "no valid heart rate"
    return f"mean {mean_bpm:.0f} bpm, max {max_bpm:.0f} bpm"


def cli_actor() -> str:
    """``cli:<OS user>`` for the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a container's arbitrary uid)
        user = f"uid {os.getuid()}"
    return f"cli:{user}"
