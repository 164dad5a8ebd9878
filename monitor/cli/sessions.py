"""Recording sessions: from capture files, and (in devices.py) from live wearables."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from monitor.capture import CaptureFormatError
from monitor.cli.common import (
    SESSION_KINDS,
    SessionKind,
    app,
    console,
    errors,
    fail,
    hr_text,
    open_store,
    patient_id,
)
from monitor.cli.hubs import DrainOption, ServerOption, streaming
from monitor.ingest.spool import PatientOnServer
from monitor.replay import ReplayResult, replay_capture
from monitor.settings import Settings
from monitor.sinks import PatientInStore
from monitor.store import TrainingSession

T = TypeVar("T")


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
    server: ServerOption = None,
    drain_timeout: DrainOption = 60.0,
) -> None:
    """Record a session from a capture file, through the same code a live device feeds."""
    if kind is not None and kind not in SESSION_KINDS:
        raise fail(f"--kind must be walking or strength, not {kind!r}")
    if not capture.is_file():
        raise fail(f"no capture file at {capture}")
    if speed is not None and speed <= 0:
        raise fail("--speed must be positive")
    settings = Settings()
    start_ns = None if start is None else int(start.replace(tzinfo=start.tzinfo or UTC).timestamp() * 1e9)
    if server or settings.server_url:

        async def stream() -> ReplayResult[None]:
            async with streaming(settings, server, patient=patient, drain_timeout_s=drain_timeout) as spool:
                return await replay_capture(
                    capture, PatientOnServer(spool, patient), kind=kind, start_at_ns=start_ns, speed=speed
                )

        streamed = _replayed(capture, stream())
        console.print(f"Replayed {streamed.notifications} notifications ({len(streamed.problems)} skipped).")
        return
    store = open_store(settings)
    target = PatientInStore(store, patient_id(store, patient))
    result = _replayed(capture, replay_capture(capture, target, kind=kind, start_at_ns=start_ns, speed=speed))
    print_session(result.session, patient, notifications=f"{result.notifications} ({len(result.problems)} skipped)")


def _replayed(capture: Path, replay: Coroutine[Any, Any, ReplayResult[T]]) -> ReplayResult[T]:
    try:
        result = asyncio.run(replay)
    except CaptureFormatError as error:
        raise fail(str(error)) from error
    for problem in result.problems:
        errors.print(f"[yellow]skipped[/] {capture.name} {problem}")
    return result


def print_session(session: TrainingSession, patient: str, **extra_rows: str) -> None:
    table = Table(title=f"Session {session.id} ({session.kind}, {session.status})", show_header=False)
    table.add_row("patient", patient)
    table.add_row("started", f"{session.started_at:%Y-%m-%d %H:%M:%S} UTC")
    table.add_row("duration", f"{session.duration_s or 0:.1f} s")
    table.add_row("heart rate", hr_text(session.hr_mean_bpm, session.hr_max_bpm))
    table.add_row("beats", str(session.beat_count))
    table.add_row("acceleration samples", str(session.acc_sample_count))
    table.add_row("problems", str(session.malformed_count))
    for name, value in extra_rows.items():
        table.add_row(name, value)
    console.print(table)
