"""A session, or all of one patient's data, as CSV and Parquet files with a manifest that explains them.

For clinical records, and for a patient's rights of access and to data portability (GDPR
art. 15 and 20). The files hold exactly what is stored: Parquet keeps the stored types
(int16 counts, float32 intervals, int64 ns times), and CSV writes each number as the
shortest decimal that reads back as the same float64. Signals are read through the signal
store (SQL or InfluxDB alike), one signal of one session at a time, so a long history needs
no more memory than its longest session.

The files are written into a hidden folder beside ``out_dir``, readable by its owner only,
and renamed into place once complete, in the transaction that adds the export to the audit
log: a failed export leaves neither files nor an audit row behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, select

from monitor.export.tables import CHANNELS, PATIENT_TABLES, SESSION_TABLES, TYPES, Rows, TableSpec, signal_table
from monitor.store import SIGNALS, Patient, Store, TrainingSession
from monitor.store.audit import record_audit

__all__ = [
    "CHANNELS",
    "FORMATS",
    "MANIFEST_VERSION",
    "ExportError",
    "ExportSummary",
    "ExportedFile",
    "Format",
    "export_patient",
    "export_session",
]

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")
MANIFEST_VERSION = 1


class ExportError(ValueError):
    """An export that cannot be made as asked; nothing was written."""


@dataclass(frozen=True, slots=True)
class ExportedFile:
    path: str
    """Relative to the export folder, with ``/`` between folders."""
    table: str
    rows: int


@dataclass(frozen=True, slots=True)
class ExportSummary:
    out_dir: Path
    patient_pseudonym: str
    session_ids: tuple[int, ...]
    files: tuple[ExportedFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


@dataclass(frozen=True, slots=True)
class _Scope:
    """What an export covers: one session, or a patient and all their sessions."""

    description: str
    patient: Patient
    sessions: ColumnElement[bool]
    """Which training sessions, as a condition on :class:`TrainingSession`."""
    tables: tuple[tuple[TableSpec, Rows], ...]


def export_session(
    store: Store,
    session_id: int,
    out_dir: str | Path,
    *,
    formats: Collection[Format],
    actor: str,
) -> ExportSummary:
    """One session: its summary, events, the patient's report on it, and its signals.

    ``actor`` is who exports, for the audit log (``cli:<os user>``, ``clinician:<id>``).
    """
    with store.session() as db:
        session = db.get(TrainingSession, session_id)
        if session is None:
            raise ExportError(f"no session {session_id}")
        scope = _Scope(f"session {session_id}", session.patient, TrainingSession.id == session_id, SESSION_TABLES)
    return _export(store, scope, Path(out_dir).resolve(), formats=formats, actor=actor)


def export_patient(
    store: Store,
    pseudonym: str,
    out_dir: str | Path,
    *,
    formats: Collection[Format],
    actor: str,
) -> ExportSummary:
    """Everything stored about a patient: profile, prescriptions, decisions, reports, and every session."""
    with store.session() as db:
        patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
        if patient is None:
            raise ExportError(f"no patient {pseudonym!r}")
        scope = _Scope("patient record", patient, TrainingSession.patient_id == patient.id, PATIENT_TABLES)
    return _export(store, scope, Path(out_dir).resolve(), formats=formats, actor=actor)


def _export(store: Store, scope: _Scope, out_dir: Path, *, formats: Collection[Format], actor: str) -> ExportSummary:
    chosen = tuple(f for f in FORMATS if f in formats)
    if not chosen or len(chosen) != len(set(formats)):
        given = ", ".join(map(str, formats)) or "none"
        raise ExportError(f"formats must be some of {', '.join(FORMATS)}, not {given}")
    _check_out_dir(out_dir)
    exported_at = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        session_ids, files, tables = _write_files(store, scope, work, chosen)
        manifest = _manifest(store, scope, session_ids, files, tables, chosen, exported_at)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
        detail = (
            f"{scope.description} with {len(session_ids)} sessions as {'+'.join(chosen)}: "
            f"{len(files) + 1} files, {sum(f.rows for f in files)} rows"
        )
        with store.session() as db:
            record_audit(db, actor=actor, action="export", patient_pseudonym=scope.patient.pseudonym, detail=detail)
            db.flush()
            _put_in_place(work, out_dir)
            try:
                db.commit()
            except BaseException:
                shutil.rmtree(out_dir, ignore_errors=True)
                raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportSummary(out_dir, scope.patient.pseudonym, tuple(session_ids), tuple(files))


def _write_files(
    store: Store, scope: _Scope, work: Path, formats: Sequence[Format]
) -> tuple[list[int], list[ExportedFile], list[TableSpec]]:
    """The scope's tables, then its sessions' signals; the sessions, the files written, and their tables."""
    with store.session() as db:
        query = select(TrainingSession.id).where(scope.sessions)
        session_ids = list(db.scalars(query.order_by(TrainingSession.started_at, TrainingSession.id)))
        files = [
            file
            for spec, rows in scope.tables
            for file in _write(
                work, spec, spec.name, formats, [_arrow_table(spec, rows(db, scope.patient, scope.sessions))]
            )
        ]
    signal_tables = {signal: signal_table(signal) for signal in SIGNALS}
    exported: set[str] = set()
    # Session by session, one signal at a time: memory holds at most one signal of one session.
    for session_id in session_ids:
        for signal, spec in signal_tables.items():
            stem = f"signals/session-{session_id}_{signal}"
            written = _write(work, spec, stem, formats, _signal_parts(store, session_id, signal, spec))
            if written:
                files += written
                exported.add(signal)
    return session_ids, files, [spec for spec, _ in scope.tables] + [signal_tables[s] for s in SIGNALS if s in exported]


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.is_dir():
        if any(out_dir.iterdir()):
            raise ExportError(f"{out_dir} exists and is not empty; export into a new or empty folder")
    elif out_dir.exists():
        raise ExportError(f"{out_dir} exists and is not a folder")
    elif not out_dir.parent.is_dir():
        raise ExportError(f"there is no folder {out_dir.parent} to export into")


def _put_in_place(work: Path, out_dir: Path) -> None:
    if out_dir.is_dir():
        out_dir.rmdir()  # empty, as checked; if something was put there since, this fails and keeps it
    work.rename(out_dir)


def _arrow_table(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=spec.schema())


def _signal_parts(store: Store, session_id: int, signal: str, spec: TableSpec) -> Iterator[pa.Table]:
    """The session's samples of ``signal`` as ``spec`` has them, one device after another, each in time order."""
    channels = [c for c in spec.columns if c.name in SIGNALS[signal].columns]
    for device in _recorded_devices(store, session_id, signal):
        samples = store.signals.read(session_id, signal, device=device)
        if len(samples) == 0:
            continue
        times = pa.array(samples.t_ns, pa.int64())
        columns = [times, times.cast(spec.schema().field("time_utc").type)]
        for index, channel in enumerate(channels):
            values = samples.values[:, index]
            # A channel missing from a point (InfluxDB can have that) is a null, not a NaN count.
            missing = np.isnan(values) if pa.types.is_integer(channel.arrow_type) else None
            # Checked: a value that is not whole raises rather than go into an int column.
            columns.append(pa.array(values, channel.arrow_type, mask=missing))
        columns.append(pa.array([device] * len(samples), pa.string()))
        yield pa.Table.from_arrays(columns, schema=spec.schema())


