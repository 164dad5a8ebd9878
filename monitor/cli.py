"""The ``dosis`` command line."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from monitor.capture import CaptureFormatError
from monitor.composites import build_bundled_captures
from monitor.demo import DEMO_CLINICIAN, fresh_demo_database, run_live_sessions, seed_demo_clinic
from monitor.recordings import default_recordings_dir
from monitor.replay import replay_capture
from monitor.settings import Settings
from monitor.store import Patient, Store

app = typer.Typer(help="Dosis: a training monitor for exercise therapy.", no_args_is_help=True, add_completion=False)
console = Console()
errors = Console(stderr=True)

SessionKind = Annotated[
    str | None,
    typer.Option("--kind", help="walking or strength; default: what the capture says"),
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _patient_id(store: Store, pseudonym: str) -> int:
    with store.session() as db:
        patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
        if patient is None:
            patient = Patient(pseudonym=pseudonym, display_name=pseudonym)
            db.add(patient)
            db.commit()
            console.print(f"New patient [bold]{pseudonym}[/] created.")
        return patient.id


@app.command()
def replay(
    capture: Annotated[Path, typer.Argument(help="capture file (.jsonl or .jsonl.gz)")],
    patient: Annotated[str, typer.Option("--patient", help="patient pseudonym; created if new")],
    kind: SessionKind = None,
    start: Annotated[
        datetime | None,
        typer.Option(help="move the session to start at this UTC time; default: the capture's own time"),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="pace notifications (1 = real time); default: as fast as possible"),
    ] = None,
) -> None:
    """Record a session from a capture file, through the same code a live device feeds."""
    if kind not in (None, "walking", "strength"):
        raise _fail(f"--kind must be walking or strength, not {kind!r}")
    if not capture.is_file():
        raise _fail(f"no capture file at {capture}")
    if speed is not None and speed <= 0:
        raise _fail("--speed must be positive")
    store = Store(Settings().resolved_database_url())
    start_ns = None if start is None else int(start.replace(tzinfo=start.tzinfo or UTC).timestamp() * 1e9)
    try:
        result = asyncio.run(
            replay_capture(
                capture, store, patient_id=_patient_id(store, patient), kind=kind, start_at_ns=start_ns, speed=speed
            )
        )
    except CaptureFormatError as error:
        raise _fail(str(error)) from error
    for problem in result.problems:
        errors.print(f"[yellow]skipped[/] {capture.name} {problem}")
    session = result.session
    table = Table(title=f"Session {session.id} ({session.kind}, {session.status})", show_header=False)
    table.add_row("patient", patient)
    table.add_row("started", f"{session.started_at:%Y-%m-%d %H:%M:%S} UTC")
    table.add_row("duration", f"{session.duration_s or 0:.1f} s")
    table.add_row("heart rate", _hr_text(session.hr_mean_bpm, session.hr_max_bpm))
    table.add_row("beats", str(session.beat_count))
    table.add_row("acceleration samples", str(session.acc_sample_count))
    table.add_row("notifications", f"{result.notifications} ({len(result.problems)} skipped)")
    console.print(table)


def _hr_text(mean_bpm: float | None, max_bpm: float | None) -> str:
    if mean_bpm is None or max_bpm is None:
        return "no valid heart rate"
    return f"mean {mean_bpm:.0f} bpm, max {max_bpm:.0f} bpm"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the dashboard on the configured database."""
    from dashboard.app import create_app

    settings = Settings()
    store = Store(settings.resolved_database_url())
    uvicorn.run(create_app(store), host=host or settings.host, port=port or settings.port, log_level="info")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port for the dashboard")] = 8000,
    duration: Annotated[
        float | None,
        typer.Option(help="stop by itself after this many seconds; default: run until Ctrl-C"),
    ] = None,
    weeks: Annotated[int, typer.Option(min=1, max=26, help="weeks of history per patient")] = 6,
) -> None:
    """Seed a demo clinic, replay a session as if live, and serve the dashboard."""
    from dashboard.app import create_app

    settings = Settings()
    store = Store(fresh_demo_database(settings.data_dir))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Recording the demo clinic's history", total=None)
        patients = asyncio.run(
            seed_demo_clinic(
                store,
                today=date.today(),
                weeks=weeks,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        )
    url = f"http://{settings.host}:{port}"
    console.print(f"\n[bold green]Dosis demo[/] at [link={url}]{url}[/link]  ({store.url})")
    console.print(
        "Login: sign-in is not enforced yet in this build (a placeholder until real accounts arrive); "
        f"the demo clinician is {DEMO_CLINICIAN.display_name}, {DEMO_CLINICIAN.email}."
    )
    console.print("Patients: " + ", ".join(f"{p.display_name} ({p.pseudonym})" for p in patients))
    console.print("A live session is being replayed now." + ("" if duration else " Stop with Ctrl-C."))
    server = uvicorn.Server(uvicorn.Config(create_app(store), host=settings.host, port=port, log_level="warning"))

    async def run() -> None:
        live = asyncio.create_task(run_live_sessions(store, patients, now_ns=time.time_ns))
        stopper = (
            asyncio.get_running_loop().call_later(duration, setattr, server, "should_exit", True) if duration else None
        )
        try:
            await server.serve()
        finally:
            if stopper:
                stopper.cancel()
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)

    asyncio.run(run())
    store.close()


@app.command("build-captures")
def build_captures(
    recordings: Annotated[
        Path | None, typer.Option(help="the shared recordings folder; default: ../shared/recordings")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="output folder; default: the bundled captures")] = None,
) -> None:
    """Rebuild the bundled captures from the open recordings."""
    recordings = recordings or default_recordings_dir()
    if not recordings.is_dir():
        raise _fail(f"no recordings folder at {recordings}")
    written = build_bundled_captures(recordings) if out is None else build_bundled_captures(recordings, out)
    for path, count in written.items():
        console.print(f"{path}: {count} notifications")


def main() -> None:
    app()
