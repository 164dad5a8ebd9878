"""Looking after the data: expiring raw signals, erasing a patient."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from monitor.cli.common import app, cli_actor, console, fail
from monitor.settings import Settings
from monitor.store import SignalStoreUnavailable, Store
from monitor.store.lifecycle import apply_retention, delete_patient


@app.command()
def retention(
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="delete raw signals older than this; default: DOSIS_RETENTION_DAYS"),
    ] = None,
) -> None:
    """Delete raw signals older than the retention period; summaries, loads and reports are kept."""
    settings = Settings()
    retention_days = days if days is not None else settings.retention_days
    if retention_days is None:
        raise fail("give --days or set DOSIS_RETENTION_DAYS")
    store = Store.from_settings(settings)
    try:
        report = apply_retention(store, retention_days=retention_days, now=datetime.now(UTC), actor=cli_actor())
    except SignalStoreUnavailable as error:
        raise fail(f"the signal database failed; run again later: {error}") from error
    finally:
        store.close()
    console.print(
        f"Deleted raw signals recorded before {report.cutoff:%Y-%m-%d %H:%M} UTC ({retention_days} days): "
        f"{report.removed} {report.removed_unit}; sessions newly marked: {len(report.session_ids)}."
    )


@app.command("delete-patient")
def delete_patient_command(
    pseudonym: Annotated[str, typer.Argument(help="the patient's pseudonym")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm: the deletion cannot be undone")] = False,
) -> None:
    """Erase a patient: every session with its signals, reports and prescriptions. Recorded in the audit log."""
    if not yes:
        raise fail(f"this deletes patient {pseudonym} and all their data for good; add --yes to confirm")
    store = Store.from_settings(Settings())
    try:
        report = delete_patient(store, pseudonym, actor=cli_actor())
    except (LookupError, SignalStoreUnavailable) as error:
        raise fail(str(error)) from error
    finally:
        store.close()
    console.print(f"Deleted patient [bold]{pseudonym}[/]: {report.detail()}.")