def _recorded_devices(store: Store, session_id: int, signal: str) -> list[str]:
    """The devices that recorded ``signal`` in the session, as every signal store can list them."""
    return store.signals.devices(session_id, signal)


def _write(
    work: Path, spec: TableSpec, stem: str, formats: Sequence[Format], parts: Iterable[pa.Table]
) -> list[ExportedFile]:
    """The parts as one file per format; no files when there are no parts."""
    paths = {f: work / f"{stem}.{f}" for f in formats}
    writers: list[Any] = []
    rows = 0
    try:
        for part in parts:
            if not writers:
                paths[formats[0]].parent.mkdir(exist_ok=True)
                writers = [_writer(f, path, spec.schema()) for f, path in paths.items()]
            for writer in writers:
                writer.write_table(_for_csv(part) if isinstance(writer, pa_csv.CSVWriter) else part)
            rows += part.num_rows
    finally:
        for writer in writers:
            writer.close()
    return (
        [ExportedFile(path.relative_to(work).as_posix(), spec.name, rows) for path in paths.values()] if writers else []
    )


def _writer(format: Format, path: Path, schema: pa.Schema) -> Any:
    if format == "csv":
        return pa_csv.CSVWriter(str(path), _for_csv(schema.empty_table()).schema)
    return pq.ParquetWriter(str(path), schema)


def _for_csv(table: pa.Table) -> pa.Table:
    """Times as ISO 8601 text, and float32 as the float64 it equals, so that its decimal reads back exactly."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # Arrow writes "2026-11-02 09:00:00.000000001Z"; ISO 8601 puts a T between date and time.
            column = pc.replace_substring(column.cast(pa.string()), pattern=" ", replacement="T", max_replacements=1)
        elif pa.types.is_float32(column.type):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _manifest(
    store: Store,
    scope: _Scope,
    session_ids: list[int],
    files: list[ExportedFile],
    tables: Sequence[TableSpec],
    formats: Sequence[Format],
    exported_at: datetime,
) -> dict[str, Any]:
    return {
        "format": "dosis-export",
        "manifest_version": MANIFEST_VERSION,
        "dosis_version": version("dosis"),
        "exported_at": exported_at.isoformat().replace("+00:00", "Z"),
        "contents": scope.description,
        "patient_pseudonym": scope.patient.pseudonym,
        "session_ids": session_ids,
        "formats": list(formats),
        "times": (
            "Moments are in UTC. The t_ns columns hold times as stored: Unix time in nanoseconds "
            "(leap seconds not counted); time_utc gives each again as ISO 8601. Other moments "
            "(started_at, reported_at, ...) are stored to the microsecond. Dates (day, valid_from, "
            f"week_start) are days in the clinic's timezone, {store.tz}."
        ),
        "types": TYPES,
        "tables": {
            spec.name: {
                "meaning": spec.meaning,
                "columns": [
                    {"name": c.name, "type": c.type, "unit": c.unit, "meaning": c.meaning} for c in spec.columns
                ],
            }
            for spec in tables
        },
        "files": [{"path": f.path, "table": f.table, "rows": f.rows} for f in files],
    }
