"""What the commands share: consoles, clear errors, patients."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from monitor.store import Patient, Store

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
