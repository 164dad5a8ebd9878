"""Hubs: registering them on the server, and a hub's side of streaming sessions to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from monitor.cli.common import app, console, errors, fail
from monitor.ingest.hubs import list_hubs, register_hub, revoke_hub
from monitor.ingest.spool import Spool, SpoolUnwritable
from monitor.ingest.uploader import HubRefused, Uploader
from monitor.settings import Settings
from monitor.store import Store

T = TypeVar("T")

hub_app = typer.Typer(help="Hubs that stream sessions to this server; this hub's spool.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")

ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="stream to this Dosis server (default DOSIS_SERVER_URL); token: DOSIS_HUB_TOKEN"),
]
DrainOption = Annotated[
    float, typer.Option("--drain-timeout", min=0, help="seconds to wait at the end for the spool to reach the server")
]


@hub_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="where the hub stands, e.g. gym-north; never a patient's name")],
) -> None:
    """Register a hub on this server and print its token (shown once only)."""
    store = Store.from_settings(Settings())
    try:
        token = register_hub(store, name)
    except ValueError as error:
        raise fail(str(error)) from error
    finally:
        store.close()
    console.print(f"Hub [bold]{name}[/] registered. Its token, shown this once; set it on the hub as DOSIS_HUB_TOKEN:")
    console.print(token, soft_wrap=True, highlight=False)


@hub_app.command("list")
def list_command() -> None:
    """The hubs registered on this server."""
    store = Store.from_settings(Settings())
    try:
        hubs = list_hubs(store)
    finally:
        store.close()
    table = Table(title=f"Hubs ({len(hubs)})")
    for column in ("name", "registered", "last seen", "state"):
        table.add_column(column)
    for hub in hubs:
        table.add_row(
            hub.name, _when(hub.created_at), _when(hub.last_seen_at), "revoked" if hub.revoked_at else "active"
        )
    console.print(table)


@hub_app.command("revoke")
def revoke(name: str) -> None:
    """Stop accepting a hub's token (a lost or replaced hub)."""
    store = Store.from_settings(Settings())
    try:
        revoke_hub(store, name)
    except KeyError as error:
        raise fail(str(error.args[0])) from error
    finally:
        store.close()
    console.print(f"Hub {name}'s token is revoked.")


@hub_app.command("status")
def status() -> None:
    """What this hub's spool holds: messages not yet sent, sessions, messages the server refused."""
    spool = Spool(Settings().data_dir / "spool")
    sessions, pending, rejected = spool.sessions(), spool.pending_count(), spool.rejected()
    spool.close()
    console.print(f"{pending} messages waiting to be sent, of {len(sessions)} sessions; {len(rejected)} refused.")
    for session, code, reason in rejected:
        errors.print(f"[yellow]refused[/] session {session}: HTTP {code}: {reason}")


@hub_app.command("sync")
def sync(server: ServerOption = None, timeout: DrainOption = 60.0) -> None:
    """Send what this hub's spool holds to the server."""
    settings = Settings()

    async def run() -> None:
        async with streaming(settings, server, drain_timeout_s=timeout):
            pass

    asyncio.run(run())
    spool = Spool(settings.data_dir / "spool")
    left = spool.pending_count()
    spool.close()
    if left:
        raise typer.Exit(code=1)  # for a script: the spool is not empty yet


@contextlib.asynccontextmanager
async def streaming(
    settings: Settings, server: str | None, *, patient: str | None = None, drain_timeout_s: float
) -> AsyncIterator[Spool]:
    """The spool, sent to the server meanwhile and for up to ``drain_timeout_s`` after.

    Sessions that a killed recording left open are ended first. With ``patient``, a server
    that can be asked and does not know the patient stops the command before it records.
    """
    url = server or settings.server_url
    if not url:
        raise fail("no server: give --server URL or set DOSIS_SERVER_URL")
    if settings.hub_token is None:
        raise fail("no hub token: register this hub on the server (dosis hub add NAME) and set DOSIS_HUB_TOKEN")
    try:
        spool = Spool(settings.data_dir / "spool")
    except SpoolUnwritable as error:
        raise fail(str(error)) from error
    uploader = Uploader(spool, url, settings.hub_token.get_secret_value())
    try:
        for uid in spool.close_abandoned():
            errors.print(f"[yellow]Session {uid} was left open by a recording that stopped; ended as interrupted.[/]")
        if patient is not None:
            known = await _asked(uploader.patient_known(patient))
            if known is False:
                raise fail(f"the server at {url} has no patient {patient!r}; register the patient there first")
            if known is None:
                errors.print(f"[yellow]The server at {url} cannot be reached now; recording into the spool.[/]")
        stop = asyncio.Event()
        sending = asyncio.create_task(uploader.run(stop))
        try:
            yield spool
        finally:
            stop.set()
            await _asked(sending)
            # A recording waits for its own sessions only; another recording on this hub may go on.
            mine = spool.started_here or None
            drained = await _asked(uploader.drain(timeout_s=drain_timeout_s, sessions=mine))
            left = spool.pending_count(mine)
            if drained and not left:
                console.print(f"Everything {'this recording ' if mine else ''}spooled has reached {url}.")
            else:
                errors.print(
                    f"[yellow]{left} messages are still in the spool ({spool.folder}); "
                    "`dosis hub sync` or the next recording sends them.[/]"
                )
    except SpoolUnwritable as error:
        raise fail(str(error)) from error
    finally:
        await uploader.aclose()
        spool.close()


async def _asked(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except HubRefused as error:
        raise fail(f"the server refused this hub's token: {error}") from error


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"
