"""Serving the dashboard, the demo clinic, and the bundled captures."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import Progress

from monitor.cli.common import app, console, fail, open_store
from monitor.composites import build_bundled_captures
from monitor.demo import fresh_demo_database, run_live_sessions, seed_demo_clinic
from monitor.demo_accounts import create_demo_accounts
from monitor.livefeed import LiveFeed
from monitor.recordings import default_recordings_dir
from monitor.settings import Settings
from monitor.store import Store
from monitor.store.lifecycle import apply_retention

logger = logging.getLogger(__name__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the dashboard and the hubs' ingest on the configured databases; apply retention daily if set."""
    from dashboard.app import create_app

    # Dosis's own messages (retention runs, refused ingest) beside uvicorn's, in its format.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    settings = Settings()
    store = open_store(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(store, settings=settings),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
        )
    )

    async def run() -> None:
        tasks = [asyncio.create_task(server.serve())]
        if settings.retention_days is not None:
            tasks.append(asyncio.create_task(expire_daily(store, settings.retention_days)))
        try:
            await tasks[0]
        finally:
            for task in tasks[1:]:
                task.cancel()
            await asyncio.gather(*tasks[1:], return_exceptions=True)

    try:
        asyncio.run(run())
    finally:
        store.close()  # flushes a batching signal writer


async def expire_daily(store: Store, retention_days: int) -> None:
    """Retention at start and every day after; a failed run is logged and tried again the next day."""
    while True:
        try:
            report = await asyncio.to_thread(
                apply_retention, store, retention_days=retention_days, now=datetime.now(UTC)
            )
            logger.info(
                "retention: %d %s removed, %d sessions marked",
                report.removed,
                report.removed_unit,
                len(report.session_ids),
            )
        except Exception:  # the server keeps serving; tomorrow's run catches up
            logger.exception("retention failed")
        await asyncio.sleep(24 * 3600)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port for the dashboard")] = 8000,
    duration: Annotated[
        float | None,
        typer.Option(min=0.1, help="stop by itself after this many seconds; default: run until Ctrl-C"),
    ] = None,
    weeks: Annotated[int, typer.Option(min=1, max=26, help="weeks of history per patient")] = 6,
) -> None:
    """Seed a demo clinic, replay a session as if live, and serve the dashboard."""
    from dashboard.app import create_app

    settings = Settings()
    # Listen first: a port in use is said before the clinic is seeded, and a link followed as
    # soon as it is printed waits in the backlog until the server takes it, never refused.
    try:
        listening = socket.create_server((settings.host, port))
    except OSError as error:
        raise fail(f"cannot serve the demo on {settings.host}:{port}: {error.strerror}") from error
    store = Store(fresh_demo_database(settings.data_dir), tz=settings.tzinfo())
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
    accounts = create_demo_accounts(store)
    url = f"http://{settings.host}:{port}"
    feed = LiveFeed()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(store, settings=settings, live_feed=feed), host=settings.host, port=port, log_level="warning"
        )
    )

    async def run() -> None:
        started = asyncio.Event()
        live = asyncio.create_task(run_live_sessions(store, patients, live=feed, started=started))
        # Announce the clinic only once a patient is training, so the first page shown has them live.
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([live, waiting], return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            live.result()  # raises what stopped the live session from starting
        console.print(f"\n[bold green]Dosis demo[/] at [link={url}]{url}[/link]  ({store.url})")
        for login in accounts.logins:
            console.print(f"Sign in as {login.who}: [bold]{login.email}[/], password [bold]{login.password}[/]")
        for patient in accounts.patient_codes:
            console.print(
                f"Patient {patient.display_name} ({patient.pseudonym}) signs in with code [bold]{patient.code}[/]: "
                f"{url}/signin?code={patient.code}"
            )
        console.print(
            f"Two patients are training now, each wearing a virtual Polar H10: watch them at {url}/live."
            + ("" if duration else " Stop with Ctrl-C.")
        )
        stopper = (
            asyncio.get_running_loop().call_later(duration, setattr, server, "should_exit", True) if duration else None
        )
        try:
            await server.serve(sockets=[listening])
        finally:
            if stopper:
                stopper.cancel()
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)

    with listening:
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
        raise fail(f"no recordings folder at {recordings}")
    written = build_bundled_captures(recordings) if out is None else build_bundled_captures(recordings, out)
    for path, count in written.items():
        console.print(f"{path}: {count} notifications")
