"""Exporting a session, or all of a patient's data, as CSV and Parquet files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from monitor.cli.common import app, cli_actor, console, fail
from monitor.export import ExportError, ExportSummary, Format, export_patient, export_session
from monitor.settings import Settings
from monitor.store import SignalStoreUnavailable, Store


class FormatChoice(StrEnum):
    csv = "csv"
    parquet = "parquet"
    both = "both"


FORMATS_CHOSEN: dict[FormatChoice, tuple[Format, ...]] = {
    FormatChoice.csv: ("csv",),
    FormatChoice.parquet: ("parquet",),
    FormatChoice.both: ("csv", "parquet"),
}


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="a new or empty folder to write the files into")],
    session: Annotated[int | None, typer.Option("--session", help="export this session")] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", help="export all data of this patient (pseudonym)")
    ] = None,
    file_format: Annotated[FormatChoice, typer.Option("--format", help="file format")] = FormatChoice.both,
) -> None:
    """Export a session, or all of a patient's data, with a manifest of what each file holds.

    For clinical records and a patient's right of access (GDPR art. 15 and 20). Each export
    is recorded in the audit log.
    """
    if session is not None and patient is not None:
        raise fail("give --session or --patient, not both")
    formats = FORMATS_CHOSEN[file_format]
    store = Store.from_settings(Settings())
    try:
        if session is not None:
            summary = export_session(store, session, out, formats=formats, actor=cli_actor())
        elif patient is not None:
            summary = export_patient(store, patient, out, formats=formats, actor=cli_actor())
        else:
            raise fail("give --session ID or --patient PSEUDONYM")
    except ExportError as error:
        raise fail(f"{error}; nothing was exported") from error
    except SignalStoreUnavailable as error:
        raise fail(f"the signal database cannot be reached ({error}); nothing was exported") from error
    finally:
        store.close()
    print_summary(summary, what=f"session {session}" if session is not None else "all data")


def print_summary(summary: ExportSummary, *, what: str) -> None:
    table = Table(title=f"Exported {what} of {summary.patient_pseudonym} to {summary.out_dir}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for file in summary.files:
        table.add_row(file.path, str(file.rows))
    table.add_row("manifest.json", "")
    console.print(table)
    console.print(f"{len(summary.files) + 1} files, {summary.rows} rows, {len(summary.session_ids)} sessions")
    console.print("The export is recorded in the audit log.")
